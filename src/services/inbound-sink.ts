/**
 * Where mailbox runners put what they read: each batch and its new position commit in one
 * transaction (exactly once), then the ingest pipeline is told there is work, with the bytes
 * it just stored (so it need not read them back).
 */
import type { SourceBatch, SyncPosition } from '../domain/mail-sync.js';
import type { CommitResult } from '../store/inbound.repository.js';
import type { Store } from '../store/store.js';
import type { InboundSink } from './mailbox-runner.js';

export class StoreInboundSink implements InboundSink {
  constructor(
    private readonly store: Store,
    /** Called after each commit that stored something new, with the new rows' ids and bytes. */
    private readonly onStored: (stored: { id: number; raw: Uint8Array }[]) => void,
  ) {}

  position(mailboxId: number): Promise<SyncPosition> {
    return this.store.repos.inbound.position(mailboxId);
  }

  async commit(mailboxId: number, batch: SourceBatch): Promise<CommitResult> {
    const result = await this.store.transaction((r) => r.inbound.commitBatch(mailboxId, batch));
    if (result.inserted.length > 0) {
      const raw = new Map(batch.messages.map((m) => [m.key, m.raw]));
      this.onStored(result.inserted.map((m) => ({ id: m.id, raw: raw.get(m.key)! })));
    }
    return result;
  }

  markAcked(mailboxId: number, keys: string[]): Promise<void> {
    return this.store.repos.inbound.markAcked(mailboxId, keys);
  }

  unackedKeys(mailboxId: number): Promise<string[]> {
    return this.store.repos.inbound.unackedKeys(mailboxId);
  }

  known(mailboxId: number, keys: string[]): Promise<Set<string>> {
    return this.store.repos.inbound.known(mailboxId, keys);
  }

  touch(mailboxId: number): Promise<void> {
    return this.store.repos.inbound.touchSync(mailboxId);
  }
}
