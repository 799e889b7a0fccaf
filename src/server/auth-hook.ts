/**
 * Who is calling: a Bearer token (API token or the local CLI's) or the session cookie. Cookie
 * sessions must echo their CSRF token in X-CSRF-Token on every state-changing request; Bearer
 * requests need none (a browser never sends them on its own).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { safeEqual } from '../auth/tokens.js';
import { AppError } from '../domain/errors.js';
import type { AuthService, Authenticated } from '../services/auth.service.js';

export const SESSION_COOKIE = 'mailroom_session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

declare module 'fastify' {
  interface FastifyRequest {
    auth: Authenticated | null;
  }
  interface FastifyContextConfig {
    /** The route itself authenticates (POST /session) and needs no CSRF token. */
    csrfExempt?: boolean;
    /** Anyone may call it and it must answer without the database (GET /health). */
    public?: boolean;
  }
}

export const unauthenticated = (): AppError =>
  new AppError('UNAUTHENTICATED', 'You are not signed in', {
    status: 401,
    hint: 'Sign in with POST /api/v1/session, or send Authorization: Bearer TOKEN.',
  });

/** The caller, or 401. */
export function requireAuth(request: FastifyRequest): Authenticated {
  if (!request.auth) throw unauthenticated();
  return request.auth;
}

export function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (m) return m[1];
  // WebSocket clients outside a browser cannot always set headers: ?token= is accepted there only.
  if (request.url.startsWith('/api/v1/events')) {
    const token = new URL(request.url, 'http://x').searchParams.get('token');
    if (token) return token;
  }
  return undefined;
}

export function registerAuthHook(app: FastifyInstance, auth: AuthService): void {
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/api/') && !request.url.startsWith('/metrics')) return;
    if (request.routeOptions.config.public) return;
    const bearer = bearerOf(request);
    if (bearer) {
      request.auth = await auth.fromBearer(bearer);
      if (!request.auth) {
        throw new AppError('INVALID_TOKEN', 'The token is not valid (unknown or revoked)', {
          status: 401,
          hint: 'Create a new token with POST /api/v1/tokens or `mailroom token create`.',
        });
      }
      return;
    }
    const sessionId = request.cookies[SESSION_COOKIE];
    if (!sessionId) return;
    request.auth = await auth.fromSession(sessionId);
    if (request.auth && !SAFE_METHODS.has(request.method) && !request.routeOptions.config.csrfExempt) {
      const sent = request.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !request.auth.csrfToken || !safeEqual(sent, request.auth.csrfToken)) {
        throw new AppError('CSRF_FAILED', 'The X-CSRF-Token header is missing or wrong', {
          status: 403,
          hint: 'Send the csrfToken from POST /api/v1/session (or GET /api/v1/me) in the X-CSRF-Token header.',
        });
      }
    }
  });
}
