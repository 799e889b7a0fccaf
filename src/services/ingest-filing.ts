/**
 * Files one parsed inbound message inside the ingest transaction: joins or reopens the
 * conversation it threads into, opens a new one in the mailbox's queue, or keeps a machine-made
 * message without creating work (API.md: kept and visible). A bounce also marks our original
 * outgoing message failed with the recipient and status it names (RFC 3464).
 */
import type { QueueSpec } from '../config/schema.js';
import { normalizeMessageId, type Classification, type ParsedMessage, type ThreadDecision } from '../ingest/index.js';
import type { Audience } from '../domain/events.js';
import type { Repos } from '../store/store.js';
import type { ConversationRow } from '../store/conversation.repository.js';
import { storable } from '../store/storable.js';
import { maybeAutoAck, type AutoAckContext } from './auto-ack.js';
import type { Notice } from './routing-apply.js';

export interface FilingInput {
  messageId: number;
  receivedAt: Date;
  mailboxId: number | null;
  queue: { id: number; name: string; spec: QueueSpec } | undefined;
  parsed: ParsedMessage;
  classification: Classification;
  decision: ThreadDecision;
  /** The message has HTML, to be sanitized from the raw bytes when it is first shown (message-display.ts). */
  displayPending: boolean;
  /** The routing language (API.md `language: auto`), or null. */
  language: string | null;
  /** Released from quarantine by an admin: routed whatever its classification. */
  force?: boolean;
  /** For the queue's auto-acknowledgement (absent: none is sent). */
  autoAck?: AutoAckContext;
}

export interface Filed {
  notices: Notice[];
  /** A conversation to hand to the router (new or reopened), or null. */
  route: number | null;
  /** The row of a conversation created by this filing (the router needs no second read of it). */
  created?: ConversationRow;
  /** An agent whose load changed, or null. */
  agentChanged: number | null;
  /** Something was queued in the outbox (an auto-acknowledgement). */
  outbox?: boolean;
}

const supervisors: Audience = { kind: 'roles', roles: ['supervisor'] };

function classificationRecord(c: FilingInput) {
  const k = c.classification;
  const d = c.decision;
  return {
    kind: k.kind,
    automated: k.automated,
    signals: k.signals,
    ...(k.delivery ? { delivery: k.delivery } : {}),
    ...(k.feedback ? { feedback: k.feedback } : {}),
    ...(k.calendar ? { calendar: k.calendar } : {}),
    language: c.language,
    thread: { action: d.action, reason: d.reason, ...(d.action !== 'new' ? { via: d.via } : {}), rejected: d.rejected },
    warnings: c.parsed.warnings,
  };
}

async function markBounced(r: Repos, c: FilingInput): Promise<void> {
  const delivery = c.classification.delivery;
  if (c.classification.kind !== 'bounce' || !delivery?.originalMessageId) return;
  const original = await r.conversations.outboundByMessageId(normalizeMessageId(delivery.originalMessageId));
  if (!original) return;
  const failed = delivery.recipients.filter((x) => x.action === 'failed');
  const detail = (failed.length ? failed : delivery.recipients).map((x) => `${x.recipient}: ${x.status ?? 'failed'}${x.diagnostic ? ` (${x.diagnostic})` : ''}`).join('; ');
  await r.outbox.markFailed(original.id, `BOUNCED: ${detail || 'the receiving server returned the message'}`);
}

/** Made by a machine, and neither released by an admin nor routed by its queue's choice. */
const isAutomated = (c: FilingInput) => !c.force && c.classification.automated && !c.queue?.spec.route_automated;

/** The input as the database can hold it (see `storable`). */
const storableInput = (input: FilingInput): FilingInput => ({ ...input, parsed: storable(input.parsed), classification: storable(input.classification), decision: storable(input.decision) });

/** The columns of the message row every outcome writes. */
function inboundBase(c: FilingInput) {
  const p = c.parsed;
  return {
    messageIdHeader: p.messageId,
    inReplyTo: p.inReplyTo[0] ?? null,
    references: p.references,
    fromAddress: p.from?.address || null,
    fromName: p.from?.name || null,
    to: p.to,
    cc: p.cc,
    subject: p.subject,
    sentDate: p.date,
    text: p.text,
    html: null,
    displayPending: c.displayPending,
    classification: classificationRecord(c),
  };
}

