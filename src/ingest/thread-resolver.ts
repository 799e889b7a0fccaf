/**
 * Threading: which conversation a new inbound message belongs to. Pure: the caller loads what
 * `threadingKeys` names (conversations by Message-ID, by id, by number) and passes synchronous
 * lookups; `resolveThread` decides.
 *
 * Order (most to least reliable):
 * 1. In-Reply-To, then References newest first (RFC 5322 §3.6.4): a Message-ID we stored.
 * 2. Our reply token in any of those ids (HMAC-verified, see reply-token.ts).
 * 3. A subject reference like `[#1234]`, last resort.
 * Every step requires the sender to be the conversation's customer: Message-IDs are not secret
 * (they travel in every copy of a thread) and a subject number is guessable, so a message from
 * someone else that references a conversation must not join it and see where the agent's answer
 * goes (the conversation's history would leak to them). It becomes a new conversation, and the
 * rejected candidates are reported for the audit. A queue may let a verified reply token through
 * from another sender (a colleague in Cc answering): `allowOtherSenderWithToken`.
 */
import type { ConversationState } from '../domain/types.js';
import { sameAddress } from './address-normalizer.js';
import { normalizeMessageId } from './header-fields.js';
import { verifyReplyToken, type ReplyTokenKey } from './reply-token.js';

/** A conversation as the threading decision needs it. */
export interface ConversationRef {
  /** The conversation id as text (String(id)). */
  id: string;
  /** The customer's address; the sender must match it (see `addressKey`). */
  customerAddress: string;
  state: ConversationState;
}

/** Synchronous lookups over data the caller loaded (see {@link threadingKeys}). */
export interface ThreadLookups {
  /** The conversation a stored message (inbound or outbound) with this bare Message-ID belongs to. */
  conversationByMessageId(messageId: string): ConversationRef | undefined;
  /** A conversation by id (what a verified reply token names). */
  conversationById(conversationId: string): ConversationRef | undefined;
  /** A conversation by its number (what `[#1234]` in a subject names). */
  conversationByNumber(number: number): ConversationRef | undefined;
}

/** The parts of a parsed message threading reads (a `ParsedMessage` fits). */
export interface ThreadInput {
  messageId: string | null;
  inReplyTo: readonly string[];
  references: readonly string[];
  subject: string;
  /** The sender: `from.address` of the parsed message. */
  from: { address: string } | null;
}

export interface ThreadOptions {
  /** Reply token keys, current first (see reply-token.ts). */
  replyTokenKeys: ReplyTokenKey | readonly ReplyTokenKey[];
  /** Let a verified reply token from another sender join (a colleague in Cc). Default false. */
  allowOtherSenderWithToken?: boolean;
  /** How subjects reference a conversation number; group 1 is the number. Default `[#1234]`. */
  subjectPattern?: RegExp;
  /** Referenced ids considered, newest first. Default 100. */
  maxReferences?: number;
}

export type ThreadVia = 'in-reply-to' | 'references' | 'reply-token' | 'subject-number';

/** A conversation that was referenced but not joined, and why. */
export interface RejectedCandidate {
  conversationId: string;
  via: ThreadVia;
  reason: 'sender-mismatch' | 'unknown-conversation' | 'forged-token';
  /** The id or subject text that named it. */
  reference: string;
}

export type ThreadDecision =
  | {
      /** `join`: add to the open conversation; `reopen`: it was handled, a customer message reopens it. */
      action: 'join' | 'reopen';
      conversationId: string;
      via: ThreadVia;
      reference: string;
      reason: string;
      rejected: RejectedCandidate[];
    }
  | { action: 'new'; reason: string; rejected: RejectedCandidate[] };

