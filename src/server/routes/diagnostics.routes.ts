/** Connection tests and connection logs of mailboxes and senders (API.md, admin). */
import type { FastifyInstance } from 'fastify';
import { authorize } from '../../auth/policy.js';
import { requireAuth } from '../auth-hook.js';
import { decodeCursor, encodeCursor } from '../pagination.js';
import type { RouteDeps } from '../route-deps.js';
import { IdParams, ListQuery } from '../schemas.js';

type EventRow = { id: number; at: Date; kind: string; message: string; detail: unknown };

/** The log is newest first, so the cursor pages backwards (ids below the last one shown). */
function eventPage(rows: EventRow[], limit: number) {
  const items = rows.slice(0, limit).map((e) => ({ id: e.id, at: e.at.toISOString(), kind: e.kind, message: e.message, detail: e.detail }));
  const last = items.at(-1);
  return { items, ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.id) } : {}) };
}

export async function diagnosticsRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const d = deps.diagnostics;
  type Ev = { Params: { id: number }; Querystring: { limit?: number; cursor?: string } };

  app.post<{ Params: { id: number } }>('/api/v1/mailboxes/:id/test', { schema: { tags: ['mailboxes'], params: IdParams } }, async (request) => {
    authorize(requireAuth(request).principal, 'mailboxes.test');
    return d.testMailbox(request.params.id);
  });

  app.post<{ Params: { id: number } }>('/api/v1/senders/:id/test', { schema: { tags: ['senders'], params: IdParams } }, async (request) => {
    authorize(requireAuth(request).principal, 'senders.test');
    return d.testSender(request.params.id);
  });

  app.get<Ev>('/api/v1/mailboxes/:id/events', { schema: { tags: ['mailboxes'], params: IdParams, querystring: ListQuery } }, async (request) => {
    authorize(requireAuth(request).principal, 'mailboxes.events');
    const limit = request.query.limit ?? 50;
    const before = request.query.cursor ? decodeCursor(request.query.cursor) : null;
    return eventPage(await d.mailboxEvents(request.params.id, before, limit + 1), limit);
  });

  app.get<Ev>('/api/v1/senders/:id/events', { schema: { tags: ['senders'], params: IdParams, querystring: ListQuery } }, async (request) => {
    authorize(requireAuth(request).principal, 'mailboxes.events');
    const limit = request.query.limit ?? 50;
    const before = request.query.cursor ? decodeCursor(request.query.cursor) : null;
    return eventPage(await d.senderEvents(request.params.id, before, limit + 1), limit);
  });
}
