/** The signed-in user: `GET /me`, `PUT /me/state`; API tokens: `POST/GET /tokens`, `DELETE /tokens/:id`. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { authorize } from '../../auth/policy.js';
import { AppError, notFound } from '../../domain/errors.js';
import type { AgentState } from '../../domain/types.js';
import { actorOf } from '../../services/auth.service.js';
import { requireAuth } from '../auth-hook.js';
import { presentMe } from '../presenters/user.presenter.js';
import type { RouteDeps } from '../route-deps.js';
import { IdParams } from '../schemas.js';

const StateBody = Type.Object(
  {
    state: Type.Union([Type.Literal('available'), Type.Literal('paused'), Type.Literal('offline')]),
    reason: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
  },
  { additionalProperties: false },
);

const TokenBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100 }), user: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
  { additionalProperties: false },
);

const noUser = () =>
  new AppError('NOT_A_USER', 'This credential is not a user account', {
    status: 400,
    hint: 'Use a user session or a user API token for this request.',
  });

export async function meRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.get('/api/v1/me', { schema: { tags: ['me'] } }, async (request) => {
    const auth = requireAuth(request);
    if (!auth.user) return { login: auth.principal.login, roles: auth.principal.roles };
    return { ...presentMe(auth.user), ...(auth.csrfToken ? { csrfToken: auth.csrfToken } : {}) };
  });

  app.put<{ Body: { state: AgentState; reason?: string | null } }>('/api/v1/me/state', { schema: { tags: ['me'], body: StateBody } }, async (request) => {
    const auth = requireAuth(request);
    authorize(auth.principal, 'me.state');
    if (!auth.user) throw noUser();
    const user = await deps.users.setState(auth.user.id, request.body.state, request.body.reason ?? null, actorOf(auth.principal));
    return presentMe(user);
  });

  app.post<{ Body: { name: string; user?: string } }>('/api/v1/tokens', { schema: { tags: ['tokens'], body: TokenBody } }, async (request, reply) => {
    const auth = requireAuth(request);
    authorize(auth.principal, 'tokens.create');
    let userId = auth.user?.id;
    if (request.body.user !== undefined && request.body.user.toLowerCase() !== auth.principal.login.toLowerCase()) {
      authorize(auth.principal, 'tokens.createForOthers');
      userId = (await deps.users.findByLogin(request.body.user)).id;
    }
    if (userId === undefined) throw noUser();
    const token = await deps.auth.createToken(userId, request.body.name, actorOf(auth.principal));
    return reply.status(201).send(token);
  });

  app.get('/api/v1/tokens', { schema: { tags: ['tokens'] } }, async (request) => {
    const auth = requireAuth(request);
    if (!auth.user) throw noUser();
    const rows = await deps.auth.listTokens(auth.user.id);
    return { items: rows.map((t) => ({ id: t.id, name: t.name, createdAt: t.created_at.toISOString(), lastUsedAt: t.last_used_at?.toISOString() ?? null })) };
  });

  app.delete<{ Params: { id: number } }>('/api/v1/tokens/:id', { schema: { tags: ['tokens'], params: IdParams } }, async (request, reply) => {
    const auth = requireAuth(request);
    if (!auth.user) throw noUser();
    if (!(await deps.auth.revokeToken(auth.user.id, request.params.id, actorOf(auth.principal)))) throw notFound(`Token ${request.params.id}`);
    return reply.status(204).send();
  });
}