const DEFAULT_SUBJECT_PATTERN = /\[#(\d{1,12})\]/g;

/** In-Reply-To ids, then References newest first, without duplicates or the message's own id. */
export function referencedIds(msg: ThreadInput, max = 100): { id: string; via: 'in-reply-to' | 'references' }[] {
  const own = msg.messageId ? normalizeMessageId(msg.messageId) : '';
  const seen = new Set<string>(own ? [own] : []);
  const out: { id: string; via: 'in-reply-to' | 'references' }[] = [];
  const add = (raw: string, via: 'in-reply-to' | 'references') => {
    const id = normalizeMessageId(raw);
    if (!id || seen.has(id) || out.length >= max) return;
    seen.add(id);
    out.push({ id, via });
  };
  for (const id of msg.inReplyTo) add(id, 'in-reply-to');
  for (let i = msg.references.length - 1; i >= 0; i--) add(msg.references[i]!, 'references');
  return out;
}

/** Conversation numbers referenced in the subject, in order. */
export function subjectNumbers(subject: string, pattern: RegExp = DEFAULT_SUBJECT_PATTERN): number[] {
  const re = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  const out: number[] = [];
  for (const m of subject.matchAll(re)) {
    const n = Number(m[1]);
    if (Number.isSafeInteger(n) && n > 0 && !out.includes(n)) out.push(n);
  }
  return out;
}

/** What the caller must load before `resolveThread`: the lookups are asked about these only. */
export function threadingKeys(msg: ThreadInput, opts: ThreadOptions): { messageIds: string[]; conversationIds: string[]; numbers: number[] } {
  const refs = referencedIds(msg, opts.maxReferences);
  const conversationIds: string[] = [];
  for (const r of refs) {
    const check = verifyReplyToken(r.id, opts.replyTokenKeys);
    if (check.ok && !conversationIds.includes(check.conversationId)) conversationIds.push(check.conversationId);
  }
  return { messageIds: refs.map((r) => r.id), conversationIds, numbers: subjectNumbers(msg.subject, opts.subjectPattern) };
}

function decide(conv: ConversationRef, via: ThreadVia, reference: string, rejected: RejectedCandidate[]): ThreadDecision {
  const reopen = conv.state === 'handled';
  const what = via === 'reply-token' ? 'our reply token' : via === 'subject-number' ? 'the subject reference' : `its ${via === 'in-reply-to' ? 'In-Reply-To' : 'References'}`;
  return {
    action: reopen ? 'reopen' : 'join',
    conversationId: conv.id,
    via,
    reference,
    reason: `${reopen ? 'Reopens handled' : 'Joins'} conversation ${conv.id}: ${what} names it and the sender is its customer`,
    rejected,
  };
}

/**
 * Decides join / reopen / new for an inbound message. Pure and deterministic; never throws for
 * any message (a short reply token key throws, see reply-token.ts).
 */
export function resolveThread(msg: ThreadInput, lookups: ThreadLookups, opts: ThreadOptions): ThreadDecision {
  const sender = msg.from?.address ?? '';
  const rejected: RejectedCandidate[] = [];
  const refs = referencedIds(msg, opts.maxReferences);
  const reject = (conversationId: string, via: ThreadVia, reason: RejectedCandidate['reason'], reference: string) => {
    if (!rejected.some((r) => r.conversationId === conversationId && r.via === via && r.reason === reason)) rejected.push({ conversationId, via, reason, reference });
  };

  // 1. Message-IDs we stored.
  for (const ref of refs) {
    const conv = lookups.conversationByMessageId(ref.id);
    if (!conv) continue;
    if (sameAddress(sender, conv.customerAddress)) return decide(conv, ref.via, ref.id, rejected);
    reject(conv.id, ref.via, 'sender-mismatch', ref.id);
  }

  // 2. Our reply token (verified), for replies whose ids we did not store or match.
  for (const ref of refs) {
    const check = verifyReplyToken(ref.id, opts.replyTokenKeys);
    if (!check.ok) {
      // The conversation a forged token claims, for the audit (never trusted).
      if (check.reason === 'bad-signature') reject(/^mr\.([A-Za-z0-9_-]+)\./.exec(ref.id)?.[1] ?? '?', 'reply-token', 'forged-token', ref.id);
      continue;
    }
    const conv = lookups.conversationById(check.conversationId);
    if (!conv) {
      reject(check.conversationId, 'reply-token', 'unknown-conversation', ref.id);
      continue;
    }
    if (opts.allowOtherSenderWithToken || sameAddress(sender, conv.customerAddress)) return decide(conv, 'reply-token', ref.id, rejected);
    reject(conv.id, 'reply-token', 'sender-mismatch', ref.id);
  }

  // 3. `[#1234]` in the subject: only with the customer's own address.
  for (const n of subjectNumbers(msg.subject, opts.subjectPattern)) {
    const conv = lookups.conversationByNumber(n);
    if (!conv) continue;
    if (sameAddress(sender, conv.customerAddress)) return decide(conv, 'subject-number', `[#${n}]`, rejected);
    reject(conv.id, 'subject-number', 'sender-mismatch', `[#${n}]`);
  }

  const reason =
    rejected.length > 0
      ? `New conversation: the referenced conversation${rejected.length > 1 ? 's do' : ' does'} not belong to the sender (${rejected.map((r) => `${r.conversationId} via ${r.via}: ${r.reason}`).join('; ')})`
      : refs.length > 0
        ? 'New conversation: none of the referenced messages is known'
        : 'New conversation: the message references no earlier message';
  return { action: 'new', reason, rejected };
}

/** Lookups over maps (convenient when the caller loaded rows for `threadingKeys`). */
export function lookupsFromMaps(data: {
  byMessageId?: ReadonlyMap<string, ConversationRef>;
  byId?: ReadonlyMap<string, ConversationRef>;
  byNumber?: ReadonlyMap<number, ConversationRef>;
}): ThreadLookups {
  return {
    conversationByMessageId: (id) => data.byMessageId?.get(normalizeMessageId(id)),
    conversationById: (id) => data.byId?.get(id),
    conversationByNumber: (n) => data.byNumber?.get(n),
  };
}
