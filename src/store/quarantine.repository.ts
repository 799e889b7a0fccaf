/** Messages kept but not routed: unparseable, too large, or made by a machine (API.md "quarantine"). */
import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.js';

export interface QuarantineRow {
  id: number;
  mailbox: string | null;
  from_address: string | null;
  subject: string;
  quarantine_reason: string;
  received_at: Date;
  size: number;
}

export class QuarantineRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** Newest first; `beforeId` pages backwards. */
  async list(beforeId: number | null, limit: number): Promise<QuarantineRow[]> {
    let q = this.db
      .selectFrom('messages')
      .leftJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
      .select(['messages.id', 'mailboxes.name as mailbox', 'messages.from_address', 'messages.subject', 'messages.quarantine_reason', 'messages.received_at', 'messages.size'])
      .where('messages.ingest_state', '=', 'quarantined')
      .orderBy('messages.id', 'desc')
      .limit(limit);
    if (beforeId !== null) q = q.where('messages.id', '<', beforeId);
    return (await q.execute()) as QuarantineRow[];
  }

  get(id: number) {
    return this.db.selectFrom('messages').select(['id', 'ingest_state', 'quarantine_reason', 'subject', 'from_address']).where('id', '=', id).where('ingest_state', '=', 'quarantined').executeTakeFirst();
  }

  /** Puts it back into the pipeline, marked to be routed whatever its classification. */
  async release(id: number, by: string): Promise<boolean> {
    const r = await this.db
      .updateTable('messages')
      .set({ ingest_state: 'received', quarantine_reason: null, classification: JSON.stringify({ release: { by, at: new Date().toISOString() } }) })
      .where('id', '=', id)
      .where('ingest_state', '=', 'quarantined')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async delete(id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('messages').where('id', '=', id).where('ingest_state', '=', 'quarantined').executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom('messages').select(sql<number>`count(*)::int`.as('n')).where('ingest_state', '=', 'quarantined').executeTakeFirstOrThrow();
    return r.n;
  }
}
