/** Users and agents: the first admin, adding users, agent state with its history, the agent list. */
import { generatePassword, hashPassword } from '../auth/password.js';
import type { SecretBox } from '../auth/secret-box.js';
import { DEFAULT_PAUSE_REASONS, loginSchema } from '../config/schema.js';
import { AppError, conflict, invalid, notFound } from '../domain/errors.js';
import type { EventBus } from '../domain/events.js';
import type { Actor, AgentState, Role } from '../domain/types.js';
import type { Store } from '../store/store.js';
import type { UserRecord } from '../store/user.repository.js';
import { passwordPurpose } from './config-sections.js';
import { pauseOverdue } from './pause-watch.service.js';

export interface BootstrapResult {
  created: boolean;
  login: string;
  /** Only when generated: printed once at first start, never stored in clear. */
  generatedPassword?: string;
}

export interface AgentView {
  login: string;
  name: string;
  state: AgentState;
  reason: string | null;
  load: number;
  capacity: number;
  since: string;
  /** Extension of API.md: the pause reason's max_minutes, and whether the pause has run past it. */
  pauseMaxMinutes: number | null;
  pauseOverdue: boolean;
}

export class UsersService {
  constructor(private readonly deps: { store: Store; secrets: SecretBox; bus: EventBus }) {}

  /**
   * First start: creates the admin (from MAILROOM_ADMIN_LOGIN/PASSWORD, else a generated
   * password) and the default pause reasons. Idempotent under concurrent starts (advisory lock).
   */
  async bootstrap(login: string, password: string | undefined): Promise<BootstrapResult> {
    return this.deps.store.transaction(async (r) => {
      await r.config.lockForApply();
      if ((await r.config.listPauseReasons()).length === 0) {
        for (const [position, p] of DEFAULT_PAUSE_REASONS.entries()) {
          await r.config.upsertPauseReason({ code: p.code, label: p.label, productive: p.productive, max_minutes: p.max_minutes ?? null, position });
        }
      }
      if ((await r.users.count()) > 0) return { created: false, login };
      const generated = password === undefined ? generatePassword() : undefined;
      const pw = password ?? generated!;
      const id = await r.users.insert({
        login,
        name: login,
        email: null,
        passwordHash: await hashPassword(pw),
        passwordFp: this.deps.secrets.fingerprint(passwordPurpose(login), pw),
        capacity: 3,
        managedByConfig: false,
      });
      await r.users.setRoles(id, ['admin']);
      await r.audit.write({ kind: 'system', userId: null, login: 'system' }, [{ action: 'user.bootstrap', entityType: 'users', entityKey: login, after: { login, roles: ['admin'] } }]);
      return { created: true, login, ...(generated ? { generatedPassword: generated } : {}) };
    });
  }

  /** `mailroom user add` / `POST /users`. Returns the password when it was generated. */
  async addUser(actor: Actor, input: { login: string; roles: Role[]; name?: string; email?: string; password?: string }): Promise<{ user: UserRecord; generatedPassword?: string }> {
    const login = loginSchema.safeParse(input.login);
    if (!login.success) throw invalid(`"${input.login}" is not a valid login`, 'Use letters, digits, ".", "_", "@" or "-".');
    if (input.roles.length === 0) throw invalid('A user needs at least one role', 'Give --role agent, supervisor or admin.');
    if (input.password !== undefined && input.password.length < 8) throw invalid('The password is too short', 'Use at least 8 characters.');
    const generated = input.password === undefined ? generatePassword() : undefined;
    const password = input.password ?? generated!;
    const hash = await hashPassword(password);
    const user = await this.deps.store.transaction(async (r) => {
      if (await r.users.findByLogin(input.login)) throw conflict(`A user "${input.login}" already exists`, 'Pick another login, or change that user in the config file.');
      const id = await r.users.insert({
        login: input.login,
        name: input.name ?? input.login,
        email: input.email ?? null,
        passwordHash: hash,
        passwordFp: this.deps.secrets.fingerprint(passwordPurpose(input.login), password),
        capacity: 3,
        managedByConfig: false,
      });
      await r.users.setRoles(id, [...new Set(input.roles)]);
      await r.audit.write(actor, [{ action: 'user.create', entityType: 'users', entityKey: input.login, after: { login: input.login, roles: input.roles } }]);
      return (await r.users.findById(id))!;
    });
    return { user, ...(generated ? { generatedPassword: generated } : {}) };
  }

