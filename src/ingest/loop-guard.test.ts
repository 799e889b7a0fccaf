import { describe, expect, it } from 'vitest';
import { rawMessage } from './fixtures/test-messages.js';
import { autoAckHeaders, decideAutoAck, type LoopGuardInput } from './loop-guard.js';
import { classifyMessage, type Classification } from './message-classifier.js';
import { parseMessage } from './mime-parser.js';
import type { ParsedMessage } from './parse-types.js';

const HOUR = 3_600_000;
const now = Date.UTC(2025, 6, 1, 12);

async function parsed(headers: Record<string, string | string[]>): Promise<ParsedMessage> {
  const r = await parseMessage(rawMessage(headers));
  if (!r.ok) throw new Error(r.failure.reason);
  return r.message;
}

function input(m: ParsedMessage, over: Partial<LoopGuardInput> = {}): LoopGuardInput {
  return {
    classification: classifyMessage(m),
    recipient: m.replyTo[0]?.address ?? m.from?.address ?? null,
    returnPath: m.returnPath,
    xLoop: m.headers['x-loop'] ?? [],
    ownAddresses: ['support@example.net', 'billing@example.net'],
    loopId: 'mailroom-support@example.net',
    history: [],
    now,
    ...over,
  };
}

describe('decideAutoAck', () => {
  it('answers an ordinary customer message', async () => {
    expect(decideAutoAck(input(await parsed({ From: 'Ann <ann@example.com>', Subject: 'Help' })))).toEqual({ send: true });
  });

  it.each([
    ['an auto-reply', { 'Auto-Submitted': 'auto-replied' }, 'automated'],
    ['an out-of-office notice', { Subject: 'Out of Office: Help' }, 'automated'],
    ['a list message', { 'List-Id': '<users.example.org>' }, 'mailing-list'],
    ['a bounce (null sender)', { 'Return-Path': '<>' }, 'null-sender'],
    ['a message with our X-Loop', { 'X-Loop': 'MAILROOM-support@example.net' }, 'own-loop-header'],
    ['a sender suppressing auto-responses', { 'X-Auto-Response-Suppress': 'OOF, AutoReply' }, 'sender-suppressed'],
  ])('never answers %s', async (_name, headers, reason) => {
    const d = decideAutoAck(input(await parsed({ From: 'ann@example.com', Subject: 'Help', ...headers })));
    expect(d).toMatchObject({ send: false, reason });
  });

  it('never answers our own addresses, in any case', async () => {
    expect(decideAutoAck(input(await parsed({ From: 'Support <SUPPORT@Example.NET>' })))).toMatchObject({ send: false, reason: 'own-address' });
  });

  it('answers at most 3 times per address per hour by default', async () => {
    const m = await parsed({ From: 'ann@example.com' });
    expect(decideAutoAck(input(m, { history: [now - 10, now - 20] }))).toEqual({ send: true });
    expect(decideAutoAck(input(m, { history: [now - 10, now - 20, new Date(now - 30)] }))).toMatchObject({ send: false, reason: 'rate-limited' });
    expect(decideAutoAck(input(m, { history: [now - HOUR - 1, now - 2 * HOUR, now - 3 * HOUR] }))).toEqual({ send: true });
    expect(decideAutoAck(input(m, { history: [now - 10], limit: { max: 1, windowMs: 60_000 } }))).toMatchObject({ send: false, reason: 'rate-limited' });
  });

  it('gives our acknowledgement the headers that stop other responders', () => {
    expect(autoAckHeaders('mailroom-support@example.net')).toEqual({
      'Auto-Submitted': 'auto-replied',
      'X-Loop': 'mailroom-support@example.net',
      Precedence: 'bulk',
      'X-Auto-Response-Suppress': 'All',
    });
  });

  it('stops a loop between two queues that acknowledge each other', async () => {
    // Queue A (a@…) and queue B (b@…) each auto-acknowledge what they receive. Each ack is
    // built with autoAckHeaders; B sees A's ack and must not answer it, and vice versa.
    type Side = { address: string; loopId: string; sent: number[] };
    const a: Side = { address: 'a@queue-a.example', loopId: 'mailroom-a', sent: [] };
    const b: Side = { address: 'b@queue-b.example', loopId: 'mailroom-b', sent: [] };
    const ack = (from: Side) => parsed({ From: from.address, Subject: 'We got your message [#1]', ...autoAckHeaders(from.loopId) });
    type Mail = { to: Side; from: Side; msg: ParsedMessage };
    let inFlight: Mail | null = { to: b, from: a, msg: await parsed({ From: a.address, Subject: 'Hello' }) };
    let rounds = 0;
    while (inFlight && rounds < 100) {
      rounds++;
      const { to, from, msg }: Mail = inFlight;
      const d = decideAutoAck(input(msg, { ownAddresses: [to.address], loopId: to.loopId, history: to.sent, now: now + rounds }));
      inFlight = d.send ? { to: from, from: to, msg: await ack(to) } : null;
      if (d.send) to.sent.push(now + rounds);
    }
    expect(rounds).toBe(2);
    expect(a.sent.length + b.sent.length).toBe(1);
  });

  it('stops a loop with a responder that strips our headers, by the rate limit', async () => {
    // The other side ignores Auto-Submitted and strips X-Loop: only the per-address limit is left.
    const sent: number[] = [];
    let replies = 0;
    for (let i = 0; i < 50; i++) {
      const m = await parsed({ From: 'naive-responder@example.org', Subject: `Re: We got your message [#${i}]` });
      const c: Classification = classifyMessage(m);
      const d = decideAutoAck({ ...input(m), classification: c, history: sent, now: now + i * 1000 });
      if (d.send) {
        sent.push(now + i * 1000);
        replies++;
      }
    }
    expect(replies).toBe(3);
  });
});
