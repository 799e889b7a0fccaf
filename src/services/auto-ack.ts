/**
 * The queue's auto-acknowledgement (API.md `auto_ack`), decided by the loop guard: never to an
 * auto-reply, a bounce, a list, the null sender, our own addresses or a message carrying our
 * X-Loop, and at most N per address per window (default 3 per hour). It carries
 * `Auto-Submitted: auto-replied` (RFC 3834) and our X-Loop, so the other side's guard stops too.
 */
import { autoAckHeaders, decideAutoAck, DEFAULT_AUTO_REPLY_LIMIT, normalizeAddress, type Classification, type LoopGuardDecision, type ParsedMessage } from '../ingest/index.js';
import type { QueueSpec } from '../config/schema.js';
import type { ConversationRow } from '../store/conversation.repository.js';
import type { Repos } from '../store/store.js';
import { composeReply } from './reply-composer.js';

export interface AutoAckContext {
  /** Reply-token keys (current first). */
  keys: Buffer[];
  /** Our X-Loop value. */
  loopId: string;
  /** Every address of ours: mailbox users and sender From addresses. */
  ownAddresses: string[];
}

export function fillTemplate(template: string, conv: ConversationRow): string {
  return template.replaceAll('{number}', String(conv.id)).replaceAll('{subject}', conv.subject);
}

/** Queues the acknowledgement in the outbox when the loop guard allows; returns the decision. */
export async function maybeAutoAck(
  r: Repos,
  a: { conversation: ConversationRow; parsed: ParsedMessage; classification: Classification; queue: { spec: QueueSpec }; senderFrom: string; ctx: AutoAckContext },
): Promise<LoopGuardDecision | null> {
  const template = a.queue.spec.auto_ack;
  if (!template) return null;
  const recipient = normalizeAddress(a.parsed.replyTo[0]?.address || a.parsed.from?.address || '');
  const now = new Date();
  const decision = decideAutoAck({
    classification: a.classification,
    recipient: recipient || null,
    returnPath: a.parsed.returnPath,
    xLoop: a.parsed.headers['x-loop'] ?? [],
    ownAddresses: a.ctx.ownAddresses,
    loopId: a.ctx.loopId,
    history: recipient ? await r.conversations.autoAckHistory(recipient, new Date(now.getTime() - DEFAULT_AUTO_REPLY_LIMIT.windowMs)) : [],
    now,
  });
  await r.conversations.addEvent(a.conversation.id, decision.send ? 'auto-ack' : 'auto-ack-skipped', 'ingest', decision.send ? { to: recipient } : { reason: decision.reason, detail: decision.detail });
  if (!decision.send) return decision;
  const composed = await composeReply({
    conversationId: a.conversation.id,
    from: a.senderFrom,
    to: { address: recipient, name: null },
    cc: [],
    subject: a.conversation.subject,
    subjectOverride: fillTemplate(template.subject, a.conversation),
    text: fillTemplate(template.text, a.conversation),
    thread: a.parsed.messageId ? [...a.parsed.references, a.parsed.messageId].slice(-20) : a.parsed.references,
    keys: a.ctx.keys,
    headers: autoAckHeaders(a.ctx.loopId),
  });
  const id = await r.conversations.insertOutbound({
    conversationId: a.conversation.id,
    messageId: composed.messageId,
    inReplyTo: composed.inReplyTo,
    references: composed.references,
    from: a.senderFrom,
    fromAddress: composed.envelopeFrom,
    to: [recipient],
    cc: [],
    subject: composed.subject,
    text: fillTemplate(template.text, a.conversation),
    html: null,
    raw: composed.raw,
    authorId: null,
  });
  await r.conversations.markAutoAck(id);
  return decision;
}
