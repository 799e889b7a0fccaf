/**
 * The spine of the product, on real peers: an email appended to Dovecot becomes a conversation,
 * is offered over the WebSocket to the right agent, accepted, answered; the answer reaches the
 * SMTP server with correct threading headers, and the customer's answer joins the conversation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, type EventStream } from '../helpers/api-client.js';
import { eventually, rawMail } from '../helpers/mail.js';
import { ADMIN_PASSWORD, startRuntime, type TestRuntime } from '../helpers/runtime.js';
import { startDovecot, type DovecotPeer } from '../peers/dovecot.js';
import { startSmtpSink, type SmtpSink } from '../peers/smtp-sink.js';

describe('the email path end to end', () => {
  let dovecot: DovecotPeer;
  let sink: SmtpSink;
  let rt: TestRuntime;
  let alice: ApiClient;
  let bob: ApiClient;
  let aliceEvents: EventStream;
  let bobEvents: EventStream;
  let conversationId: number;
  let customerMessageId: string;

  beforeAll(async () => {
    [dovecot, sink] = await Promise.all([startDovecot({ users: [{ user: 'support', password: 'support-pw' }] }), startSmtpSink({ tls: 'none' })]);
    rt = await startRuntime('pglite');
    const admin = new ApiClient(rt.url);
    await admin.login('admin', ADMIN_PASSWORD);
    const applied = await admin.request(
      'PUT',
      '/api/v1/config',
      `
senders:
  - { name: out, type: smtp, host: 127.0.0.1, port: ${sink.port}, security: none, from: "Example Support <support@example.com>" }
queues:
  - name: support
    sender: out
    skills: { billing: 3 }
    routing: { mode: offer, offer_timeout_s: 60 }
mailboxes:
  - { name: inbox, protocol: imap, host: 127.0.0.1, port: ${dovecot.imapPort}, security: none, auth: { user: support, password: support-pw }, queue: support }
users:
  - { login: alice, name: Alice, roles: [agent], password: alice-password-1, skills: { billing: 7 }, languages: { en: 10 } }
  - { login: bob, name: Bob, roles: [agent], password: bob-password-1, skills: { billing: 1 }, languages: { en: 10 } }
`,
      { 'content-type': 'application/yaml' },
    );
    expect(applied.status).toBe(200);
    alice = new ApiClient(rt.url);
    bob = new ApiClient(rt.url);
    await alice.login('alice', 'alice-password-1');
    await bob.login('bob', 'bob-password-1');
    aliceEvents = await alice.events();
    bobEvents = await bob.events();
    await alice.request('PUT', '/api/v1/me/state', { state: 'available' });
    await bob.request('PUT', '/api/v1/me/state', { state: 'available' });
  });
  afterAll(async () => {
    aliceEvents?.close();
    bobEvents?.close();
    await rt?.close();
    await Promise.all([dovecot?.stop(), sink?.stop()]);
  });

  it('a new email is offered to the agent with the skill, over the WebSocket', async () => {
    customerMessageId = 'first-question@customer.example';
    await dovecot.append('support', 'INBOX', rawMail({ messageId: customerMessageId, subject: 'Charged twice', body: 'Hello, I was charged twice for my last invoice. Could you refund one payment please?' }));
    const offer = await aliceEvents.next('offer.created', () => true, 20_000);
    expect(offer.data).toMatchObject({ subject: 'Charged twice', customer: 'carla@customer.example', queue: 'support' });
    conversationId = offer.data.conversationId;
    expect(bobEvents.frames.filter((f) => f.type === 'offer.created')).toEqual([]);
    expect((await alice.request('GET', '/api/v1/me/offers')).body).toEqual([
      { id: offer.data.id, conversationId, expiresAt: offer.data.expiresAt, subject: 'Charged twice', customer: 'carla@customer.example', customerName: 'Carla Customer', queue: 'support' },
    ]);
    // Bob may not read it; Alice may, before accepting.
    expect((await bob.request('GET', `/api/v1/conversations/${conversationId}`)).status).toBe(404);
    expect((await alice.request('GET', `/api/v1/conversations/${conversationId}`)).body.state).toBe('offered');
    const accepted = await alice.request('POST', `/api/v1/offers/${offer.data.id}/accept`);
    expect(accepted.body).toEqual({ conversationId });
    expect((await alice.request('POST', `/api/v1/offers/${offer.data.id}/accept`)).body.error.code).toBe('OFFER_CLOSED');
  });

  it('the agent reads the whole conversation and its routing audit explains the choice', async () => {
    const conv = await alice.request('GET', `/api/v1/conversations/${conversationId}`);
    expect(conv.body).toMatchObject({ state: 'assigned', assignee: 'alice', queue: 'support', customer: { address: 'carla@customer.example' } });
    expect(conv.body.messages).toHaveLength(1);
    expect(conv.body.messages[0]).toMatchObject({ direction: 'inbound', subject: 'Charged twice', from: { address: 'carla@customer.example' } });
    expect(conv.body.messages[0].text).toContain('charged twice');
    const sup = new ApiClient(rt.url);
    await sup.login('admin', ADMIN_PASSWORD);
    const audit = await sup.request('GET', `/api/v1/conversations/${conversationId}/routing`);
    const offered = audit.body.decisions.find((d: { outcome: string }) => d.outcome === 'offered');
    expect(offered.agent).toBe('alice');
    expect(offered.candidates.find((c: { login: string }) => c.login === 'alice')).toMatchObject({ eligible: true });
    expect(JSON.stringify(offered)).toMatch(/billing/);
    expect(audit.body.decisions.map((d: { outcome: string }) => d.outcome)).toEqual(['offered', 'accepted']);
  });

  it('the reply is sent with threading headers and shows as sent', async () => {
    const r = await alice.request('POST', `/api/v1/conversations/${conversationId}/replies`, { text: 'We have refunded the second payment.' });
    expect(r.status).toBe(202);
    expect(r.body.delivery).toBe('queued');
    const got = await sink.waitFor((m) => m.raw.includes('refunded the second payment'), 20_000);
    // RFC 5322 §2.2.3: header fields may be folded; read them unfolded.
    const text = got.raw.toString().replace(/\r\n[ \t]+/g, ' ');
    expect(got.to).toEqual(['carla@customer.example']);
    expect(text).toMatch(new RegExp(`^In-Reply-To: <${customerMessageId}>`, 'm'));
    expect(text).toMatch(new RegExp(`^References: <${customerMessageId}>`, 'm'));
    expect(text).toMatch(/^Message-ID: <mr\.\d+\.[0-9a-f]{16}\.[0-9a-f]{32}@example\.com>/m);
    expect(text).toMatch(new RegExp(`^Subject: Re: Charged twice \\[#${conversationId}\\]`, 'm'));
    expect(text).toMatch(/^From: Example Support <support@example\.com>/m);
    const msg = await eventually(async () => {
      const m = await alice.request('GET', `/api/v1/messages/${r.body.messageId}`);
      return m.body.delivery === 'sent' ? m : null;
    }, 10_000, 'delivery sent');
    expect(msg.body.direction).toBe('outbound');
    expect((await alice.request('GET', `/api/v1/conversations/${conversationId}`)).body.state).toBe('waiting');
  });

  it("the customer's answer joins the same conversation and goes back to the agent", async () => {
    const ours = /^Message-ID: <([^>]+)>/m.exec(sink.messages.at(-1)!.raw.toString().replace(/\r\n[ \t]+/g, ' '))![1]!;
    await dovecot.append('support', 'INBOX', rawMail({ subject: `Re: Charged twice [#${conversationId}]`, inReplyTo: ours, references: [customerMessageId, ours], body: 'Thank you, that solved it.' }));
    const conv = await eventually(async () => {
      const c = await alice.request('GET', `/api/v1/conversations/${conversationId}`);
      return c.body.messages.length === 3 ? c : null;
    }, 20_000, 'the answer in the conversation');
    expect(conv.body.state).toBe('assigned');
    expect(conv.body.messages.map((m: { direction: string }) => m.direction)).toEqual(['inbound', 'outbound', 'inbound']);
    await aliceEvents.next('conversation.updated', (d) => d.id === conversationId && d.newMessageId !== undefined);
  });

  it('handled, then a new customer message reopens it and it is offered again', async () => {
    expect((await alice.request('POST', `/api/v1/conversations/${conversationId}/handled`)).body.state).toBe('handled');
    const before = aliceEvents.frames.filter((f) => f.type === 'offer.created').length;
    await dovecot.append('support', 'INBOX', rawMail({ subject: `Re: Charged twice [#${conversationId}]`, inReplyTo: customerMessageId, body: 'One more question about the refund date.' }));
    await eventually(async () => aliceEvents.frames.filter((f) => f.type === 'offer.created' && f.data.conversationId === conversationId).length > 0 && aliceEvents.frames.filter((f) => f.type === 'offer.created').length > before, 20_000, 'a new offer');
    const conv = await alice.request('GET', `/api/v1/conversations/${conversationId}`);
    expect(conv.body.state).toBe('offered');
    expect(conv.body.messages).toHaveLength(4);
  });

  it('a message from someone else quoting this conversation starts a new one instead', async () => {
    await dovecot.append('support', 'INBOX', rawMail({ from: 'Mallory <mallory@evil.example>', subject: `Re: Charged twice [#${conversationId}]`, inReplyTo: customerMessageId, body: 'Please send me the invoice details.' }));
    const offer = await aliceEvents.next('offer.created', (d) => d.customer === 'mallory@evil.example', 20_000);
    expect(offer.data.conversationId).not.toBe(conversationId);
  });
});
