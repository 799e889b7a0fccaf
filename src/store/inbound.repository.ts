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
    for (const m of batch.messages) {
      const digest = sha256(m.raw);
      // The same bytes already stored from this mailbox: a UIDVALIDITY reset re-reads the folder,
      // and some servers deliver twice; either way it is the same email.
      const same =
        (await this.db.selectFrom('mailbox_uidls').select('uidl').where('mailbox_id', '=', mailboxId).where('uidl', '=', m.key).executeTakeFirst()) ??
        (await this.db
          .selectFrom('messages')
          .select('id')
          .where('mailbox_id', '=', mailboxId)
          .where((eb) => eb.or([eb('source_key', '=', m.key), eb('raw_sha256', '=', digest)]))
          .limit(1)
          .executeTakeFirst());
      if (same) {
        result.duplicates.push(m.key);
        continue;
      }
      const row = await this.db
        .insertInto('messages')
        .values({
          mailbox_id: mailboxId,
          direction: 'inbound',
          source_key: m.key,
          raw: m.raw,
          raw_sha256: digest,
          size: m.raw.length,
          to_addrs: '[]',
          cc_addrs: '[]',
          ingest_state: 'received',
          ...(m.internalDate ? { received_at: m.internalDate } : {}),
        })
        .onConflict((oc) => oc.columns(['mailbox_id', 'source_key']).where('source_key', 'is not', null).doNothing())
        .returning('id')
        .executeTakeFirst();
      if (row) result.inserted.push({ id: row.id, key: m.key });
      else result.duplicates.push(m.key);
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

  async markAcked(mailboxId: number, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.updateTable('messages').set({ source_acked_at: sql`now()` }).where('mailbox_id', '=', mailboxId).where('source_key', 'in', keys).execute();
  }

  /** Keys committed but not yet acknowledged to the source (a crash between the two). */
  async unackedKeys(mailboxId: number, limit = 1000): Promise<string[]> {
    const rows = await this.db
      .selectFrom('messages')
      .select('source_key')
      .where('mailbox_id', '=', mailboxId)
      .where('source_key', 'is not', null)
      .where('source_acked_at', 'is', null)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => r.source_key!);
  }

  async touchSync(mailboxId: number): Promise<void> {
    await this.db.updateTable('mailboxes').set({ last_sync_at: sql`now()` }).where('id', '=', mailboxId).execute();
  }

  /** Messages whose raw bytes are stored but which are not parsed and routed yet, oldest first. */
  async pending(limit: number): Promise<{ id: number; mailbox_id: number | null }[]> {
    return this.db.selectFrom('messages').select(['id', 'mailbox_id']).where('ingest_state', '=', 'received').orderBy('id').limit(limit).execute();
  }

  async raw(id: number): Promise<Buffer | undefined> {
    const row = await this.db.selectFrom('messages').select('raw').where('id', '=', id).executeTakeFirst();
    return row ? Buffer.from(row.raw) : undefined;
  }
}
