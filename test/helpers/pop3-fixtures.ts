/**
 * Fixtures of the POP3 medium tests: a seeded generator (a failing random run can be replayed
 * from its printed seed), messages with the lines dot-stuffing exists for, and an in-memory
 * sink that stands in for the store and the mailbox runner (commit, then acknowledge).
 */
import { createHash } from 'node:crypto';
import { EMPTY_POSITION, type MailSource, type SourceBatch } from '../../src/connectors/mail-source.js';
import type { AppError } from '../../src/domain/errors.js';

export const sha = (raw: Buffer) => createHash('sha256').update(raw).digest('hex');

export { rng } from './random.js';

/** A unique message of about `size` bytes, CRLF lines, with the lines dot-stuffing exists for. */
export function message(tag: string, i: number, size: number, rand: () => number): Buffer {
  const lines = [`Message-ID: <${tag}-${i}@mailroom.test>`, `Subject: ${tag} ${i}`, 'Content-Type: text/plain; charset=iso-8859-1', ''];
  let total = 0;
  const kinds = ['.', '..', '.leading dot', '', 'caf\xe9 cr\xe8me', 'line of text that is plain enough', 'x'.repeat(200)];
  while (total < size) {
    const line = kinds[Math.floor(rand() * kinds.length)]! + (rand() < 0.3 ? ` ${i}-${total}` : '');
    lines.push(line);
    total += line.length + 2;
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1');
}

/** Stands in for the store and the mailbox runner: commit (sha by key), then acknowledge. */
export class MemorySink {
  readonly stored = new Map<string, string>();
  readonly unacked = new Set<string>();
  duplicates = 0;
  batches: number[] = [];
  /** Runs before each commit; throwing emulates a failed database transaction. */
  beforeCommit: ((batch: SourceBatch) => void | Promise<void>) | undefined;

  readonly known = async (keys: string[]) => new Set(keys.filter((k) => this.stored.has(k)));

  /** One runner cycle on a fresh source: connect, acknowledge what was left, read; then close. */
  async poll(source: MailSource): Promise<AppError | undefined> {
    try {
      await source.connect({ onChange: () => undefined, onClose: () => undefined });
      if (this.unacked.size > 0) {
        const keys = [...this.unacked];
        await source.acknowledge(keys);
        for (const k of keys) this.unacked.delete(k);
      }
      await source.read(EMPTY_POSITION, (batch) => this.commit(source, batch), this.known);
      return undefined;
    } catch (err) {
      return err as AppError;
    } finally {
      await source.close();
    }
  }

  private async commit(source: MailSource, batch: SourceBatch): Promise<void> {
    await this.beforeCommit?.(batch);
    this.batches.push(batch.messages.length);
    const keys = batch.messages.map((m) => m.key);
    for (const m of batch.messages) {
      if (this.stored.has(m.key)) this.duplicates++;
      this.stored.set(m.key, sha(m.raw));
      this.unacked.add(m.key);
    }
    await source.acknowledge(keys);
    for (const k of keys) this.unacked.delete(k);
  }
}

/** Waits for a condition checked every 50 ms (a generous deadline, not a timing assertion). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