  async get(id: number): Promise<UserRecord> {
    const user = await this.deps.store.repos.users.findById(id);
    if (!user) throw notFound('The user');
    return user;
  }

  pauseReasons() {
    return this.deps.store.repos.config.listPauseReasons();
  }

  listAll(): Promise<UserRecord[]> {
    return this.deps.store.repos.users.listAll();
  }

  async findByLogin(login: string): Promise<UserRecord> {
    const user = await this.deps.store.repos.users.findByLogin(login);
    if (!user) throw notFound(`The user "${login}"`);
    return user;
  }

  /**
   * Sets an agent's state (API.md `PUT /me/state`). A pause names one of the configured pause
   * reasons; the change is stored in the history with its time and actor, then published.
   */
  async setState(userId: number, state: AgentState, reason: string | null, actor: Actor): Promise<UserRecord> {
    if (state !== 'paused' && reason) throw invalid('Only a pause has a reason', 'Send the reason only with state: paused.');
    if (state === 'paused' && reason) {
      const reasons = await this.deps.store.repos.config.listPauseReasons();
      if (!reasons.some((r) => r.code === reason)) {
        throw new AppError('UNKNOWN_PAUSE_REASON', `"${reason}" is not a pause reason`, {
          status: 400,
          hint: `Use one of: ${reasons.map((r) => r.code).join(', ')} (an admin configures them under pause_reasons:).`,
        });
      }
    }
    const changedAt = await this.deps.store.transaction((r) => r.users.setState(userId, state, state === 'paused' ? reason : null, actor.login));
    const user = await this.get(userId);
    if (changedAt) {
      this.deps.bus.publish(
        'agent.state',
        { id: user.id, login: user.login, state: user.state, reason: user.state_reason, since: user.state_since.toISOString(), by: actor.login },
        { kind: 'some', userIds: [user.id], roles: ['supervisor'] },
      );
    }
    return user;
  }

  /**
   * Agents for the supervisor view, offline ones too. Every role includes the agent's (API.md
   * "Roles"), so every user can take conversations once available: all users are listed.
   */
  async listAgents(afterId: number, limit: number): Promise<{ items: (AgentView & { id: number })[]; more: boolean }> {
    const rows = await this.deps.store.repos.users.listPage(afterId, limit + 1);
    const page = rows.slice(0, limit);
    const loads = await this.loads(page.map((u) => u.id));
    const limits = new Map((await this.deps.store.repos.config.listPauseReasons()).filter((r) => r.max_minutes).map((r) => [r.code, r.max_minutes!]));
    return {
      items: page.map((u) => {
        const pause = pauseOverdue(u.state, u.state_reason, u.state_since, limits);
        return {
          id: u.id,
          login: u.login,
          name: u.name,
          state: u.state,
          reason: u.state_reason,
          load: loads.get(u.id) ?? 0,
          capacity: u.capacity,
          since: u.state_since.toISOString(),
          pauseMaxMinutes: pause.maxMinutes,
          pauseOverdue: pause.overdue,
        };
      }),
      more: rows.length > limit,
    };
  }

  /** Conversations assigned to each agent (what counts against capacity). */
  private async loads(ids: number[]): Promise<Map<number, number>> {
    if (ids.length === 0) return new Map();
    const rows = await this.deps.store.db
      .selectFrom('conversations')
      .select(['assignee_id'])
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('assignee_id', 'in', ids)
      .where('state', '=', 'assigned')
      .groupBy('assignee_id')
      .execute();
    return new Map(rows.map((r) => [r.assignee_id!, Number(r.n)]));
  }
}
