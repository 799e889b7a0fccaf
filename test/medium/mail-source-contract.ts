/**
 * The behaviour every MailSource shares (CONVENTIONS.md: "Each connector implementation runs the
 * shared contract suite"), written once against the interface of src/connectors/mail-source.ts
 * and run by mail-source-contract.test.ts against each implementation on a real peer. A harness
 * gives the suite fresh mailboxes, a way to put messages into them and to see what the server
 * considers acknowledged; the suite stands in for the mailbox runner (commit, then acknowledge).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EMPTY_POSITION, type KnownKeys, type MailSource, type SourceBatch, type SyncPosition } from '../../src/connectors/mail-source.js';
import { AppError } from '../../src/domain/errors.js';
import { eventually, rawMail, sha } from '../helpers/mail.js';

/** One empty mailbox of the peer, for one test. */
export interface ContractMailbox {
  /** A new, unconnected source for this mailbox (its `after_import` acknowledges: seen, delete…). */
  source(): MailSource;
  /** Puts messages into the mailbox, in this order (the server's order is this order). */
  put(raws: Buffer[]): Promise<void>;
  /** Keys of the messages the server does not consider acknowledged (unseen, not deleted…). */
  unacknowledged(): Promise<Set<string>>;
}

export interface ContractHarness {
  /** A fresh, empty mailbox of its own. */
  mailbox(): Promise<ContractMailbox>;
  /** A source whose password is wrong. */
  wrongPassword(): MailSource;
  /** A source pointed at a port where nothing listens. */
  nothingListening(): MailSource;
  /** The wrong password `wrongPassword()` uses (it must not show in error messages). */
  readonly badPassword: string;
}

const quiet = { onChange: () => undefined, onClose: () => undefined };
const noneKnown: KnownKeys = async () => new Set();

/** What a read handed over, batch by batch. */
interface Reading {
  batches: SourceBatch[];
  keys: string[];
  shas: string[];
  position: SyncPosition;
}

async function readAll(source: MailSource, position: SyncPosition, known: KnownKeys, onBatch?: (batch: SourceBatch) => Promise<void>): Promise<Reading> {
  const out: Reading = { batches: [], keys: [], shas: [], position };
  await source.read(
    position,
    async (batch) => {
      out.batches.push(batch);
      for (const m of batch.messages) {
        out.keys.push(m.key);
        out.shas.push(sha(m.raw));
      }
      out.position = batch.position;
      await onBatch?.(batch);
    },
    known,
  );
  return out;
}

const mails = (n: number, tag: string) => Array.from({ length: n }, (_, i) => rawMail({ subject: `${tag} ${i}`, body: `${tag} body ${i} ${randomBytes(6).toString('hex')}` }));

