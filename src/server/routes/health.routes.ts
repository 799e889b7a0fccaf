/** `GET /health` (anyone) and `GET /metrics` (a token, or a request from this machine). */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../domain/errors.js';
import { requireAuth } from '../auth-hook.js';
import type { RouteDeps } from '../route-deps.js';

const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  db: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')]),
  node: Type.String(),
  version: Type.String(),
});

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

export async function healthRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.get('/api/v1/health', { schema: { tags: ['system'], response: { 200: Health, 503: Health } }, config: { public: true } }, async (_request, reply) => {
    try {
      await deps.database.ping(1500);
      return { status: 'ok', db: 'ok', node: deps.nodeId, version: deps.version };
    } catch {
      return reply.status(503).send({ status: 'degraded', db: 'unreachable', node: deps.nodeId, version: deps.version });
    }
  });

  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (!request.auth && !LOOPBACK.test(request.socket.remoteAddress ?? '')) {
      requireAuth(request);
    }
    if (request.auth?.principal.via === 'session') {
      throw new AppError('FORBIDDEN', 'Metrics are for scrapers', { status: 403, hint: 'Use an API token (Authorization: Bearer …) to scrape /metrics.' });
    }
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
