/** Browser sessions and API tokens, stored by the hash of their secret only. */
import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.js';

export class AuthRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async createSession(s: { idHash: string; userId: number; csrfToken: string; expiresAt: Date }): Promise<void> {
    await this.db.insertInto('sessions').values({ id_hash: s.idHash, user_id: s.userId, csrf_token: s.csrfToken, expires_at: s.expiresAt }).execute();
  }

  async findSession(idHash: string) {
    return this.db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).where('expires_at', '>', sql<Date>`now()`).executeTakeFirst();
  }

  /** Slides the session's expiry forward (at most once a minute per session). */
  async touchSession(idHash: string, expiresAt: Date): Promise<void> {
    await this.db
      .updateTable('sessions')
      .set({ last_seen_at: sql`now()`, expires_at: expiresAt })
      .where('id_hash', '=', idHash)
      .where('last_seen_at', '<', sql<Date>`now() - interval '1 minute'`)
      .execute();
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
  }

  async countSessions(userId: number): Promise<number> {
    const r = await this.db
      .selectFrom('sessions')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('user_id', '=', userId)
      .where('expires_at', '>', sql<Date>`now()`)
      .executeTakeFirstOrThrow();
    return r.n;
  }

  async deleteExpiredSessions(): Promise<number> {
    const r = await this.db.deleteFrom('sessions').where('expires_at', '<=', sql<Date>`now()`).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async createToken(t: { userId: number; name: string; tokenHash: string }): Promise<{ id: number; created_at: Date }> {
    return this.db.insertInto('api_tokens').values({ user_id: t.userId, name: t.name, token_hash: t.tokenHash }).returning(['id', 'created_at']).executeTakeFirstOrThrow();
  }

  async findToken(tokenHash: string) {
    return this.db.selectFrom('api_tokens').selectAll().where('token_hash', '=', tokenHash).where('revoked_at', 'is', null).executeTakeFirst();
  }

  async markTokenUsed(id: number): Promise<void> {
    await this.db
      .updateTable('api_tokens')
      .set({ last_used_at: sql`now()` })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`now() - interval '1 minute'`)]))
      .execute();
  }

  async listTokens(userId: number) {
    return this.db
      .selectFrom('api_tokens')
      .select(['id', 'name', 'created_at', 'last_used_at'])
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .orderBy('id')
      .execute();
  }

  async revokeToken(userId: number, id: number): Promise<boolean> {
    const r = await this.db
      .updateTable('api_tokens')
      .set({ revoked_at: sql`now()` })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
}
