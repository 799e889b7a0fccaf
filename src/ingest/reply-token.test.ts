import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../domain/errors.js';
import { createReplyMessageId, looksLikeReplyToken, verifyReplyToken } from './reply-token.js';

const KEY = 'k'.repeat(16) + 'secret-material!';
const OLD = 'o'.repeat(32);

describe('reply token', () => {
  it('creates a Message-ID that verifies to its conversation', () => {
    const id = createReplyMessageId(1234, { keys: KEY, domain: 'Support.Example.COM' });
    expect(id.header).toBe(`<${id.messageId}>`);
    expect(id.messageId).toMatch(/^mr\.1234\.[0-9a-f]{16}\.[0-9a-f]{32}@support\.example\.com$/);
    expect(verifyReplyToken(id.messageId, KEY)).toEqual({ ok: true, conversationId: '1234' });
    expect(verifyReplyToken(id.header, KEY)).toEqual({ ok: true, conversationId: '1234' });
  });

  it('is fixed for a fixed nonce (an outbox retry reuses the same Message-ID)', () => {
    const a = createReplyMessageId('c-1', { keys: KEY, domain: 'example.com', nonce: '00112233aabbccdd' });
    const b = createReplyMessageId('c-1', { keys: KEY, domain: 'example.com', nonce: '00112233aabbccdd' });
    expect(a).toEqual(b);
  });

  it('survives a client that upper- or lower-cases the hex parts', () => {
    const { messageId } = createReplyMessageId(77, { keys: KEY, domain: 'example.com' });
    const [left, domain] = messageId.split('@');
    const parts = left!.split('.');
    const upper = `${parts[0]}.${parts[1]}.${parts[2]!.toUpperCase()}.${parts[3]!.toUpperCase()}@${domain}`;
    expect(verifyReplyToken(upper, KEY)).toEqual({ ok: true, conversationId: '77' });
  });

  it('rejects a token moved to another conversation, an altered nonce or MAC, and another key', () => {
    const { messageId } = createReplyMessageId(1234, { keys: KEY, domain: 'example.com' });
    expect(verifyReplyToken(messageId.replace('mr.1234.', 'mr.1235.'), KEY)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyReplyToken(messageId.replace(/\.([0-9a-f])/, (m, c: string) => `.${c === '0' ? '1' : '0'}`), KEY).ok).toBe(false);
    expect(verifyReplyToken(messageId.replace(/[0-9a-f]@/, (m) => `${m[0] === '0' ? '1' : '0'}@`), KEY).ok).toBe(false);
    expect(verifyReplyToken(messageId, OLD)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('verifies with previous keys after a rotation, signs with the first', () => {
    const old = createReplyMessageId(9, { keys: OLD, domain: 'example.com' });
    expect(verifyReplyToken(old.messageId, [KEY, OLD])).toEqual({ ok: true, conversationId: '9' });
    const fresh = createReplyMessageId(9, { keys: [KEY, OLD], domain: 'example.com' });
    expect(verifyReplyToken(fresh.messageId, KEY).ok).toBe(true);
  });

  it('says "not a token" for ordinary Message-IDs and garbage', () => {
    for (const id of ['abc@example.com', '<CAF=xyz@mail.gmail.com>', '', 'mr.1.2.3@x', 'mr..0011223344556677.00112233445566778899aabbccddeeff@x']) {
      expect(verifyReplyToken(id, KEY)).toEqual({ ok: false, reason: 'not-a-token' });
      expect(looksLikeReplyToken(id)).toBe(false);
    }
  });

  it('refuses short keys and ids that cannot be carried', () => {
    expect(() => createReplyMessageId(1, { keys: 'short', domain: 'example.com' })).toThrow(AppError);
    expect(() => createReplyMessageId('a.b', { keys: KEY, domain: 'example.com' })).toThrow(/cannot be carried/);
    expect(() => createReplyMessageId(1, { keys: KEY, domain: 'exa mple.com' })).toThrow(AppError);
  });

  it('property: every conversation id round-trips and every single-character change fails', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.nat(), fc.constantFrom(...'0123456789abcdefxyz-_.'.split('')), (conv, pos, ch) => {
        const { messageId } = createReplyMessageId(conv, { keys: KEY, domain: 'example.com' });
        expect(verifyReplyToken(messageId, KEY)).toEqual({ ok: true, conversationId: conv });
        const left = messageId.slice(0, messageId.indexOf('@'));
        const i = pos % left.length;
        if (left[i]!.toLowerCase() === ch || i < 3) return; // "mr." and case-only changes are not tampering
        const tampered = `${left.slice(0, i)}${ch}${left.slice(i + 1)}${messageId.slice(left.length)}`;
        const check = verifyReplyToken(tampered, KEY);
        if (check.ok) expect(check.conversationId).not.toBe(conv);
        expect(check.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
