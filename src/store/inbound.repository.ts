/**
 * Inbound mail as it arrives from a source: raw bytes and the source position committed together
 * (exactly once), acknowledgement bookkeeping, and the queue of messages still to be parsed.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { SourceBatch, SyncPosition } from '../domain/mail-sync.js';
import type { DB } from './schema.js';

export interface CommitResult {
  /** Newly stored messages. */
  inserted: { id: number; key: string }[];
  /** Keys already stored (same source key, or the same bytes in this mailbox). */
  duplicates: string[];
}

/** One INSERT of raw mail carries at most this many bytes or rows (the protocol message stays small). */
const INSERT_BYTES = 8 * 1024 * 1024;
const INSERT_ROWS = 200;

export const sha256 = (raw: Uint8Array): string => createHash('sha256').update(raw).digest('hex');

export class InboundRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async position(mailboxId: number): Promise<SyncPosition> {
    const row = await this.db.selectFrom('mailbox_sync').selectAll().where('mailbox_id', '=', mailboxId).executeTakeFirst();
    return { uidvalidity: row?.uidvalidity ?? null, lastUid: row?.last_uid ?? 0, highestModseq: row?.highest_modseq ?? null, cursor: row?.cursor ?? null };
  }

  /**
   * Stores a batch and the position after it. Call inside a transaction: the raw bytes and the
   * new position commit together, before the source is told anything (DESIGN.md).
   */
  async commitBatch(mailboxId: number, batch: SourceBatch): Promise<CommitResult> {
    const result: CommitResult = { inserted: [], duplicates: [] };
    const messages = batch.messages.map((m) => ({ ...m, digest: sha256(m.raw) }));
    // The same key or the same bytes already stored from this mailbox, or earlier in this batch:
    // a UIDVALIDITY reset re-reads the folder, and some servers deliver twice; either way it is
    // the same email. Two queries for the batch, not two per message: the keys (every stored
    // message's key is in mailbox_uidls, written in the same transaction) and the digests.
    const seenKeys = await this.known(mailboxId, messages.map((m) => m.key));
    const seenDigests = new Set<string>();
    for (let i = 0; i < messages.length; i += 1000) {
      const rows = await this.db
        .selectFrom('messages')
        .select('raw_sha256')
        .where('mailbox_id', '=', mailboxId)
        .where('raw_sha256', 'in', messages.slice(i, i + 1000).map((m) => m.digest))
        .execute();
      for (const r of rows) seenDigests.add(r.raw_sha256);
    }
    const fresh: typeof messages = [];
    for (const m of messages) {
      if (seenKeys.has(m.key) || seenDigests.has(m.digest)) {
        result.duplicates.push(m.key);
        continue;
      }
      seenKeys.add(m.key);
      seenDigests.add(m.digest);
      fresh.push(m);
    }
    // Multi-row inserts (ids in arrival order), each statement at most INSERT_BYTES of raw mail.
    for (let i = 0; i < fresh.length; ) {
      let bytes = 0;
      let j = i;
      while (j < fresh.length && (j === i || bytes + fresh[j]!.raw.length <= INSERT_BYTES) && j - i < INSERT_ROWS) bytes += fresh[j++]!.raw.length;
      const part = fresh.slice(i, j);
      i = j;
      const rows = await this.db
        .insertInto('messages')
        .values(
          part.map((m) => ({
            mailbox_id: mailboxId,
            direction: 'inbound' as const,
            source_key: m.key,
            raw: m.raw,
            raw_sha256: m.digest,
            size: m.raw.length,
            to_addrs: '[]',
            cc_addrs: '[]',
            ingest_state: 'received' as const,
            received_at: m.internalDate ?? sql<Date>`now()`,
          })),
        )
        .onConflict((oc) => oc.columns(['mailbox_id', 'source_key']).where('source_key', 'is not', null).doNothing())
        .returning(['id', 'source_key'])
        .execute();
      const ids = new Map(rows.map((r) => [r.source_key!, r.id]));
      for (const m of part) {
        const id = ids.get(m.key);
        if (id === undefined) result.duplicates.push(m.key);
        else result.inserted.push({ id, key: m.key });
      }
    }
    const keys = batch.messages.map((m) => m.key);
    if (keys.length > 0) {
      await this.db
        .insertInto('mailbox_uidls')
        .values(keys.map((uidl) => ({ mailbox_id: mailboxId, uidl })))
        .onConflict((oc) => oc.columns(['mailbox_id', 'uidl']).doNothing())
        .execute();
    }
    const p = batch.position;
    await this.db
      .insertInto('mailbox_sync')
      .values({ mailbox_id: mailboxId, uidvalidity: p.uidvalidity, last_uid: p.lastUid, highest_modseq: p.highestModseq, cursor: p.cursor })
      .onConflict((oc) =>
        oc.column('mailbox_id').doUpdateSet({ uidvalidity: p.uidvalidity, last_uid: p.lastUid, highest_modseq: p.highestModseq, cursor: p.cursor, updated_at: sql`now()` }),
      )
      .execute();
    await this.db
      .updateTable('mailboxes')
      .set({ imported_count: sql`imported_count + ${result.inserted.length}`, last_sync_at: sql`now()` })
      .where('id', '=', mailboxId)
      .execute();
    return result;
  }

  /** Which of `keys` this mailbox imported already. */
  async known(mailboxId: number, keys: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < keys.length; i += 1000) {
      const rows = await this.db.selectFrom('mailbox_uidls').select('uidl').where('mailbox_id', '=', mailboxId).where('uidl', 'in', keys.slice(i, i + 1000)).execute();
      for (const r of rows) out.add(r.uidl);
    }
    return out;
  }

  /** Records that `after_import` was applied to these keys on the server. */
  async markAcked(mailboxId: number, keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      await this.db
        .updateTable('mailbox_uidls')
        .set({ acked_at: sql`now()` })
        .where('mailbox_id', '=', mailboxId)
        .where('uidl', 'in', keys.slice(i, i + 1000))
        .where('acked_at', 'is', null)
        .execute();
    }
  }

  /**
   * Keys committed but not yet acknowledged to the source (a crash between the two, or a server
   * that refused), oldest first: stored messages, keys skipped as duplicates of stored bytes,
   * and keys whose message retention has purged since.
   */
  async unackedKeys(mailboxId: number, limit = 1000): Promise<string[]> {
    const rows = await this.db
      .selectFrom('mailbox_uidls')
      .select('uidl')
      .where('mailbox_id', '=', mailboxId)
      .where('acked_at', 'is', null)
      .orderBy('imported_at')
      .orderBy('uidl')
      .limit(limit)
      .execute();
    return rows.map((r) => r.uidl);
  }

  async touchSync(mailboxId: number): Promise<void> {
    await this.db.updateTable('mailboxes').set({ last_sync_at: sql`now()` }).where('id', '=', mailboxId).execute();
  }

  /** Messages whose raw bytes are stored but which are not parsed and filed yet, oldest first, without their bytes. */
  pending(limit: number) {
    return this.db
      .selectFrom('messages')
      .select(['id', 'mailbox_id', 'size', 'received_at', 'classification'])
      .where('ingest_state', '=', 'received')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /**
   * A stored message about to be parsed, with what an interrupted earlier parse of it stored
   * (attachments) removed in the same statement: only while it is still `received`, never the
   * attachments of a message already filed.
   */
  async forParsing(id: number) {
    return this.db
      .with('cleared', (db) =>
        db
          .deleteFrom('attachments')
          .where('message_id', 'in', (eb) => eb.selectFrom('messages').select('id').where('id', '=', id).where('ingest_state', '=', 'received'))
          .returning('id'),
      )
      .selectFrom('messages')
      .select(['id', 'mailbox_id', 'raw', 'received_at', 'ingest_state', 'classification'])
      .where('id', '=', id)
      .executeTakeFirst();
  }

  async raw(id: number): Promise<Buffer | undefined> {
    const row = await this.db.selectFrom('messages').select('raw').where('id', '=', id).executeTakeFirst();
    return row ? Buffer.from(row.raw) : undefined;
  }
}
