/**
 * `GET /quarantine`, `POST /quarantine/:id/release`, `DELETE /quarantine/:id` (admin), and
 * `POST /retention/run` (admin, an extension of API.md): what is kept, and for how long.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { authorize } from '../../auth/policy.js';
import { actorOf } from '../../services/auth.service.js';
import { requireAuth } from '../auth-hook.js';
import { decodeCursor, encodeCursor } from '../pagination.js';
import type { RouteDeps } from '../route-deps.js';
import { IdParams, ListQuery } from '../schemas.js';

export async function quarantineRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.get<{ Querystring: { limit?: number; cursor?: string } }>('/api/v1/quarantine', { schema: { tags: ['quarantine'], querystring: ListQuery } }, async (request) => {
    authorize(requireAuth(request).principal, 'quarantine.manage');
    const limit = request.query.limit ?? 50;
    const rows = await deps.quarantine.list(request.query.cursor ? decodeCursor(request.query.cursor) : null, limit + 1);
    const items = rows.slice(0, limit).map((m) => ({
      id: m.id,
      mailbox: m.mailbox,
      from: m.from_address,
      subject: m.subject,
      reason: m.quarantine_reason,
      receivedAt: m.received_at.toISOString(),
      size: m.size,
      raw: `/api/v1/messages/${m.id}/raw`,
    }));
    const last = items.at(-1);
    return { items, ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.id) } : {}) };
  });

  app.post<{ Params: { id: number } }>('/api/v1/quarantine/:id/release', { schema: { tags: ['quarantine'], params: IdParams } }, async (request, reply) => {
    const auth = requireAuth(request);
    authorize(auth.principal, 'quarantine.manage');
    await deps.quarantine.release(request.params.id, actorOf(auth.principal));
    return reply.status(202).send({ id: request.params.id, released: true });
  });

  app.delete<{ Params: { id: number } }>('/api/v1/quarantine/:id', { schema: { tags: ['quarantine'], params: IdParams } }, async (request, reply) => {
    const auth = requireAuth(request);
    authorize(auth.principal, 'quarantine.manage');
    await deps.quarantine.delete(request.params.id, actorOf(auth.principal));
    return reply.status(204).send();
  });
}

export async function retentionRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.post<{ Querystring: { dryRun?: boolean } }>(
    '/api/v1/retention/run',
    { schema: { tags: ['quarantine'], querystring: Type.Object({ dryRun: Type.Optional(Type.Boolean()) }, { additionalProperties: false }) } },
    async (request) => {
      const auth = requireAuth(request);
      authorize(auth.principal, 'retention.run');
      return deps.retention.run({ dryRun: request.query.dryRun ?? false }, actorOf(auth.principal));
    },
  );
}
