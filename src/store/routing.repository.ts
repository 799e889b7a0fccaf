/** Offers and the decision audit: what the router decided, stored so it survives and explains itself. */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, OffersTable } from './schema.js';

export type OfferRow = Selectable<OffersTable>;

export class RoutingRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async createOffers(conversationId: number, agentIds: number[], expiresAt: Date): Promise<OfferRow[]> {
    if (agentIds.length === 0) return [];
    return this.db
      .insertInto('offers')
      .values(agentIds.map((user_id) => ({ conversation_id: conversationId, user_id, expires_at: expiresAt })))
      .returningAll()
      .execute();
  }

  offer(id: number): Promise<OfferRow | undefined> {
    return this.db.selectFrom('offers').selectAll().where('id', '=', id).executeTakeFirst();
  }

  pendingOffers(): Promise<OfferRow[]> {
    return this.db.selectFrom('offers').selectAll().where('state', '=', 'pending').orderBy('id').execute();
  }

  pendingFor(userId: number): Promise<OfferRow[]> {
    return this.db.selectFrom('offers').selectAll().where('state', '=', 'pending').where('user_id', '=', userId).orderBy('id').execute();
  }

  /** Closes the pending offer of (conversation, agent) with an outcome; returns it, if there was one. */
  async closeOffer(conversationId: number, userId: number, state: 'accepted' | 'declined' | 'expired' | 'cancelled'): Promise<OfferRow | undefined> {
    return this.db
      .updateTable('offers')
      .set({ state, decided_at: sql`now()` })
      .where('conversation_id', '=', conversationId)
      .where('user_id', '=', userId)
      .where('state', '=', 'pending')
      .returningAll()
      .executeTakeFirst();
  }

  async countPending(conversationId: number): Promise<number> {
    const r = await this.db.selectFrom('offers').select(sql<number>`count(*)::int`.as('n')).where('conversation_id', '=', conversationId).where('state', '=', 'pending').executeTakeFirstOrThrow();
    return r.n;
  }

  /** Agents who declined or let an offer expire since the conversation last started waiting. */
  async excluded(conversationId: number, since: Date): Promise<number[]> {
    const rows = await this.db
      .selectFrom('offers')
      .select('user_id')
      .distinct()
      .where('conversation_id', '=', conversationId)
      .where('state', 'in', ['declined', 'expired'])
      .where('created_at', '>=', since)
      .execute();
    return rows.map((r) => r.user_id);
  }

  async addDecision(d: { conversationId: number; step: string; outcome: string; agentId: number | null; detail: unknown }): Promise<void> {
    await this.db
      .insertInto('routing_decisions')
      .values({ conversation_id: d.conversationId, step: d.step, outcome: d.outcome, agent_id: d.agentId, detail: JSON.stringify(d.detail ?? {}) })
      .execute();
  }

  decisions(conversationId: number) {
    return this.db
      .selectFrom('routing_decisions')
      .leftJoin('users', 'users.id', 'routing_decisions.agent_id')
      .select(['routing_decisions.at', 'routing_decisions.step', 'routing_decisions.outcome', 'routing_decisions.detail', 'users.login as agent'])
      .where('conversation_id', '=', conversationId)
      .orderBy('routing_decisions.id')
      .execute();
  }

  async setMissedOffers(userId: number, missed: number): Promise<void> {
    await this.db.updateTable('users').set({ missed_offers: missed }).where('id', '=', userId).execute();
  }
}
