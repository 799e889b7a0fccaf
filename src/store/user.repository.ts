/** Users with their roles, skills and languages; agent state and its history. */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { AgentState, LevelMap, Role } from '../domain/types.js';
import type { DB, UsersTable } from './schema.js';

export type UserRow = Selectable<UsersTable>;

export interface UserRecord extends UserRow {
  roles: Role[];
  skills: LevelMap;
  languages: LevelMap;
}

export interface NewUser {
  login: string;
  name: string;
  email: string | null;
  passwordHash: string | null;
  passwordFp: string | null;
  capacity: number;
  managedByConfig: boolean;
}

export class UserRepository {
  constructor(private readonly db: Kysely<DB>) {}

  private async withDetails(rows: UserRow[]): Promise<UserRecord[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [roles, skills, langs] = await Promise.all([
      this.db.selectFrom('user_roles').selectAll().where('user_id', 'in', ids).execute(),
      this.db.selectFrom('user_skills').selectAll().where('user_id', 'in', ids).execute(),
      this.db.selectFrom('user_languages').selectAll().where('user_id', 'in', ids).execute(),
    ]);
    return rows.map((r) => ({
      ...r,
      roles: roles.filter((x) => x.user_id === r.id).map((x) => x.role).sort(),
      skills: Object.fromEntries(skills.filter((x) => x.user_id === r.id).map((x) => [x.skill, x.level])),
      languages: Object.fromEntries(langs.filter((x) => x.user_id === r.id).map((x) => [x.language, x.proficiency])),
    }));
  }

  async findById(id: number): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
    return row ? (await this.withDetails([row]))[0] : undefined;
  }

  async findByLogin(login: string): Promise<UserRecord | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where(sql<string>`lower(login)`, '=', login.toLowerCase())
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row ? (await this.withDetails([row]))[0] : undefined;
  }

  async listAll(): Promise<UserRecord[]> {
    const rows = await this.db.selectFrom('users').selectAll().where('deleted_at', 'is', null).orderBy('id').execute();
    return this.withDetails(rows);
  }

  /** Users, one page ordered by id. */
  async listPage(afterId: number, limit: number): Promise<UserRecord[]> {
    const rows = await this.db
      .selectFrom('users')
      .selectAll()
      .where('deleted_at', 'is', null)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
    return this.withDetails(rows);
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom('users').select(sql<number>`count(*)::int`.as('n')).where('deleted_at', 'is', null).executeTakeFirstOrThrow();
    return r.n;
  }

  async countWithRole(role: Role): Promise<number> {
    const r = await this.db
      .selectFrom('users')
      .innerJoin('user_roles', 'user_roles.user_id', 'users.id')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('users.deleted_at', 'is', null)
      .where('user_roles.role', '=', role)
      .executeTakeFirstOrThrow();
    return r.n;
  }

  async insert(u: NewUser): Promise<number> {
    const row = await this.db
      .insertInto('users')
      .values({
        login: u.login,
        name: u.name,
        email: u.email,
        password_hash: u.passwordHash,
        password_fp: u.passwordFp,
        capacity: u.capacity,
        managed_by_config: u.managedByConfig,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async update(id: number, fields: Partial<Pick<UserRow, 'name' | 'email' | 'password_hash' | 'password_fp' | 'capacity' | 'managed_by_config'>>): Promise<void> {
    await this.db.updateTable('users').set({ ...fields, updated_at: sql`now()` }).where('id', '=', id).execute();
  }

  async softDelete(id: number): Promise<void> {
    await this.db.updateTable('users').set({ deleted_at: sql`now()`, state: 'offline' }).where('id', '=', id).execute();
    await this.db.deleteFrom('sessions').where('user_id', '=', id).execute();
    await this.db.updateTable('api_tokens').set({ revoked_at: sql`now()` }).where('user_id', '=', id).where('revoked_at', 'is', null).execute();
  }

  async setRoles(id: number, roles: readonly Role[]): Promise<void> {
    await this.db.deleteFrom('user_roles').where('user_id', '=', id).execute();
    if (roles.length) await this.db.insertInto('user_roles').values(roles.map((role) => ({ user_id: id, role }))).execute();
  }

  async setSkills(id: number, skills: LevelMap): Promise<void> {
    await this.db.deleteFrom('user_skills').where('user_id', '=', id).execute();
    const rows = Object.entries(skills).map(([skill, level]) => ({ user_id: id, skill, level }));
    if (rows.length) await this.db.insertInto('user_skills').values(rows).execute();
  }

  async setLanguages(id: number, languages: LevelMap): Promise<void> {
    await this.db.deleteFrom('user_languages').where('user_id', '=', id).execute();
    const rows = Object.entries(languages).map(([language, proficiency]) => ({ user_id: id, language, proficiency }));
    if (rows.length) await this.db.insertInto('user_languages').values(rows).execute();
  }

  /**
   * Changes an agent's state and closes/opens its history row in the same statement batch.
   * Returns the new state's start, or undefined when nothing changed.
   */
  async setState(id: number, state: AgentState, reason: string | null, actor: string): Promise<Date | undefined> {
    const current = await this.db.selectFrom('users').select(['state', 'state_reason']).where('id', '=', id).forUpdate().executeTakeFirst();
    if (!current || (current.state === state && (current.state_reason ?? null) === reason)) return undefined;
    const row = await this.db
      .updateTable('users')
      .set({
        state,
        state_reason: reason,
        state_since: sql`now()`,
        // Idle time counts from becoming available; it is what longest-idle routing orders by.
        idle_since: state === 'available' ? sql`now()` : null,
        missed_offers: state === 'available' ? 0 : sql<number>`missed_offers`,
      })
      .where('id', '=', id)
      .returning('state_since')
      .executeTakeFirstOrThrow();
    await this.db.updateTable('agent_state_history').set({ ended_at: row.state_since }).where('user_id', '=', id).where('ended_at', 'is', null).execute();
    await this.db.insertInto('agent_state_history').values({ user_id: id, state, reason, started_at: row.state_since, actor }).execute();
    return row.state_since;
  }

  async stateHistory(id: number, limit = 100) {
    return this.db.selectFrom('agent_state_history').selectAll().where('user_id', '=', id).orderBy('id', 'desc').limit(limit).execute();
  }
}