/**
 * Where a message that threads into nothing goes: kept without a conversation (with the
 * reason), or a new conversation in its mailbox's queue.
 */
export function newMessageOutcome(c: FilingInput): { kind: 'kept'; reason: string } | { kind: 'conversation'; queue: NonNullable<FilingInput['queue']> } {
  if (isAutomated(c)) return { kind: 'kept', reason: `${c.classification.kind}: kept, not routed (${c.classification.signals.join('; ') || 'sent by a machine'})` };
  if (!c.queue) return { kind: 'kept', reason: 'NO_QUEUE: the mailbox this came from no longer feeds a queue' };
  if (!c.parsed.from?.address && !c.force) return { kind: 'kept', reason: 'NO_SENDER: the message has no usable From address to reply to' };
  return { kind: 'conversation', queue: c.queue };
}

/**
 * True when `input` (threading into nothing) can be filed by `fileNewMany`: everything but a
 * bounce of our own message (which marks it failed) and an auto-acknowledgement to queue.
 */
export function fileableInGroup(input: FilingInput): boolean {
  if (input.decision.action !== 'new') return false;
  if (input.classification.kind === 'bounce' && input.classification.delivery?.originalMessageId) return false;
  const outcome = newMessageOutcome(input);
  return !(outcome.kind === 'conversation' && outcome.queue.spec.auto_ack && input.autoAck);
}

function newConversation(c: FilingInput, queue: NonNullable<FilingInput['queue']>) {
  const p = c.parsed;
  return {
    queueId: queue.id,
    mailboxId: c.mailboxId,
    subject: p.subject,
    customerAddress: p.from?.address || '(unknown sender)',
    customerName: p.from?.name || null,
    language: c.language,
    priority: queue.spec.priority,
    receivedAt: c.receivedAt,
    slaDueAt: new Date(c.receivedAt.getTime() + queue.spec.sla_first_response_minutes * 60_000),
  };
}

const keptNotice = (messageId: number, reason: string): Notice => ({ type: 'message.quarantined', data: { id: messageId, reason }, audience: { kind: 'roles', roles: ['admin'] } });
const createdNotice = (conv: ConversationRow, queue: string): Notice => ({ type: 'conversation.updated', data: { id: conv.id, state: conv.state, queue, created: true }, audience: supervisors });

/**
 * Files messages that thread into nothing (`fileableInGroup`) with one statement per table for
 * all of them, in their order: on a backlog, four statements per message were most of the
 * ingest's database time. The same outcome as `fileMessage` for each.
 */
export async function fileNewMany(r: Repos, inputs: FilingInput[]): Promise<Filed[]> {
  const items = inputs.map((input) => {
    const c = storableInput(input);
    return { c, outcome: newMessageOutcome(c) };
  });
  const created = await r.conversations.createMany(items.flatMap((x) => (x.outcome.kind === 'conversation' ? [newConversation(x.c, x.outcome.queue)] : [])));
  const filed: Filed[] = [];
  const rows: Parameters<Repos['conversations']['fileInboundMany']>[0] = [];
  const events: Parameters<Repos['conversations']['addEvents']>[0] = [];
  for (const { c, outcome } of items) {
    if (outcome.kind === 'kept') {
      rows.push({ ...inboundBase(c), messageId: c.messageId, conversationId: null, quarantineReason: outcome.reason });
      filed.push({ notices: [keptNotice(c.messageId, outcome.reason)], route: null, agentChanged: null });
      continue;
    }
    const conv = created.shift()!;
    rows.push({ ...inboundBase(c), messageId: c.messageId, conversationId: conv.id, quarantineReason: null });
    events.push({ conversationId: conv.id, type: 'created', actor: 'ingest', data: { messageId: c.messageId, queue: outcome.queue.name } });
    filed.push({ notices: [createdNotice(conv, outcome.queue.name)], route: conv.id, created: conv, agentChanged: null });
  }
  await r.conversations.fileInboundMany(rows);
  await r.conversations.addEvents(events);
  return filed;
}

