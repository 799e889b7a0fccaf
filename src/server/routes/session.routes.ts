/** Sign-in and sign-out: `POST /session` sets the HttpOnly session cookie, `DELETE /session` ends it. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../services/auth.service.js';
import { SESSION_COOKIE } from '../auth-hook.js';
import { presentMe } from '../presenters/user.presenter.js';
import type { RouteDeps } from '../route-deps.js';

const Login = Type.Object(
  { login: Type.String({ minLength: 1, maxLength: 200 }), password: Type.String({ minLength: 1, maxLength: 1000 }) },
  { additionalProperties: false },
);

function secureCookie(request: FastifyRequest, publicUrl: string): boolean {
  return request.protocol === 'https' || publicUrl.startsWith('https:');
}

export async function sessionRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.post<{ Body: { login: string; password: string } }>(
    '/api/v1/session',
    { schema: { tags: ['session'], body: Login }, config: { csrfExempt: true } },
    async (request, reply) => {
      const s = await deps.auth.login(request.body.login, request.body.password, request.ip);
      reply.setCookie(SESSION_COOKIE, s.sessionId, {
        httpOnly: true,
        sameSite: 'lax',
        secure: secureCookie(request, deps.publicUrl),
        path: '/',
        expires: s.expiresAt,
      });
      return { user: presentMe(s.user), csrfToken: s.csrfToken };
    },
  );

  app.delete('/api/v1/session', { schema: { tags: ['session'] } }, async (request, reply) => {
    const sessionId = request.cookies[SESSION_COOKIE];
    if (sessionId && request.auth) await deps.auth.logout(sessionId, actorOf(request.auth.principal));
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.status(204).send();
  });
}
