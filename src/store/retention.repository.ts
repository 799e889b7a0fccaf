/**
 * Purging handled conversations past their queue's retention: everything that belongs to them
 * goes (messages, attachments, events, offers, routing decisions). The set of imported source
 * keys (mailbox_uidls) stays, so mail left on a server is never imported again.
 */
import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.js';

export class RetentionRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async countDue(queueId: number, before: Date): Promise<number> {
    const r = await this.db
      .selectFrom('conversations')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('queue_id', '=', queueId)
      .where('state', '=', 'handled')
      .where('handled_at', '<', before)
      .executeTakeFirstOrThrow();
    return r.n;
  }

  async due(queueId: number, before: Date, limit: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('conversations')
      .select('id')
      .where('queue_id', '=', queueId)
      .where('state', '=', 'handled')
      .where('handled_at', '<', before)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /** Deletes these conversations and all that hangs off them (call in a transaction). */
  async purge(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.deleteFrom('messages').where('conversation_id', 'in', ids).execute();
    await this.db.deleteFrom('offers').where('conversation_id', 'in', ids).execute();
    await this.db.deleteFrom('routing_decisions').where('conversation_id', 'in', ids).execute();
    await this.db.deleteFrom('conversation_events').where('conversation_id', 'in', ids).execute();
    await this.db.deleteFrom('conversations').where('id', 'in', ids).execute();
  }
}
