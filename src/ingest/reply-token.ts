/**
 * The reply token: our outgoing Message-IDs name their conversation and carry an HMAC over it,
 * `<mr.{conversation}.{nonce}.{mac}@{domain}>`. A customer's reply quotes it in In-Reply-To and
 * References (RFC 5322 §3.6.4), so it threads back even when the customer's client or an
 * intermediate system dropped our stored Message-IDs, and nobody can make a message join another
 * customer's conversation by guessing ids: the MAC needs the key.
 *
 * - `{conversation}`: the conversation id as text, `[A-Za-z0-9_-]{1,64}` (numbers, UUIDs).
 * - `{nonce}`: 16 hex digits, random unless the caller fixes it (an outbox row id makes a retried
 *   send reuse the same Message-ID).
 * - `{mac}`: the first 128 bits of HMAC-SHA256(key, "mr.{conversation}.{nonce}"), lower-case
 *   hex, so a client that lower-cases the id (some do) does not break it. The domain is not
 *   signed: relays may rewrite it.
 *
 * Keys rotate: sign with the first key, verify against all of them.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '../domain/errors.js';
import { normalizeMessageId } from './header-fields.js';

export type ReplyTokenKey = string | Uint8Array;

/** Prefix of our Message-IDs' left part. */
export const REPLY_TOKEN_PREFIX = 'mr';

const CONVERSATION_ID = /^[A-Za-z0-9_-]{1,64}$/;
const NONCE = /^[0-9a-f]{16}$/;
const TOKEN = /^mr\.([A-Za-z0-9_-]{1,64})\.([0-9a-fA-F]{16})\.([0-9a-fA-F]{32})@[^@\s]+$/;

function keyBytes(key: ReplyTokenKey): Buffer {
  const b = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  if (b.length < 16) {
    throw new AppError('REPLY_TOKEN_KEY_INVALID', 'The reply token key is shorter than 16 bytes', {
      status: 500,
      hint: 'Derive the reply token key from MAILROOM_SECRET_KEY (32 bytes); never use a short literal.',
    });
  }
  return b;
}

function mac(key: ReplyTokenKey, conversationId: string, nonce: string): Buffer {
  return createHmac('sha256', keyBytes(key)).update(`${REPLY_TOKEN_PREFIX}.${conversationId}.${nonce}`).digest().subarray(0, 16);
}

export interface ReplyMessageId {
  /** Bare Message-ID (`mr.…@domain`), as stored and compared. */
  messageId: string;
  /** The header value, `<mr.…@domain>`. */
  header: string;
}

/**
 * A Message-ID for an outgoing message of a conversation. Throws AppError
 * `REPLY_TOKEN_KEY_INVALID` / `INVALID_REQUEST` for a short key, a bad id, domain or nonce
 * (programming errors, not input).
 */
export function createReplyMessageId(
  conversationId: string | number,
  opts: { keys: ReplyTokenKey | readonly ReplyTokenKey[]; domain: string; nonce?: string },
): ReplyMessageId {
  const conv = String(conversationId);
  if (!CONVERSATION_ID.test(conv)) {
    throw new AppError('INVALID_REQUEST', `Conversation id "${conv.slice(0, 80)}" cannot be carried in a reply token`, {
      hint: 'Use ids of letters, digits, "-" and "_" (at most 64).',
    });
  }
  const domain = opts.domain.trim().toLowerCase();
  if (!/^[a-z0-9.-]+$/.test(domain) || domain.startsWith('.') || domain.endsWith('.')) {
    throw new AppError('INVALID_REQUEST', `"${opts.domain}" is not a domain for a Message-ID`, { hint: 'Use the sender address domain, e.g. example.com.' });
  }
  const nonce = opts.nonce ?? randomBytes(8).toString('hex');
  if (!NONCE.test(nonce)) throw new AppError('INVALID_REQUEST', 'A reply token nonce is 16 lower-case hex digits', { hint: 'Omit the nonce for a random one.' });
  const key = Array.isArray(opts.keys) ? (opts.keys as ReplyTokenKey[])[0] : (opts.keys as ReplyTokenKey);
  if (key === undefined) throw new AppError('REPLY_TOKEN_KEY_INVALID', 'No reply token key was given', { status: 500, hint: 'Pass at least one key.' });
  const id = `${REPLY_TOKEN_PREFIX}.${conv}.${nonce}.${mac(key, conv, nonce).toString('hex')}@${domain}`;
  return { messageId: id, header: `<${id}>` };
}

export type ReplyTokenCheck =
  | { ok: true; conversationId: string }
  | { ok: false; reason: 'not-a-token' | 'bad-signature' };

/**
 * Checks whether a Message-ID (bare or in angle brackets) is one of ours and untampered. Pure
 * and constant-time in the MAC comparison. Never throws for any input id (a short key still
 * throws, see `createReplyMessageId`).
 */
export function verifyReplyToken(messageId: string, keys: ReplyTokenKey | readonly ReplyTokenKey[]): ReplyTokenCheck {
  const m = TOKEN.exec(normalizeMessageId(messageId));
  if (!m) return { ok: false, reason: 'not-a-token' };
  const conv = m[1]!;
  const nonce = m[2]!.toLowerCase();
  const given = Buffer.from(m[3]!.toLowerCase(), 'hex');
  const list = (Array.isArray(keys) ? keys : [keys]) as ReplyTokenKey[];
  for (const key of list) {
    if (timingSafeEqual(given, mac(key, conv, nonce))) return { ok: true, conversationId: conv };
  }
  return { ok: false, reason: 'bad-signature' };
}

/** Whether an id looks like one of our tokens (signature not checked): for logging forged ones. */
export function looksLikeReplyToken(messageId: string): boolean {
  return TOKEN.test(normalizeMessageId(messageId));
}
