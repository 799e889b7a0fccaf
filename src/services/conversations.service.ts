/**
 * What agents and supervisors do with conversations: list, read the whole thread, reply through
 * the outbox, mark handled, transfer to a queue or an agent. Every transition is recorded as a
 * conversation event with its actor, and published after it commits.
 */
import { can, type Principal } from '../auth/policy.js';
import type { SecretBox } from '../auth/secret-box.js';
import { senderSchema } from '../config/schema.js';
import { AppError, invalid, notFound } from '../domain/errors.js';
import type { EventBus } from '../domain/events.js';
import type { ConversationState } from '../domain/types.js';
import type { ConversationRow } from '../store/conversation.repository.js';
import type { Store } from '../store/store.js';
import { actionable, readable } from './conversation-access.js';
import type { OutboxService } from './outbox.service.js';
import type { MessageDisplay } from './message-display.js';
import { composeReply } from './reply-composer.js';
import type { RoutingService } from './routing.service.js';

export interface ConversationsDeps {
  store: Store;
  bus: EventBus;
  secrets: SecretBox;
  routing: RoutingService;
  outbox: OutboxService;
  /** Prepares inbound HTML for display on first read. */
  display: MessageDisplay;
}

export interface ListQuery {
  state?: ConversationState;
  queue?: string;
  /** A login, or `me`. */
  assignee?: string;
  /** Newest first; `afterId` then means "before this id" (null: from the newest). */
  desc?: boolean;
  afterId: number | null;
  limit: number;
}

const actorOf = (p: Principal) => (p.userId === null ? p.login : `user:${p.userId}`);

export class ConversationsService {
  constructor(private readonly deps: ConversationsDeps) {}

  private get store(): Store {
    return this.deps.store;
  }

  private updated(c: ConversationRow): void {
    this.deps.bus.publish(
      'conversation.updated',
      { id: c.id, state: c.state, assigneeId: c.assignee_id, queueId: c.queue_id },
      { kind: 'some', userIds: c.assignee_id ? [c.assignee_id] : [], roles: ['supervisor'] },
    );
  }

  async list(p: Principal, q: ListQuery): Promise<ConversationRow[]> {
    const all = can(p, 'conversations.readAll');
    let assigneeId: number | undefined;
    if (q.assignee) {
      if (q.assignee === 'me') assigneeId = p.userId ?? -1;
      else assigneeId = (await this.store.repos.users.findByLogin(q.assignee))?.id ?? -1;
    }
    let queueId: number | undefined;
    if (q.queue) queueId = (await this.store.repos.config.listQueues()).find((x) => x.name === q.queue)?.id ?? -1;
    return this.store.repos.conversations.list(
      {
        ...(q.state ? { states: [q.state] } : {}),
        ...(queueId !== undefined ? { queueId } : {}),
        ...(assigneeId !== undefined ? { assigneeId } : {}),
        ...(all ? {} : { visibleTo: p.userId ?? -1 }),
      },
      q.afterId,
      q.limit,
      q.desc ?? false,
    );
  }

  async get(p: Principal, id: number) {
    const c = await readable(this.store, p, id);
    const stored = await this.store.repos.conversations.messages(id);
    const attachments = await this.store.repos.conversations.attachmentsOf(stored.map((m) => m.id));
    return { conversation: c, messages: await this.deps.display.ready(stored, attachments), attachments };
  }

  async routingAudit(id: number) {
    if (!(await this.store.repos.conversations.get(id))) throw notFound(`Conversation ${id}`);
    return this.store.repos.routing.decisions(id);
  }

  /** A message's stored bytes, for whoever may read its conversation (admins: quarantined ones too). */
  async raw(p: Principal, messageId: number): Promise<{ raw: Buffer; subject: string }> {
    const m = await this.store.repos.conversations.message(messageId);
    if (!m) throw notFound(`Message ${messageId}`);
    if (m.conversation_id === null) {
      if (!can(p, 'quarantine.manage')) throw notFound(`Message ${messageId}`);
    } else await readable(this.store, p, m.conversation_id);
    return { raw: (await this.store.repos.conversations.raw(messageId))!, subject: m.subject };
  }

  async attachment(p: Principal, attachmentId: number) {
    const a = await this.store.repos.conversations.attachment(attachmentId);
    if (!a) throw notFound(`Attachment ${attachmentId}`);
    const m = await this.store.repos.conversations.message(a.message_id);
    if (!m) throw notFound(`Attachment ${attachmentId}`);
    if (m.conversation_id === null) {
      if (!can(p, 'quarantine.manage')) throw notFound(`Attachment ${attachmentId}`);
    } else await readable(this.store, p, m.conversation_id);
    return { attachment: a, chunks: this.store.repos.conversations.attachmentChunks(attachmentId) };
  }

  async message(p: Principal, messageId: number) {
    const m = await this.store.repos.conversations.message(messageId);
    if (!m || m.conversation_id === null) throw notFound(`Message ${messageId}`);
    await readable(this.store, p, m.conversation_id);
    if (!m.display_pending) return m;
    const [shown] = await this.deps.display.ready([m], await this.store.repos.conversations.attachmentsOf([m.id]));
    return shown!;
  }

