/**
 * Builds the exact bytes of an outgoing reply once, when it enters the outbox: From the queue's
 * sender, a fixed Message-ID carrying the signed reply token, In-Reply-To and References of the
 * thread, and the conversation number in the subject. Retries send these same bytes.
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import { createReplyMessageId, sanitizeHeaderValue } from '../ingest/index.js';

export interface ReplyInput {
  conversationId: number;
  from: string;
  to: { address: string; name: string | null };
  cc: string[];
  subject: string;
  text: string;
  html?: string;
  /** Message-IDs of the thread, oldest first (bare). */
  thread: string[];
  keys: Buffer[];
  /** Use this subject as is (an auto-acknowledgement's template) instead of "Re: …". */
  subjectOverride?: string;
  /** More header fields (Auto-Submitted, X-Loop…), values made header-safe here. */
  headers?: Record<string, string>;
}

export interface ComposedReply {
  raw: Buffer;
  messageId: string;
  subject: string;
  inReplyTo: string | null;
  references: string[];
  envelopeFrom: string;
}

export function replySubject(subject: string, conversationId: number): string {
  const base = sanitizeHeaderValue(subject).trim();
  const withRe = /^(re|aw|sv|antw|réf|rif)\s*:/i.test(base) ? base : `Re: ${base || '(no subject)'}`;
  return withRe.includes(`[#${conversationId}]`) ? withRe : `${withRe} [#${conversationId}]`;
}

/**
 * The bare address inside `Name <addr>` (or the string itself). The angle-addr is the one that
 * ends the string (RFC 5322 §3.4 name-addr): a display name may itself hold `<` or `@`.
 */
export function addressOf(from: string): string {
  return (/<([^<>]*)>\s*$/.exec(from)?.[1] ?? from).trim();
}

export async function composeReply(input: ReplyInput): Promise<ComposedReply> {
  const envelopeFrom = addressOf(input.from);
  const domain = envelopeFrom.split('@')[1] ?? 'mailroom.invalid';
  const id = createReplyMessageId(input.conversationId, { keys: input.keys, domain });
  // RFC 5322 §3.6.4: References = the parent's References + the parent's Message-ID; keep it bounded.
  const references = input.thread.slice(-20);
  const inReplyTo = references.at(-1) ?? null;
  const subject = input.subjectOverride !== undefined ? sanitizeHeaderValue(input.subjectOverride) : replySubject(input.subject, input.conversationId);
  const composer = new MailComposer({
    from: sanitizeHeaderValue(input.from),
    to: { name: sanitizeHeaderValue(input.to.name ?? ''), address: input.to.address },
    ...(input.cc.length ? { cc: input.cc } : {}),
    subject,
    messageId: id.header,
    ...(inReplyTo ? { inReplyTo: `<${inReplyTo}>` } : {}),
    ...(references.length ? { references: references.map((r) => `<${r}>`).join(' ') } : {}),
    date: new Date(),
    text: input.text,
    ...(input.html ? { html: input.html } : {}),
    ...(input.headers ? { headers: Object.fromEntries(Object.entries(input.headers).map(([k, v]) => [k, sanitizeHeaderValue(v)])) } : {}),
  });
  const raw = await composer.compile().build();
  return { raw, messageId: id.messageId, subject, inReplyTo, references, envelopeFrom };
}
