import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyReplyToken } from '../ingest/index.js';
import { addressOf, composeReply, replySubject } from './reply-composer.js';

const keys = [Buffer.alloc(32, 7)];
const headerBlock = (raw: Buffer) => raw.toString('utf8').split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' ');

describe('composeReply', () => {
  it('threads with In-Reply-To, References and a signed Message-ID naming the conversation', async () => {
    const r = await composeReply({ conversationId: 42, from: 'Support <support@example.com>', to: { address: 'c@x.example', name: 'Carla' }, cc: [], subject: 'Help', text: 'Hi', thread: ['a@x', 'b@x'], keys });
    const head = headerBlock(r.raw);
    expect(head).toMatch(/^In-Reply-To: <b@x>$/m);
    expect(head).toMatch(/^References: <a@x> <b@x>$/m);
    expect(head).toMatch(/^Subject: Re: Help \[#42\]$/m);
    expect(verifyReplyToken(r.messageId, keys)).toEqual({ ok: true, conversationId: '42' });
    expect(r.envelopeFrom).toBe('support@example.com');
  });

  it('finds the address that ends a name-addr, whatever the display name holds', () => {
    expect(addressOf('Support <support@example.com>')).toBe('support@example.com');
    // fast-check found this one: a name with "<@" took the address from the wrong bracket.
    expect(addressOf('Support<@\r\nX-From-Inject: 1 <support@example.com>')).toBe('support@example.com');
    expect(addressOf('"a <b@c>" <support@example.com> ')).toBe('support@example.com');
    expect(addressOf('support@example.com')).toBe('support@example.com');
  });

  it('never lets CR, LF, NUL or U+2028 in a subject or a name start a header of its own', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), async (junk, name) => {
        const subject = `Hello${junk}\r\nBcc: victim@evil.example\u2028X-Injected: 1\u0000`;
        const r = await composeReply({ conversationId: 7, from: `Support${name}\r\nX-From-Inject: 1 <support@example.com>`, to: { address: 'c@x.example', name: `${name}\nX-To-Inject: 1` }, cc: [], subject, text: 'body', thread: [], keys });
        const head = headerBlock(r.raw);
        expect(head).not.toMatch(/^(Bcc|X-Injected|X-From-Inject|X-To-Inject):/im);
        expect(head.includes("\u0000") || head.includes("\u2028")).toBe(false);
      }),
      { numRuns: 60, examples: [["", "<@"]] },
    );
  });

  it('keeps Re: and the number only once', () => {
    expect(replySubject('Re: Help [#5]', 5)).toBe('Re: Help [#5]');
    expect(replySubject('AW: Hilfe', 5)).toBe('AW: Hilfe [#5]');
    expect(replySubject('', 5)).toBe('Re: (no subject) [#5]');
  });
});
