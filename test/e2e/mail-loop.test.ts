/**
 * Mail loops (issue 7): two Mailroom installations whose queues auto-acknowledge, joined by a
 * relay, stop after the first acknowledgement (it is marked Auto-Submitted); a peer that does
 * not mark its mail gets at most 3 acknowledgements an hour.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../helpers/api-client.js';
import { eventually, rawMail } from '../helpers/mail.js';
import { ADMIN_PASSWORD, startRuntime, type TestRuntime } from '../helpers/runtime.js';
import { startDovecot, type DovecotPeer } from '../peers/dovecot.js';
import { startSmtpSink, type SmtpSink } from '../peers/smtp-sink.js';

const config = (me: string, dovecot: DovecotPeer, sink: SmtpSink) => ({
  senders: [{ name: 'out', type: 'smtp', host: '127.0.0.1', port: sink.port, security: 'none', from: `Desk ${me.toUpperCase()} <${me}@example.com>` }],
  queues: [{ name: 'desk', sender: 'out', auto_ack: { subject: 'We got your message [#{number}]', text: 'Thank you, we will answer soon. Your reference: {number}.' } }],
  mailboxes: [{ name: 'inbox', protocol: 'imap', host: '127.0.0.1', port: dovecot.imapPort, security: 'none', auth: { user: `${me}@example.com`, password: 'pw-123456' }, queue: 'desk' }],
});

describe('auto-acknowledgements never loop', () => {
  let dovecot: DovecotPeer;
  let sinkA: SmtpSink;
  let sinkB: SmtpSink;
  let a: TestRuntime;
  let b: TestRuntime;
  let relay: NodeJS.Timeout;
  const forwarded = new Set<string>();

  beforeAll(async () => {
    dovecot = await startDovecot({ users: ['a@example.com', 'b@example.com', 'c@example.com'].map((user) => ({ user, password: 'pw-123456' })) });
    [sinkA, sinkB] = await Promise.all([startSmtpSink({ tls: 'none' }), startSmtpSink({ tls: 'none' })]);
    // The relay: whatever either installation sends to a local user lands in that user's INBOX.
    relay = setInterval(() => {
      for (const m of [...sinkA.messages, ...sinkB.messages]) {
        if (forwarded.has(m.id)) continue;
        forwarded.add(m.id);
        for (const to of m.to) if (/@example\.com$/.test(to)) void dovecot.append(to, 'INBOX', m.raw).catch(() => undefined);
      }
    }, 50);
    [a, b] = await Promise.all([startRuntime('pglite'), startRuntime('pglite')]);
    for (const [rt, me, sink] of [[a, 'a', sinkA], [b, 'b', sinkB]] as const) {
      const c = new ApiClient(rt.url);
      await c.login('admin', ADMIN_PASSWORD);
      expect((await c.request('PUT', '/api/v1/config', config(me, dovecot, sink))).status).toBe(200);
    }
  });
  afterAll(async () => {
    clearInterval(relay);
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([dovecot?.stop(), sinkA?.stop(), sinkB?.stop()]);
  });

  it('two installations acknowledging each other stop after one acknowledgement', async () => {
    // B's address writes to A as a person would: A acknowledges to B, B must not answer that.
    await dovecot.append('a@example.com', 'INBOX', rawMail({ from: 'Desk B <b@example.com>', to: 'a@example.com', subject: 'Question from B' }));
    const ack = await sinkA.waitFor((m) => m.to.includes('b@example.com'), 20_000);
    const text = ack.raw.toString().replace(/\r\n[ \t]+/g, ' ');
    expect(text).toMatch(/^Auto-Submitted: auto-replied/m);
    expect(text).toMatch(/^X-Loop: mailroom-[0-9a-f]{16}/m);
    expect(text).toMatch(/^Subject: We got your message \[#\d+\]/m);
    // B receives it, files it as an auto-reply without work, and sends nothing.
    const bAdmin = new ApiClient(b.url);
    await bAdmin.login('admin', ADMIN_PASSWORD);
    const q = await eventually(async () => {
      const r = await bAdmin.request('GET', '/api/v1/quarantine');
      return r.body.items.length > 0 ? r.body.items : null;
    }, 20_000, 'the acknowledgement kept in B');
    expect(q[0].reason).toMatch(/^auto-reply/);
    await new Promise((r) => setTimeout(r, 3000));
    expect(sinkB.messages).toHaveLength(0);
    expect(sinkA.messages).toHaveLength(1);
  });

  it('a peer that does not mark its mail gets at most 3 acknowledgements an hour', async () => {
    for (let i = 0; i < 6; i++) await dovecot.append('a@example.com', 'INBOX', rawMail({ from: 'Robot <c@example.com>', to: 'a@example.com', subject: `Ticket update ${i}` }));
    const aAdmin = new ApiClient(a.url);
    await aAdmin.login('admin', ADMIN_PASSWORD);
    await eventually(async () => {
      const r = await aAdmin.request('GET', '/api/v1/conversations?limit=500');
      return r.body.items.filter((c: { customer: { address: string } }) => c.customer.address === 'c@example.com').length === 6;
    }, 30_000, 'six conversations from c');
    await new Promise((r) => setTimeout(r, 2000));
    expect(sinkA.messages.filter((m) => m.to.includes('c@example.com'))).toHaveLength(3);
  });
});
