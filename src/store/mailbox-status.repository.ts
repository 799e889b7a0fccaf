/** A mailbox's or sender's live status and its connection log (GET /mailboxes/:id/events). */
import { sql, type Kysely } from 'kysely';
import type { MailboxState } from '../domain/types.js';
import type { DB } from './schema.js';

export interface StatusError {
  code: string;
  message: string;
  hint: string;
}

export class MailboxStatusRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** Sets the state; `status_since` moves only when the state changes. Returns the row after. */
  /** Warnings are replaced when given (a new connection) and kept otherwise (an error keeps the last ones). */
  async setStatus(mailboxId: number, state: MailboxState, error: StatusError | null, warnings?: string[]) {
    return this.db
      .updateTable('mailboxes')
      .set({
        status_state: state,
        status_error: error === null ? null : JSON.stringify(error),
        ...(warnings ? { status_warnings: JSON.stringify(warnings) } : {}),
        status_since: sql`case when status_state = ${state} then status_since else now() end`,
      })
      .where('id', '=', mailboxId)
      .returning(['id', 'name', 'status_state', 'status_since', 'status_error', 'status_warnings', 'last_sync_at', 'imported_count', 'enabled'])
      .executeTakeFirst();
  }

  async addEvent(e: { mailboxId?: number; senderId?: number; kind: string; message: string; detail?: unknown }): Promise<void> {
    await this.db
      .insertInto('mailbox_events')
      .values({ mailbox_id: e.mailboxId ?? null, sender_id: e.senderId ?? null, kind: e.kind, message: e.message, detail: e.detail === undefined ? null : JSON.stringify(e.detail) })
      .execute();
  }

  /** Newest first; `beforeId` pages backwards. */
  listEvents(filter: { mailboxId?: number; senderId?: number }, beforeId: number | null, limit: number) {
    let q = this.db.selectFrom('mailbox_events').selectAll().orderBy('id', 'desc').limit(limit);
    if (filter.mailboxId !== undefined) q = q.where('mailbox_id', '=', filter.mailboxId);
    if (filter.senderId !== undefined) q = q.where('sender_id', '=', filter.senderId);
    if (beforeId !== null) q = q.where('id', '<', beforeId);
    return q.execute();
  }

  /** Keeps the connection log bounded: the newest `keep` entries per mailbox. */
  async trimEvents(mailboxId: number, keep: number): Promise<void> {
    await sql`delete from mailbox_events where mailbox_id = ${mailboxId} and id < (select min(id) from (select id from mailbox_events where mailbox_id = ${mailboxId} order by id desc limit ${keep}) t)`.execute(this.db);
  }
}
