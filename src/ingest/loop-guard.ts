/**
 * The auto-acknowledgement loop guard: may our queue's automatic "we got your message" go to this
 * sender? Two auto-responders answering each other is the classic mail loop; RFC 3834 §2 says an
 * automatic responder must not answer automatic mail, bounces (null Return-Path), lists, or
 * its own messages, and should limit how often it answers one address. Pure: the history of what
 * we sent and the clock are passed in.
 */
import { addressKey } from './address-normalizer.js';
import type { Classification } from './message-classifier.js';

export interface LoopGuardInput {
  classification: Pick<Classification, 'kind' | 'automated' | 'autoReply' | 'list'>;
  /** Where the acknowledgement would go: Reply-To or From of the message (normalized or raw). */
  recipient: string | null;
  /** Return-Path of the message: '' is the null sender (never answer), null when absent. */
  returnPath: string | null;
  /** The message's X-Loop values (`ParsedMessage.headers['x-loop']`). */
  xLoop: readonly string[];
  /** Our own addresses (every mailbox and sender address): never answer ourselves. */
  ownAddresses: readonly string[];
  /** Our X-Loop value (see {@link autoAckHeaders}). */
  loopId: string;
  /** When we sent automatic replies to this recipient (any window; older ones are ignored). */
  history: readonly (Date | number)[];
  now: Date | number;
  /** At most this many automatic replies per address per window. Default 3 per hour. */
  limit?: { max: number; windowMs: number };
}

export type LoopGuardReason =
  | 'no-recipient'
  | 'null-sender'
  | 'own-address'
  | 'own-loop-header'
  | 'automated'
  | 'mailing-list'
  | 'sender-suppressed'
  | 'rate-limited';

export type LoopGuardDecision = { send: true } | { send: false; reason: LoopGuardReason; detail: string };

export const DEFAULT_AUTO_REPLY_LIMIT = Object.freeze({ max: 3, windowMs: 60 * 60 * 1000 });

const t = (d: Date | number): number => (typeof d === 'number' ? d : d.getTime());

/** Decides whether our auto-acknowledgement may be sent. Pure and deterministic. */
export function decideAutoAck(input: LoopGuardInput): LoopGuardDecision {
  const to = addressKey(input.recipient);
  if (!to) return { send: false, reason: 'no-recipient', detail: 'The message has no usable sender address' };
  if (input.returnPath === '') return { send: false, reason: 'null-sender', detail: 'Return-Path is <> (a bounce or an automatic message, RFC 3834 §2)' };
  if (input.ownAddresses.some((a) => addressKey(a) === to)) return { send: false, reason: 'own-address', detail: `${to} is one of our own addresses` };
  const ours = input.loopId.trim().toLowerCase();
  if (ours && input.xLoop.some((v) => v.trim().toLowerCase() === ours)) {
    return { send: false, reason: 'own-loop-header', detail: `The message carries our X-Loop: ${input.loopId}` };
  }
  const c = input.classification;
  if (c.list.list && !c.automated) return { send: false, reason: 'mailing-list', detail: `Mailing list or bulk mail (${c.list.signals.join(', ')})` };
  if (c.automated) {
    const reason = c.kind === 'list' ? 'mailing-list' : 'automated';
    return { send: false, reason, detail: `The message is ${c.kind === 'list' ? 'list or bulk mail' : `automatic (${c.kind})`}` };
  }
  if (c.autoReply.suppressAutoResponse) {
    return { send: false, reason: 'sender-suppressed', detail: `The sender asked for no automatic answers (${c.autoReply.signals.join(', ')})` };
  }
  const limit = input.limit ?? DEFAULT_AUTO_REPLY_LIMIT;
  const now = t(input.now);
  const recent = input.history.filter((d) => now - t(d) < limit.windowMs && t(d) <= now).length;
  if (recent >= limit.max) {
    return { send: false, reason: 'rate-limited', detail: `${recent} automatic replies to ${to} in the last ${Math.round(limit.windowMs / 60000)} min (limit ${limit.max})` };
  }
  return { send: true };
}

/**
 * The headers our auto-acknowledgement carries:
 * - `Auto-Submitted: auto-replied` (RFC 3834 §5): other responders must not answer it;
 * - `X-Loop: <loopId>`: we recognize our own message if it ever comes back (de facto, procmail/Zammad);
 * - `Precedence: bulk`: old vacation programs answer nothing marked bulk (RFC 3834 §3.1.8 notes it as non-standard but honoured);
 * - `X-Auto-Response-Suppress: All`: Exchange/Outlook send no out-of-office or receipts to it.
 * The reply also sets In-Reply-To/References to the original (RFC 3834 §3.1); the outbox does that.
 */
export function autoAckHeaders(loopId: string): Record<string, string> {
  return {
    'Auto-Submitted': 'auto-replied',
    'X-Loop': loopId,
    Precedence: 'bulk',
    'X-Auto-Response-Suppress': 'All',
  };
}
