import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createReplyMessageId } from './reply-token.js';
import { lookupsFromMaps, resolveThread, threadingKeys, type ConversationRef, type ThreadInput } from './thread-resolver.js';

const KEY = 'thread-test-key-0123456789abcdef';
const opts = { replyTokenKeys: KEY };

const alice: ConversationRef = { id: '10', customerAddress: 'Alice@Example.com', state: 'assigned' };
const bob: ConversationRef = { id: '20', customerAddress: 'bob@example.org', state: 'handled' };
const lookups = lookupsFromMaps({
  byMessageId: new Map([
    ['alice-1@example.com', alice],
    ['our-reply-1@support.example.net', alice],
    ['bob-1@example.org', bob],
  ]),
  byId: new Map([
    ['10', alice],
    ['20', bob],
  ]),
  byNumber: new Map([
    [1010, alice],
    [2020, bob],
  ]),
});

function msg(over: Partial<ThreadInput>): ThreadInput {
  return { messageId: 'new@example.com', inReplyTo: [], references: [], subject: 'Hello', from: { address: 'alice@example.com' }, ...over };
}

describe('resolveThread', () => {
  it('joins the conversation of the In-Reply-To message when the sender is its customer', () => {
    const d = resolveThread(msg({ inReplyTo: ['<our-reply-1@support.example.net>'] }), lookups, opts);
    expect(d).toMatchObject({ action: 'join', conversationId: '10', via: 'in-reply-to' });
  });

  it('uses References newest first when In-Reply-To is unknown', () => {
    const d = resolveThread(msg({ inReplyTo: ['unknown@x'], references: ['alice-1@example.com', 'unknown@x'] }), lookups, opts);
    expect(d).toMatchObject({ action: 'join', conversationId: '10', via: 'references', reference: 'alice-1@example.com' });
  });

  it('reopens a handled conversation', () => {
    const d = resolveThread(msg({ from: { address: 'BOB@example.org' }, references: ['bob-1@example.org'] }), lookups, opts);
    expect(d).toMatchObject({ action: 'reopen', conversationId: '20' });
  });

  it('never joins another customer’s conversation through a forged reference', () => {
    const d = resolveThread(msg({ from: { address: 'mallory@evil.example' }, inReplyTo: ['alice-1@example.com'], subject: 'Re: [#1010]' }), lookups, opts);
    expect(d.action).toBe('new');
    expect(d.rejected).toEqual([
      { conversationId: '10', via: 'in-reply-to', reason: 'sender-mismatch', reference: 'alice-1@example.com' },
      { conversationId: '10', via: 'subject-number', reason: 'sender-mismatch', reference: '[#1010]' },
    ]);
  });

  it('joins by our reply token when the stored ids are unknown', () => {
    const token = createReplyMessageId('10', { keys: KEY, domain: 'support.example.net' });
    const d = resolveThread(msg({ inReplyTo: [token.header] }), lookups, opts);
    expect(d).toMatchObject({ action: 'join', conversationId: '10', via: 'reply-token' });
  });

  it('ignores a forged reply token and records it', () => {
    const token = createReplyMessageId('20', { keys: 'another-key-that-is-not-ours!!!!', domain: 'support.example.net' });
    const d = resolveThread(msg({ from: { address: 'bob@example.org' }, inReplyTo: [token.messageId] }), lookups, opts);
    expect(d.action).toBe('new');
    expect(d.rejected[0]).toMatchObject({ conversationId: '20', via: 'reply-token', reason: 'forged-token' });
  });

  it('does not let a valid token from another sender join, unless the queue allows it', () => {
    const token = createReplyMessageId('10', { keys: KEY, domain: 'support.example.net' });
    const colleague = msg({ from: { address: 'carol@example.com' }, references: [token.messageId] });
    expect(resolveThread(colleague, lookups, opts)).toMatchObject({ action: 'new', rejected: [{ conversationId: '10', reason: 'sender-mismatch' }] });
    expect(resolveThread(colleague, lookups, { ...opts, allowOtherSenderWithToken: true })).toMatchObject({ action: 'join', conversationId: '10' });
  });

  it('uses [#number] in the subject only as the last resort and only for the customer', () => {
    expect(resolveThread(msg({ subject: 'Re: We got your message [#1010]' }), lookups, opts)).toMatchObject({ action: 'join', conversationId: '10', via: 'subject-number' });
    // A reference wins over the subject.
    expect(resolveThread(msg({ from: { address: 'bob@example.org' }, subject: '[#1010]', inReplyTo: ['bob-1@example.org'] }), lookups, opts)).toMatchObject({ conversationId: '20', via: 'in-reply-to' });
  });

  it('starts a new conversation when nothing is referenced, and ignores the message’s own id', () => {
    expect(resolveThread(msg({}), lookups, opts)).toMatchObject({ action: 'new', rejected: [] });
    expect(resolveThread(msg({ messageId: 'alice-1@example.com', references: ['alice-1@example.com'] }), lookups, opts).action).toBe('new');
  });

  it('names what to load: referenced ids, verified token conversations, subject numbers', () => {
    const token = createReplyMessageId('10', { keys: KEY, domain: 'x.example' });
    const keys = threadingKeys(msg({ inReplyTo: ['<a@x>'], references: ['b@x', token.messageId, 'a@x'], subject: 'Re: [#5] [#6]' }), opts);
    expect(keys).toEqual({ messageIds: ['a@x', token.messageId, 'b@x'], conversationIds: ['10'], numbers: [5, 6] });
  });

  it('property: a sender who is not the customer never joins, whatever it references', () => {
    const conversations = [alice, bob];
    fc.assert(
      fc.property(
        fc.emailAddress(),
        fc.array(fc.constantFrom('alice-1@example.com', 'our-reply-1@support.example.net', 'bob-1@example.org', 'x@y'), { maxLength: 5 }),
        fc.constantFrom('', '[#1010]', '[#2020]', 'Re: [#1010] [#2020]'),
        (from, refs, subject) => {
          const d = resolveThread(msg({ from: { address: from }, references: refs, inReplyTo: refs.slice(0, 1), subject }), lookups, opts);
          if (d.action !== 'new') {
            const conv = conversations.find((c) => c.id === d.conversationId)!;
            expect(from.toLowerCase()).toBe(conv.customerAddress.toLowerCase());
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
