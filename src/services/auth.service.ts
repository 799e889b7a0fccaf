/**
 * Sign-in and credentials: password login with rate limiting, browser sessions (cookie + CSRF
 * token), API tokens, and the local CLI credential of a running server.
 */
import { LoginLimiter } from '../auth/login-limiter.js';
import { verifyPassword } from '../auth/password.js';
import type { Principal } from '../auth/policy.js';
import { API_TOKEN_PREFIX, hashSecret, newSecret, safeEqual } from '../auth/tokens.js';
import { AppError } from '../domain/errors.js';
import type { Actor } from '../domain/types.js';
import type { Store } from '../store/store.js';
import type { UserRecord } from '../store/user.repository.js';
import type { UsersService } from './users.service.js';

export const SESSION_TTL_MS = 12 * 3600_000;

export interface SessionCredentials {
  sessionId: string;
  csrfToken: string;
  user: UserRecord;
  expiresAt: Date;
}

export interface Authenticated {
  principal: Principal;
  user: UserRecord | null;
  /** For cookie sessions: the token state-changing requests must echo in X-CSRF-Token. */
  csrfToken?: string;
}

const loginFailed = () =>
  new AppError('LOGIN_FAILED', 'The login or the password is wrong', {
    status: 401,
    hint: 'Check both and try again; an administrator can reset the password.',
  });

export class AuthService {
  private readonly localTokenHash: string | null;

  constructor(
    private readonly deps: { store: Store; users: UsersService; limiter?: LoginLimiter },
    /** A secret the server shares with the CLI on its machine through the 0600 lock file. */
    localToken: string | null = null,
  ) {
    this.localTokenHash = localToken ? hashSecret(localToken) : null;
  }

  private get limiter(): LoginLimiter {
    return (this.deps.limiter ??= new LoginLimiter());
  }

  /** Password sign-in. The same error for an unknown login and a wrong password. */
  async login(login: string, password: string, address: string): Promise<SessionCredentials> {
    this.limiter.check(address, login);
    const user = await this.deps.store.repos.users.findByLogin(login);
    const ok = await verifyPassword(user?.password_hash, password);
    if (!user || !ok) {
      this.limiter.fail(address, login);
      throw loginFailed();
    }
    this.limiter.succeed(address, login);
    const sessionId = newSecret();
    const csrfToken = newSecret();
    const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
    await this.deps.store.repos.auth.createSession({ idHash: hashSecret(sessionId), userId: user.id, csrfToken, expiresAt });
    return { sessionId, csrfToken, user, expiresAt };
  }

  /**
   * Ends a session. API.md: the agent's state holds until changed or the user logs out, so a
   * logout sets the agent offline (signing off on one device signs the agent off).
   */
  async logout(sessionId: string, actor: Actor): Promise<void> {
    const idHash = hashSecret(sessionId);
    const session = await this.deps.store.repos.auth.findSession(idHash);
    await this.deps.store.repos.auth.deleteSession(idHash);
    if (session) await this.deps.users.setState(session.user_id, 'offline', null, actor);
  }

  async fromSession(sessionId: string): Promise<Authenticated | null> {
    const idHash = hashSecret(sessionId);
    const session = await this.deps.store.repos.auth.findSession(idHash);
    if (!session) return null;
    const user = await this.deps.store.repos.users.findById(session.user_id);
    if (!user) return null;
    await this.deps.store.repos.auth.touchSession(idHash, new Date(Date.now() + SESSION_TTL_MS));
    return { principal: { userId: user.id, login: user.login, roles: user.roles, via: 'session' }, user, csrfToken: session.csrf_token };
  }

  async fromBearer(token: string): Promise<Authenticated | null> {
    if (this.localTokenHash && safeEqual(hashSecret(token), this.localTokenHash)) {
      return { principal: { userId: null, login: 'cli', roles: ['admin'], via: 'local' }, user: null };
    }
    if (!token.startsWith(API_TOKEN_PREFIX)) return null;
    const row = await this.deps.store.repos.auth.findToken(hashSecret(token));
    if (!row) return null;
    const user = await this.deps.store.repos.users.findById(row.user_id);
    if (!user) return null;
    await this.deps.store.repos.auth.markTokenUsed(row.id);
    return { principal: { userId: user.id, login: user.login, roles: user.roles, via: 'token' }, user };
  }

  /** Creates an API token; the secret is returned once and only its hash is kept. */
  async createToken(userId: number, name: string, actor: Actor): Promise<{ id: number; name: string; token: string; createdAt: string }> {
    const token = newSecret(API_TOKEN_PREFIX);
    const user = await this.deps.users.get(userId);
    const row = await this.deps.store.transaction(async (r) => {
      const created = await r.auth.createToken({ userId, name, tokenHash: hashSecret(token) });
      await r.audit.write(actor, [{ action: 'token.create', entityType: 'users', entityKey: user.login, after: { tokenId: created.id, name } }]);
      return created;
    });
    return { id: row.id, name, token, createdAt: row.created_at.toISOString() };
  }

  listTokens(userId: number) {
    return this.deps.store.repos.auth.listTokens(userId);
  }

  async revokeToken(userId: number, id: number, actor: Actor): Promise<boolean> {
    const done = await this.deps.store.repos.auth.revokeToken(userId, id);
    if (done) await this.deps.store.repos.audit.write(actor, [{ action: 'token.revoke', entityType: 'tokens', entityKey: String(id) }]);
    return done;
  }
}

/** The actor recorded in the audit log for a principal. */
export function actorOf(p: Principal): Actor {
  return { kind: p.via === 'local' ? 'cli' : 'user', userId: p.userId, login: p.login };
}
