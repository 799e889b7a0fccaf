/**
 * Conversations, messages, attachments and offers (API.md): list and read for agents (their
 * own) and supervisors (all); reply, handled and transfer for the assignee or a supervisor;
 * accept and decline for the agent an offer was made to.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { authorize } from '../../auth/policy.js';
import type { ConversationState } from '../../domain/types.js';
import { AppError } from '../../domain/errors.js';
import { safeFilename } from '../../ingest/index.js';
import { requireAuth } from '../auth-hook.js';
import { decodeCursor, page } from '../pagination.js';
import { presentConversationItem, presentMessage } from '../presenters/conversation.presenter.js';
import type { RouteDeps } from '../route-deps.js';
import { IdParams } from '../schemas.js';

const ConversationQuery = Type.Object({
  state: Type.Optional(Type.Union(['queued', 'offered', 'assigned', 'waiting', 'handled'].map((s) => Type.Literal(s)))),
  queue: Type.Optional(Type.String({ maxLength: 64 })),
  assignee: Type.Optional(Type.String({ maxLength: 128 })),
  /** Extension of API.md: `desc` lists the newest first (the cursor then pages backwards). */
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});

const ReplyBody = Type.Object(
  {
    text: Type.String({ maxLength: 1_000_000 }),
    html: Type.Optional(Type.String({ maxLength: 2_000_000 })),
    cc: Type.Optional(Type.Array(Type.String({ format: 'email', maxLength: 320 }), { maxItems: 50 })),
  },
  { additionalProperties: false },
);

const TransferBody = Type.Object(
  { queue: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })), agent: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) },
  { additionalProperties: false },
);

