/** `GET /pause-reasons` (any user): the configured pause reasons, for the agent's state menu. Extension of API.md. */
import type { FastifyInstance } from 'fastify';
import { requireAuth } from '../auth-hook.js';
import type { RouteDeps } from '../route-deps.js';

export async function pauseReasonsRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.get('/api/v1/pause-reasons', { schema: { tags: ['me'] } }, async (request) => {
    requireAuth(request);
    const rows = await deps.users.pauseReasons();
    return { items: rows.map((r) => ({ code: r.code, label: r.label, productive: r.productive, maxMinutes: r.max_minutes })) };
  });
}