  /** Queues a reply in the outbox (committed with its fixed Message-ID before any send). */
  async reply(p: Principal, id: number, input: { text: string; html?: string; cc?: string[] }): Promise<{ messageId: number }> {
    if (!input.text.trim() && !input.html?.trim()) throw invalid('The reply is empty', 'Write some text before sending.');
    const c = await actionable(this.store, p, id);
    const queue = await this.store.repos.config.findQueue(c.queue_id);
    const senderRow = queue ? await this.store.repos.config.findSender(queue.sender_id) : undefined;
    if (!senderRow) {
      throw new AppError('NO_SENDER', 'The conversation\'s queue has no sender to reply with', { status: 409, hint: 'Give the queue a sender in the config (queues[].sender).' });
    }
    const sender = senderSchema.parse(senderRow.spec);
    const signature = (queue!.spec as { signature?: string }).signature;
    const thread = (await this.store.repos.conversations.messages(id)).map((m) => m.message_id).filter((x): x is string => Boolean(x));
    const composed = await composeReply({
      conversationId: id,
      from: sender.from,
      to: { address: c.customer_address, name: c.customer_name },
      cc: input.cc ?? [],
      subject: c.subject,
      text: signature ? `${input.text}\n\n-- \n${signature}` : input.text,
      ...(input.html ? { html: input.html } : {}),
      thread,
      keys: this.deps.secrets.deriveKeys('reply-token'),
    });
    const { messageId, row } = await this.store.transaction(async (r) => {
      const current = await r.conversations.getForUpdate(id);
      if (!current) throw notFound(`Conversation ${id}`);
      const inserted = await r.conversations.insertOutbound({
        conversationId: id,
        messageId: composed.messageId,
        inReplyTo: composed.inReplyTo,
        references: composed.references,
        from: sender.from,
        fromAddress: composed.envelopeFrom,
        to: [c.customer_address],
        cc: input.cc ?? [],
        subject: composed.subject,
        text: input.text,
        html: input.html ?? null,
        raw: composed.raw,
        authorId: p.userId,
      });
      const now = new Date();
      const updated = await r.conversations.update(id, {
        state: current.state === 'handled' ? 'handled' : 'waiting',
        first_response_at: current.first_response_at ?? now,
        last_agent_id: p.userId ?? current.last_agent_id,
        last_agent_at: p.userId ? now : current.last_agent_at,
      });
      await r.conversations.addEvent(id, 'replied', actorOf(p), { messageId: inserted });
      return { messageId: inserted, row: updated };
    });
    this.deps.outbox.kick();
    this.updated(row);
    if (row.assignee_id) await this.deps.routing.agentChanged(row.assignee_id);
    return { messageId };
  }

  async handled(p: Principal, id: number): Promise<ConversationRow> {
    await actionable(this.store, p, id);
    const row = await this.store.transaction(async (r) => {
      const current = (await r.conversations.getForUpdate(id))!;
      if (current.state === 'handled') return current;
      const updated = await r.conversations.update(id, { state: 'handled', handled_at: new Date() });
      await r.conversations.addEvent(id, 'handled', actorOf(p));
      return updated;
    });
    await this.deps.routing.remove(id);
    if (row.assignee_id) await this.deps.routing.agentChanged(row.assignee_id);
    this.updated(row);
    return row;
  }

  /** To another queue (routed again there) or straight to an agent (assigned). */
  async transfer(p: Principal, id: number, to: { queue?: string; agent?: string }): Promise<ConversationRow> {
    if ((to.queue === undefined) === (to.agent === undefined)) throw invalid('Give either queue or agent', 'Send {"queue": "NAME"} or {"agent": "LOGIN"}.');
    const before = await actionable(this.store, p, id);
    let fields: Partial<ConversationRow>;
    if (to.queue !== undefined) {
      const queue = (await this.store.repos.config.listQueues()).find((q) => q.name === to.queue);
      if (!queue) throw notFound(`Queue "${to.queue}"`);
      fields = { queue_id: queue.id, state: 'queued', assignee_id: null, queued_at: new Date() };
    } else {
      const agent = await this.store.repos.users.findByLogin(to.agent!);
      if (!agent) throw notFound(`Agent "${to.agent}"`);
      fields = { state: 'assigned', assignee_id: agent.id };
    }
    const row = await this.store.transaction(async (r) => {
      await r.conversations.getForUpdate(id);
      const updated = await r.conversations.update(id, fields);
      await r.conversations.addEvent(id, 'transferred', actorOf(p), to);
      return updated;
    });
    if (to.queue !== undefined) await this.deps.routing.enqueue(id);
    else await this.deps.routing.remove(id);
    for (const agentId of new Set([before.assignee_id, row.assignee_id])) if (agentId) await this.deps.routing.agentChanged(agentId);
    this.updated(row);
    return row;
  }
}