/** RFC 6266 filename for Content-Disposition, ASCII fallback plus UTF-8. */
function disposition(filename: string | null): string {
  const name = safeFilename(filename).replace(/["\\]/g, '_');
  const ascii = name.replace(/[^\x20-\x7e]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export async function conversationsRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const svc = deps.conversations;
  const names = async () => {
    const queues = new Map((await deps.directory.listQueues()).map((q) => [q.row.id, q.row.name]));
    const users = new Map((await deps.users.listAll()).map((u) => [u.id, u.login]));
    return { queue: (id: number) => queues.get(id) ?? null, login: (id: number | null) => (id === null ? null : (users.get(id) ?? null)) };
  };

  app.get<{ Querystring: { state?: ConversationState; queue?: string; assignee?: string; order?: 'asc' | 'desc'; limit?: number; cursor?: string } }>(
    '/api/v1/conversations',
    { schema: { tags: ['conversations'], querystring: ConversationQuery } },
    async (request) => {
      const auth = requireAuth(request);
      authorize(auth.principal, 'conversations.readOwn');
      const limit = request.query.limit ?? 50;
      const desc = request.query.order === 'desc';
      const rows = await svc.list(auth.principal, { ...request.query, desc, afterId: request.query.cursor ? decodeCursor(request.query.cursor) : desc ? null : 0, limit: limit + 1 });
      const n = await names();
      return page(rows, limit, (c) => presentConversationItem(c, n));
    },
  );

  app.get<{ Params: { id: number } }>('/api/v1/conversations/:id', { schema: { tags: ['conversations'], params: IdParams } }, async (request) => {
    const auth = requireAuth(request);
    const { conversation, messages, attachments } = await svc.get(auth.principal, request.params.id);
    return { ...presentConversationItem(conversation, await names()), messages: messages.map((m) => presentMessage(m, attachments)) };
  });

  app.get<{ Params: { id: number } }>('/api/v1/conversations/:id/routing', { schema: { tags: ['conversations'], params: IdParams } }, async (request) => {
    authorize(requireAuth(request).principal, 'conversations.routingAudit');
    const rows = await svc.routingAudit(request.params.id);
    return {
      decisions: rows.map((d) => {
        const detail = (d.detail ?? {}) as Record<string, unknown>;
        return { at: d.at.toISOString(), step: d.step, outcome: d.outcome, agent: d.agent, candidates: detail.candidates ?? [], ...detail };
      }),
    };
  });

  app.get<{ Params: { id: number } }>('/api/v1/messages/:id', { schema: { tags: ['conversations'], params: IdParams } }, async (request) => {
    const m = await svc.message(requireAuth(request).principal, request.params.id);
    return presentMessage(m, []);
  });

  app.get<{ Params: { id: number } }>('/api/v1/messages/:id/raw', { schema: { tags: ['conversations'], params: IdParams } }, async (request, reply) => {
    const { raw } = await svc.raw(requireAuth(request).principal, request.params.id);
    reply.header('content-type', 'message/rfc822');
    reply.header('content-disposition', `attachment; filename="message-${request.params.id}.eml"`);
    reply.header('x-content-type-options', 'nosniff');
    return reply.send(raw);
  });

  app.get<{ Params: { id: number } }>('/api/v1/attachments/:id', { schema: { tags: ['conversations'], params: IdParams } }, async (request, reply) => {
    const { attachment, chunks } = await svc.attachment(requireAuth(request).principal, request.params.id);
    // Never rendered by the browser as a page of ours: downloaded, not sniffed. Inline images
    // (cid:) are shown by <img>, which ignores Content-Disposition.
    const safeInline = attachment.inline && /^image\/(png|jpeg|gif|webp)$/.test(attachment.content_type);
    reply.header('content-type', safeInline ? attachment.content_type : 'application/octet-stream');
    reply.header('content-disposition', disposition(attachment.filename));
    reply.header('x-content-type-options', 'nosniff');
    reply.header('content-security-policy', "default-src 'none'; sandbox");
    reply.header('content-length', String(attachment.size));
    const { Readable } = await import('node:stream');
    return reply.send(Readable.from(chunks));
  });

  app.post<{ Params: { id: number }; Body: { text: string; html?: string; cc?: string[] } }>(
    '/api/v1/conversations/:id/replies',
    { schema: { tags: ['conversations'], params: IdParams, body: ReplyBody }, bodyLimit: 4 * 1024 * 1024 },
    async (request, reply) => {
      const r = await svc.reply(requireAuth(request).principal, request.params.id, request.body);
      return reply.status(202).send({ messageId: r.messageId, delivery: 'queued' });
    },
  );

  app.post<{ Params: { id: number } }>('/api/v1/conversations/:id/handled', { schema: { tags: ['conversations'], params: IdParams } }, async (request) => {
    const row = await svc.handled(requireAuth(request).principal, request.params.id);
    return presentConversationItem(row, await names());
  });

  app.post<{ Params: { id: number }; Body: { queue?: string; agent?: string } }>(
    '/api/v1/conversations/:id/transfer',
    { schema: { tags: ['conversations'], params: IdParams, body: TransferBody } },
    async (request) => {
      const row = await svc.transfer(requireAuth(request).principal, request.params.id, request.body);
      return presentConversationItem(row, await names());
    },
  );

  app.get('/api/v1/me/offers', { schema: { tags: ['offers'] } }, async (request) => {
    const auth = requireAuth(request);
    authorize(auth.principal, 'offers.respond');
    if (auth.principal.userId === null) return [];
    return (await deps.routing.myOffers(auth.principal.userId)).map((o) => ({
      id: o.id,
      conversationId: o.conversation_id,
      expiresAt: o.expires_at.toISOString(),
      subject: o.subject,
      customer: o.customer,
      customerName: o.customerName,
      queue: o.queue,
    }));
  });

  app.post<{ Params: { id: number } }>('/api/v1/offers/:id/accept', { schema: { tags: ['offers'], params: IdParams } }, async (request) => {
    const auth = requireAuth(request);
    authorize(auth.principal, 'offers.respond');
    if (auth.principal.userId === null) throw new AppError('NOT_A_USER', 'Only a user can accept offers', { status: 400, hint: 'Sign in as the agent.' });
    return deps.routing.accept(request.params.id, auth.principal.userId);
  });

  app.post<{ Params: { id: number } }>('/api/v1/offers/:id/decline', { schema: { tags: ['offers'], params: IdParams } }, async (request, reply) => {
    const auth = requireAuth(request);
    authorize(auth.principal, 'offers.respond');
    if (auth.principal.userId === null) throw new AppError('NOT_A_USER', 'Only a user can decline offers', { status: 400, hint: 'Sign in as the agent.' });
    await deps.routing.decline(request.params.id, auth.principal.userId);
    return reply.status(204).send();
  });
}
