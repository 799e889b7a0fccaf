/**
 * `GET /api/v1/events` (WebSocket). Browsers authenticate with the session cookie; because
 * browsers send cookies on cross-site WebSocket handshakes too, a cookie-authenticated upgrade
 * must come from our own origin (cross-site WebSocket hijacking).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../domain/errors.js';
import { requireAuth } from '../auth-hook.js';
import type { RouteDeps } from '../route-deps.js';

function sameOrigin(request: FastifyRequest, publicUrl: string): boolean {
  const origin = request.headers.origin;
  if (!origin) return true; // not a browser
  const host = request.headers.host;
  return origin === new URL(publicUrl).origin || (host !== undefined && (origin === `http://${host}` || origin === `https://${host}`));
}

export async function eventsRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.get(
    '/api/v1/events',
    {
      websocket: true,
      schema: { tags: ['events'], description: 'WebSocket: JSON frames {type, data}' },
      preValidation: async (request) => {
        const auth = requireAuth(request);
        if (auth.principal.via === 'session' && !sameOrigin(request, deps.publicUrl)) {
          throw new AppError('FORBIDDEN_ORIGIN', 'This origin may not open the event stream', {
            status: 403,
            hint: 'Open Mailroom from its own address, or use an API token.',
          });
        }
      },
    },
    (socket, request) => {
      deps.hub.add(socket, requireAuth(request).principal);
    },
  );
}