export async function fileMessage(r: Repos, input: FilingInput): Promise<Filed> {
  const c = storableInput(input);
  const p = c.parsed;
  const base = inboundBase(c);
  await markBounced(r, c);

  if (c.decision.action !== 'new') {
    const convId = Number(c.decision.conversationId);
    const conv = (await r.conversations.getForUpdate(convId))!;
    await r.conversations.fileInbound(c.messageId, { ...base, conversationId: convId, quarantineReason: null });
    const notify = (state: string, assignee: number | null): Notice => ({
      type: 'conversation.updated',
      data: { id: convId, state, assigneeId: assignee, newMessageId: c.messageId },
      audience: { kind: 'some', userIds: assignee ? [assignee] : [], roles: ['supervisor'] },
    });
    if (isAutomated(c)) {
      await r.conversations.addEvent(convId, 'automated-message', 'ingest', { messageId: c.messageId, kind: c.classification.kind });
      return { notices: [notify(conv.state, conv.assignee_id)], route: null, agentChanged: null };
    }
    if (c.decision.action === 'reopen') {
      const sla = c.queue?.spec.sla_first_response_minutes ?? 60;
      const now = new Date();
      const row = await r.conversations.update(convId, {
        state: 'queued',
        assignee_id: null,
        queued_at: now,
        handled_at: null,
        first_response_at: null,
        sla_due_at: new Date(c.receivedAt.getTime() + sla * 60_000),
      });
      await r.conversations.addEvent(convId, 'reopened', 'ingest', { messageId: c.messageId, via: c.decision.via });
      // The agent who had it hears of it too (their list shows it reopened, and stickiness may offer it back).
      const former = conv.assignee_id ?? conv.last_agent_id;
      return {
        notices: [{ type: 'conversation.updated', data: { id: convId, state: row.state, assigneeId: null, newMessageId: c.messageId, reopened: true }, audience: { kind: 'some', userIds: former ? [former] : [], roles: ['supervisor'] } }],
        route: convId,
        agentChanged: null,
      };
    }
    if (conv.state === 'waiting') {
      // The customer answered: the conversation is the agent's work again (or the queue's).
      const row = await r.conversations.update(convId, conv.assignee_id ? { state: 'assigned' } : { state: 'queued', queued_at: new Date() });
      await r.conversations.addEvent(convId, 'customer-replied', 'ingest', { messageId: c.messageId });
      return { notices: [notify(row.state, row.assignee_id)], route: row.state === 'queued' ? convId : null, agentChanged: row.assignee_id };
    }
    await r.conversations.addEvent(convId, 'customer-replied', 'ingest', { messageId: c.messageId });
    return { notices: [notify(conv.state, conv.assignee_id)], route: null, agentChanged: null };
  }

  const outcome = newMessageOutcome(c);
  if (outcome.kind === 'kept') {
    await r.conversations.fileInbound(c.messageId, { ...base, conversationId: null, quarantineReason: outcome.reason });
    return { notices: [keptNotice(c.messageId, outcome.reason)], route: null, agentChanged: null };
  }
  const { queue } = outcome;
  const conv = await r.conversations.create(newConversation(c, queue));
  await r.conversations.fileInbound(c.messageId, { ...base, conversationId: conv.id, quarantineReason: null });
  await r.conversations.addEvent(conv.id, 'created', 'ingest', { messageId: c.messageId, queue: queue.name });
  let acked = false;
  if (c.autoAck && queue.spec.auto_ack) {
    const queueRow = await r.config.findQueue(queue.id);
    const sender = queueRow ? await r.config.findSender(queueRow.sender_id) : undefined;
    const senderFrom = (sender?.spec as { from?: string } | undefined)?.from;
    if (senderFrom) acked = (await maybeAutoAck(r, { conversation: conv, parsed: p, classification: c.classification, queue, senderFrom, ctx: c.autoAck }))?.send ?? false;
  }
  return { outbox: acked, notices: [createdNotice(conv, queue.name)], route: conv.id, created: conv, agentChanged: null };
}