/** Defines the contract tests; `harness` is called inside the tests (after beforeAll started the peers). */
export function defineMailSourceContract(name: string, harness: () => ContractHarness): void {
  describe(`MailSource contract: ${name}`, () => {
    const withSource = async <T>(source: MailSource, fn: (s: MailSource) => Promise<T>): Promise<T> => {
      try {
        await source.connect(quiet);
        return await fn(source);
      } finally {
        await source.close();
      }
    };

    it('reads everything after an empty position, oldest first, in bounded batches', async () => {
      const mb = await harness().mailbox();
      const sent = mails(230, 'order');
      await mb.put(sent);
      const r = await withSource(mb.source(), (s) => readAll(s, EMPTY_POSITION, noneKnown));
      expect(r.shas).toEqual(sent.map(sha));
      expect(new Set(r.keys).size).toBe(sent.length);
      // 230 messages of a few hundred bytes: more than one batch, none above the bound of 100.
      expect(r.batches.length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...r.batches.map((b) => b.messages.length))).toBeLessThanOrEqual(100);
      expect(r.batches.every((b) => b.reset === false)).toBe(true);
    });

    it('an empty mailbox hands over no message', async () => {
      const mb = await harness().mailbox();
      const r = await withSource(mb.source(), (s) => readAll(s, EMPTY_POSITION, noneKnown));
      expect(r.keys).toEqual([]);
    });

    it('does not hand over again what `known` reports as committed', async () => {
      const mb = await harness().mailbox();
      const sent = mails(6, 'known');
      await mb.put(sent);
      const first = await withSource(mb.source(), (s) => readAll(s, EMPTY_POSITION, noneKnown));
      const committed = new Set([first.keys[0]!, first.keys[2]!, first.keys[5]!]);
      const asked: string[] = [];
      const known: KnownKeys = async (keys) => {
        asked.push(...keys);
        return new Set(keys.filter((k) => committed.has(k)));
      };
      // From the empty position again (as after a lost position): only the other three come.
      const again = await withSource(mb.source(), (s) => readAll(s, EMPTY_POSITION, known));
      expect(again.keys).toEqual([first.keys[1], first.keys[3], first.keys[4]]);
      expect(again.shas).toEqual([sha(sent[1]!), sha(sent[3]!), sha(sent[4]!)]);
      expect(asked).toEqual(expect.arrayContaining([...committed]));
    });

    it('after a commit a second read hands over nothing; a new message then comes alone', async () => {
      const mb = await harness().mailbox();
      await mb.put(mails(4, 'second'));
      const committed = new Set<string>();
      const known: KnownKeys = async (keys) => new Set(keys.filter((k) => committed.has(k)));
      const commit = async (batch: SourceBatch) => void batch.messages.forEach((m) => committed.add(m.key));
      const first = await withSource(mb.source(), (s) => readAll(s, EMPTY_POSITION, known, commit));
      expect(first.keys).toHaveLength(4);
      // The same connection and a new one alike: nothing new.
      const fresh = mb.source();
      await withSource(fresh, async (s) => {
        const again = await readAll(s, first.position, known, commit);
        expect(again.keys).toEqual([]);
        const late = rawMail({ subject: 'Late arrival' });
        await mb.put([late]);
        const third = await readAll(s, again.position, known, commit);
        expect(third.shas).toEqual([sha(late)]);
        expect(first.keys).not.toContain(third.keys[0]);
      });
    });

    it('acknowledges only the keys it is passed, and only after the caller committed them', async () => {
      const mb = await harness().mailbox();
      await mb.put(mails(5, 'ack'));
      let keys: string[] = [];
      await withSource(mb.source(), async (s) => {
        await readAll(s, EMPTY_POSITION, noneKnown, async (batch) => {
          keys = batch.messages.map((m) => m.key);
          // Nothing was acknowledged by reading.
          expect(await mb.unacknowledged()).toEqual(new Set(keys));
          await s.acknowledge([keys[0]!, keys[3]!]);
        });
        await s.acknowledge([]);
      });
      expect(keys).toHaveLength(5);
      await eventually(async () => {
        const left = await mb.unacknowledged();
        return left.size === 3 ? left : null;
      }, 10_000, 'two acknowledged');
      expect(await mb.unacknowledged()).toEqual(new Set([keys[1], keys[2], keys[4]]));
    });

    it('reports new mail when it can push; watch() returns either way', async () => {
      const mb = await harness().mailbox();
      const source = mb.source();
      let changes = 0;
      try {
        await source.connect({ onChange: () => changes++, onClose: () => undefined });
        await readAll(source, EMPTY_POSITION, noneKnown);
        await source.watch();
        await mb.put([rawMail({ subject: 'Pushed' })]);
        if (source.capabilities.push) {
          await eventually(async () => changes > 0, 15_000, 'onChange after new mail');
        } else {
          // A polling source: the next read finds it.
          const r = await readAll(source, EMPTY_POSITION, noneKnown);
          expect(r.keys).toHaveLength(1);
        }
      } finally {
        await source.close();
      }
    });

    it('close() is idempotent, before and after connecting', async () => {
      const mb = await harness().mailbox();
      const unused = mb.source();
      await unused.close();
      await unused.close();
      const used = mb.source();
      await used.connect(quiet);
      await used.close();
      await used.close();
    });

    it('fails with AppErrors with stable codes: AUTH_FAILED for a wrong password, TCP_REFUSED where nothing listens', async () => {
      const h = harness();
      const wrong = h.wrongPassword();
      const err = await wrong.connect(quiet).then(() => null, (e: unknown) => e);
      await wrong.close();
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: 'AUTH_FAILED', hint: expect.any(String) });
      expect(JSON.stringify({ m: (err as AppError).message, h: (err as AppError).hint })).not.toContain(h.badPassword);
      const nobody = h.nothingListening();
      const refused = await nobody.connect(quiet).then(() => null, (e: unknown) => e);
      await nobody.close();
      expect(refused).toBeInstanceOf(AppError);
      expect(refused).toMatchObject({ code: 'TCP_REFUSED', hint: expect.any(String) });
    });

    it("passes the caller's own error on as it is, not relabelled as the protocol's", async () => {
      const mb = await harness().mailbox();
      await mb.put(mails(2, 'caller'));
      const ours = new Error('database unavailable');
      const err = await withSource(mb.source(), (s) => readAll(s, EMPTY_POSITION, noneKnown, async () => Promise.reject(ours))).then(() => null, (e: unknown) => e);
      expect(err).toBe(ours);
      // Nothing was acknowledged: the batch was never committed.
      expect((await mb.unacknowledged()).size).toBe(2);
    });
  });
}
