/** Lists and reads of mailboxes, senders, queues and agents (API.md), paged as `{items, nextCursor}`. */
import type { FastifyInstance } from 'fastify';
import { authorize } from '../../auth/policy.js';
import { requireAuth } from '../auth-hook.js';
import { decodeCursor, encodeCursor, page } from '../pagination.js';
import { presentMailbox, presentQueue, presentSender } from '../presenters/directory.presenter.js';
import type { RouteDeps } from '../route-deps.js';
import { IdParams, ListQuery } from '../schemas.js';

type ListReq = { Querystring: { limit?: number; cursor?: string } };

/** Pages an in-memory list (config entities are few) by id. */
function pageOf<T extends { id: number }, U>(all: T[], q: ListReq['Querystring'], present: (x: T) => U) {
  const after = decodeCursor(q.cursor);
  const limit = q.limit ?? 50;
  return page(all.filter((x) => x.id > after), limit, present);
}

export async function directoryRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.get<ListReq>('/api/v1/mailboxes', { schema: { tags: ['mailboxes'], querystring: ListQuery } }, async (request) => {
    authorize(requireAuth(request).principal, 'mailboxes.read');
    const all = (await deps.directory.listMailboxes()).map((v) => ({ id: v.row.id, v }));
    return pageOf(all, request.query, (x) => presentMailbox(x.v));
  });

  app.get<{ Params: { id: number } }>('/api/v1/mailboxes/:id', { schema: { tags: ['mailboxes'], params: IdParams } }, async (request) => {
    authorize(requireAuth(request).principal, 'mailboxes.read');
    return presentMailbox(await deps.directory.getMailbox(request.params.id));
  });

  app.get<ListReq>('/api/v1/senders', { schema: { tags: ['senders'], querystring: ListQuery } }, async (request) => {
    authorize(requireAuth(request).principal, 'senders.read');
    const all = (await deps.directory.listSenders()).map((v) => ({ id: v.row.id, v }));
    return pageOf(all, request.query, (x) => presentSender(x.v));
  });

  app.get<{ Params: { id: number } }>('/api/v1/senders/:id', { schema: { tags: ['senders'], params: IdParams } }, async (request) => {
    authorize(requireAuth(request).principal, 'senders.read');
    return presentSender(await deps.directory.getSender(request.params.id));
  });

  app.get<ListReq>('/api/v1/queues', { schema: { tags: ['queues'], querystring: ListQuery } }, async (request) => {
    authorize(requireAuth(request).principal, 'queues.read');
    const all = (await deps.directory.listQueues()).map((v) => ({ id: v.row.id, v }));
    return pageOf(all, request.query, (x) => presentQueue(x.v));
  });

  app.get<ListReq>('/api/v1/agents', { schema: { tags: ['agents'], querystring: ListQuery } }, async (request) => {
    authorize(requireAuth(request).principal, 'agents.read');
    const limit = request.query.limit ?? 50;
    const { items, more } = await deps.users.listAgents(decodeCursor(request.query.cursor), limit);
    const last = items.at(-1);
    return { items: items.map(({ id: _id, ...a }) => a), ...(more && last ? { nextCursor: encodeCursor(last.id) } : {}) };
  });
}
