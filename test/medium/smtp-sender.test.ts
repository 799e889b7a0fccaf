/** The SMTP sender against a real SMTP server (the sink): security modes, pinning, auth, failures. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { senderSchema, type SenderSpec } from '../../src/config/schema.js';
import { testSmtpConnection } from '../../src/connectors/smtp/smtp-connection-test.js';
import { SendError, SmtpSender } from '../../src/connectors/smtp/smtp-sender.js';
import { rawMail, sha } from '../helpers/mail.js';
import { testCerts, type TestCerts } from '../peers/certs.js';
import { startSmtpSink, type SmtpSink } from '../peers/smtp-sink.js';

const USERS = [{ user: 'sender', password: 'sender-pw' }];

describe('SMTP sender', () => {
  let certs: TestCerts;
  let plain: SmtpSink;
  let starttls: SmtpSink;
  let implicit: SmtpSink;
  let noTls: SmtpSink;
  let picky: SmtpSink;

  const spec = (sink: SmtpSink, over: Partial<SenderSpec> & Record<string, unknown> = {}) =>
    senderSchema.parse({ name: 's', type: 'smtp', host: 'localhost', port: sink.port, security: 'none', from: 'Support <support@example.com>', auth: { user: 'sender', password: 'sender-pw' }, ...over });
  const noHooks = { beforeFinal: async () => undefined };

  beforeAll(async () => {
    certs = await testCerts();
    [plain, starttls, implicit, noTls, picky] = await Promise.all([
      startSmtpSink({ tls: 'none', auth: { users: USERS, required: true } }),
      startSmtpSink({ tls: 'starttls', cert: certs.selfSigned, auth: { users: USERS, required: true } }),
      startSmtpSink({ tls: 'implicit', cert: certs.localhost, auth: { users: USERS, required: true } }),
      startSmtpSink({ tls: 'none' }),
      startSmtpSink({
        tls: 'none',
        onRcpt: (to) => (to.startsWith('gone@') ? { code: 550, message: '5.1.1 No such user' } : to.startsWith('later@') ? { code: 451, message: '4.3.0 Try again later' } : undefined),
        onMailFrom: (from) => (from.startsWith('nobody@') ? { code: 553, message: '5.7.1 Sender not allowed' } : undefined),
      }),
    ]);
  });
  afterAll(async () => Promise.all([plain, starttls, implicit, noTls, picky].map((s) => s?.stop())));

  it.each([
    ['plain', () => [plain, {}] as const, false],
    ['STARTTLS with a pinned self-signed certificate', () => [starttls, { security: 'starttls', tls: { verify: 'peer', fingerprint: certs.selfSigned.fingerprint } }] as const, true],
    ['implicit TLS with a private CA', () => [implicit, { security: 'tls', tls: { verify: 'chain', ca: certs.ca.cert } }] as const, true],
  ])('sends byte for byte over %s, authenticated', async (_name, setup, secure) => {
    const [sink, over] = setup();
    const sender = new SmtpSender({ spec: spec(sink, over as never) });
    const raw = rawMail({ subject: `via ${_name}` });
    const r = await sender.send({ from: 'support@example.com', to: ['carla@customer.example'], raw }, noHooks);
    expect(r.response).toMatch(/^250/);
    const got = await sink.waitFor((m) => m.raw.includes(`via ${_name}`));
    expect(sha(got.raw)).toBe(sha(raw));
    expect(got).toMatchObject({ secure, user: 'sender', from: 'support@example.com', to: ['carla@customer.example'] });
    await sender.close();
  });

  it('refuses a STARTTLS certificate the policy does not accept, before sending the password', async () => {
    const sender = new SmtpSender({ spec: spec(starttls, { security: 'starttls' }) });
    const before = starttls.stats.authFailures + starttls.messages.length;
    await expect(sender.send({ from: 'support@example.com', to: ['x@example.com'], raw: rawMail() }, noHooks)).rejects.toMatchObject({ code: 'TLS_CERT_UNTRUSTED', permanent: false });
    expect(starttls.stats.authFailures + starttls.messages.length).toBe(before);
  });

  it('never falls back to plain text when STARTTLS is required but not offered', async () => {
    const sender = new SmtpSender({ spec: spec(noTls, { security: 'starttls', auth: undefined }) });
    const count = noTls.messages.length;
    await expect(sender.send({ from: 'support@example.com', to: ['x@example.com'], raw: rawMail() }, noHooks)).rejects.toMatchObject({ code: 'STARTTLS_NOT_OFFERED' });
    expect(noTls.messages.length).toBe(count);
  });

  it('5xx is permanent, 4xx and a wrong password are not, each with the server answer', async () => {
    const sender = new SmtpSender({ spec: spec(picky, { auth: undefined }) });
    const gone = await sender.send({ from: 'support@example.com', to: ['gone@example.com'], raw: rawMail() }, noHooks).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(SendError);
    expect(gone).toMatchObject({ permanent: true, code: 'SMTP_REJECTED' });
    expect((gone as SendError).message).toContain('5.1.1');
    const later = await sender.send({ from: 'support@example.com', to: ['later@example.com'], raw: rawMail() }, noHooks).catch((e: unknown) => e);
    expect(later).toMatchObject({ permanent: false, code: 'SMTP_DEFERRED' });
    const wrong = new SmtpSender({ spec: spec(plain, { auth: { user: 'sender', password: 'nope' } }) });
    await expect(wrong.send({ from: 'support@example.com', to: ['a@example.com'], raw: rawMail() }, noHooks)).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    await sender.close();
  });

  it('holds the final dot until beforeFinal resolves, and reuses its connection', async () => {
    const sender = new SmtpSender({ spec: spec(plain) });
    const connections = plain.stats.connections;
    const seenAtFinal: number[] = [];
    for (let i = 0; i < 3; i++) {
      const raw = rawMail({ subject: `pooled ${i}` });
      const before = plain.messages.length;
      await sender.send({ from: 'support@example.com', to: ['a@example.com'], raw }, {
        beforeFinal: async () => {
          // The server has the whole body but no final "." yet: it cannot have accepted it.
          await new Promise((r) => setTimeout(r, 50));
          seenAtFinal.push(plain.messages.length - before);
        },
      });
      expect(plain.messages.length - before).toBe(1);
    }
    expect(seenAtFinal).toEqual([0, 0, 0]);
    expect(plain.stats.connections - connections).toBe(1);
    await sender.close();
  });

  it('the connection test names each step and the failing one', async () => {
    const good = await testSmtpConnection(spec(starttls, { security: 'starttls', tls: { verify: 'peer', fingerprint: certs.selfSigned.fingerprint } }));
    expect(good.ok).toBe(true);
    expect(good.steps.map((s) => s.name)).toEqual(['dns', 'tcp', 'tls', 'smtp', 'auth', 'sender']);
    expect(good.steps.find((s) => s.name === 'tls')!.certificate?.fingerprint).toBe(certs.selfSigned.fingerprint);
    const wrongPw = await testSmtpConnection(spec(plain, { auth: { user: 'sender', password: 'nope' } }));
    expect(wrongPw.steps.at(-1)).toMatchObject({ name: 'auth', ok: false, code: 'AUTH_FAILED' });
    const noStarttls = await testSmtpConnection(spec(noTls, { security: 'starttls', auth: undefined }));
    expect(noStarttls.steps.at(-1)).toMatchObject({ name: 'tls', ok: false, code: 'STARTTLS_NOT_OFFERED' });
    const refused = await testSmtpConnection(spec(picky, { auth: undefined, from: 'nobody@example.com' }));
    expect(refused.steps.at(-1)).toMatchObject({ name: 'sender', ok: false, code: 'SENDER_REFUSED', hint: expect.stringContaining('send') });
    const nothing = await testSmtpConnection(spec(plain, { port: 1 }));
    expect(nothing.steps.at(-1)).toMatchObject({ name: 'tcp', ok: false, code: 'TCP_REFUSED' });
  });
});
