/** The outbox: outbound messages with their delivery state (queued → sending → sent | failed). */
import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.js';

export interface OutboxItem {
  id: number;
  conversation_id: number | null;
  raw: Buffer;
  from_address: string | null;
  to_addrs: unknown;
  cc_addrs: unknown;
  delivery_attempts: number;
  sender_id: number | null;
  /** The conversation's assignee (who hears about the delivery), if any. */
  assignee_id: number | null;
}

export class OutboxRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Claims up to `limit` due messages for sending (queued, due now), marking them
   * `sending/connecting`; SKIP LOCKED lets several nodes share the outbox.
   */
  async claimDue(limit: number): Promise<OutboxItem[]> {
    const due = await this.db
      .selectFrom('messages')
      .select('id')
      .where('delivery_state', '=', 'queued')
      .where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', sql<Date>`now()`)]))
      .orderBy('id')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    if (due.length === 0) return [];
    const rows = await this.db
      .updateTable('messages')
      .set({ delivery_state: 'sending', delivery_phase: 'connecting', delivery_attempts: sql`delivery_attempts + 1`, next_attempt_at: sql`now()` })
      .where('id', 'in', due.map((d) => d.id))
      .returning(['id', 'conversation_id', 'raw', 'from_address', 'to_addrs', 'cc_addrs', 'delivery_attempts'])
      .execute();
    const convs = await this.conversationInfo(rows.map((r) => r.conversation_id).filter((x): x is number => x !== null));
    return rows.map((r) => {
      const c = r.conversation_id === null ? undefined : convs.get(r.conversation_id);
      return { ...r, raw: Buffer.from(r.raw), sender_id: c?.sid ?? null, assignee_id: c?.assignee ?? null };
    });
  }

  /** The sender of each conversation's current queue, and its assignee. */
  private async conversationInfo(conversationIds: number[]): Promise<Map<number, { sid: number; assignee: number | null }>> {
    if (conversationIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('conversations')
      .innerJoin('queues', 'queues.id', 'conversations.queue_id')
      .select(['conversations.id as cid', 'queues.sender_id as sid', 'conversations.assignee_id as assignee'])
      .where('conversations.id', 'in', conversationIds)
      .execute();
    return new Map(rows.map((r) => [r.cid, { sid: r.sid, assignee: r.assignee }]));
  }

  /** Past this point the server may accept the message: a crash now must not send it again. */
  async markFinal(id: number): Promise<void> {
    await this.db.updateTable('messages').set({ delivery_phase: 'final' }).where('id', '=', id).where('delivery_state', '=', 'sending').execute();
  }

  async markSent(id: number, response: string): Promise<void> {
    await this.db
      .updateTable('messages')
      // Merged, not replaced: an auto-acknowledgement keeps its mark (the loop guard counts those).
      .set({
        delivery_state: 'sent',
        delivery_phase: null,
        sent_at: sql`now()`,
        delivery_error: null,
        classification: sql`coalesce(classification, '{}'::jsonb) || ${JSON.stringify({ smtpResponse: response })}::jsonb`,
      })
      .where('id', '=', id)
      .execute();
  }

  async markFailed(id: number, reason: string): Promise<void> {
    await this.db.updateTable('messages').set({ delivery_state: 'failed', delivery_phase: null, delivery_error: reason }).where('id', '=', id).execute();
  }

  async requeue(id: number, reason: string, at: Date): Promise<void> {
    await this.db.updateTable('messages').set({ delivery_state: 'queued', delivery_phase: null, delivery_error: reason, next_attempt_at: at }).where('id', '=', id).execute();
  }

  /**
   * After a crash (or a node that died): `sending` that never reached the final phase certainly
   * did not deliver (the server discards a transaction without its final "."), so it is queued
   * again; `final` may have delivered, so it is marked failed with that reason, never resent.
   * `staleSeconds` leaves alone what another live node is sending right now.
   */
  async recover(staleSeconds: number): Promise<{ requeued: number; uncertain: number }> {
    const stale = sql<boolean>`next_attempt_at < now() - make_interval(secs => ${staleSeconds})`;
    const requeued = await this.db
      .updateTable('messages')
      .set({ delivery_state: 'queued', delivery_phase: null })
      .where('delivery_state', '=', 'sending')
      .where((eb) => eb.or([eb('delivery_phase', 'is', null), eb('delivery_phase', '=', 'connecting')]))
      .where(stale)
      .executeTakeFirst();
    const uncertain = await this.db
      .updateTable('messages')
      .set({
        delivery_state: 'failed',
        delivery_phase: null,
        delivery_error:
          'DELIVERY_UNCERTAIN: Mailroom stopped while the server was accepting this message, so it may or may not have been delivered. It is not sent again automatically: check with the customer, then resend if needed.',
      })
      .where('delivery_state', '=', 'sending')
      .where('delivery_phase', '=', 'final')
      .where(stale)
      .executeTakeFirst();
    return { requeued: Number(requeued.numUpdatedRows), uncertain: Number(uncertain.numUpdatedRows) };
  }

  /** When the next queued message falls due (for the outbox timer). */
  async nextDue(): Promise<Date | null> {
    const r = await this.db.selectFrom('messages').select(sql<Date | null>`min(next_attempt_at)`.as('at')).where('delivery_state', '=', 'queued').executeTakeFirst();
    return r?.at ?? null;
  }
}
