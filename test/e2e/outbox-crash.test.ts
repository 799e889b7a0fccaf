/**
 * The SMTP crash window (issue 4: "a crash after the server said 250 never sends it twice"):
 * Mailroom as a real process sends a reply to a real SMTP server through the fault proxy, which
 * holds the conversation at the moment that matters; then the process is killed with SIGKILL
 * and started again on the same data. In every case the SMTP server holds the reply at most
 * once; where Mailroom cannot know whether the server took it, it says so and never resends.
 *
 * "Nothing more will come" is shown without waiting on a clock: after the restart a second reply
 * (the sentinel) is sent and received, and the outbox sends oldest first, so a resend of the
 * first would have been claimed before it.
 *
 * Each case starts a fresh server, so the reply goes out on a new SMTP connection: the fault
 * proxy looks for a pattern in the last bytes it already forwarded on a connection too, and on a
 * pooled connection the previous message's "queued as" or final dot would fire the trigger at
 * once, at the wrong moment.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../helpers/api-client.js';
import { eventually, rawMail } from '../helpers/mail.js';
import { ensureBuilt, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { startDovecot, type DovecotPeer } from '../peers/dovecot.js';
import { startFaultProxy, type FaultProxy } from '../peers/fault-proxy.js';
import { startSmtpSink, type SmtpSink } from '../peers/smtp-sink.js';

const ADMIN_PASSWORD = 'admin-password-1';
const UNCERTAIN = /^DELIVERY_UNCERTAIN: /;

describe('the SMTP crash window: kill -9 while a reply is being sent (real server process)', () => {
  let dovecot: DovecotPeer;
  let sink: SmtpSink;
  let proxy: FaultProxy;
  let dataDir: string;
  let env: Record<string, string>;
  let server: (ServerProcess & { url: string }) | undefined;
  let alice: ApiClient;

  const start = async () => {
    server = await startServerProcess(env);
    alice = new ApiClient(server.url);
    expect((await alice.login('alice', 'alice-password-1')).status).toBe(200);
  };
  const kill = async () => {
    await server!.kill9();
    server = undefined;
  };
  /** How many times the SMTP server accepted a message containing `marker`. */
  const received = (marker: string) => sink.messages.filter((m) => m.raw.includes(marker)).length;

  /** A customer email that the queue assigns to Alice: the conversation to reply in. */
  const conversation = async (subject: string): Promise<number> => {
    await dovecot.append('support', 'INBOX', rawMail({ subject, body: `Hello, a question about ${subject}.` }));
    return eventually(async () => {
      const r = await alice.request('GET', '/api/v1/conversations?assignee=me&limit=500');
      return (r.body.items as { id: number; subject: string }[]).find((c) => c.subject === subject)?.id;
    }, 30_000, `the conversation "${subject}" assigned to Alice`);
  };
  const reply = async (conversationId: number, text: string): Promise<number> => {
    const r = await alice.request('POST', `/api/v1/conversations/${conversationId}/replies`, { text });
    expect(r.status, r.text).toBe(202);
    return r.body.messageId as number;
  };
  const delivery = async (messageId: number) => (await alice.request('GET', `/api/v1/messages/${messageId}`)).body as { delivery: string; deliveryError: string | null };
  /** Sends a second reply after the restart and waits for it: the outbox is past the first. */
  const sentinel = async (conversationId: number) => {
    const marker = `sentinel-${randomBytes(6).toString('hex')}`;
    const id = await reply(conversationId, `Anything else? ${marker}`);
    await sink.waitFor((m) => m.raw.includes(marker), 30_000);
    await eventually(async () => (await delivery(id)).delivery === 'sent', 15_000, 'the sentinel marked sent');
  };

  beforeAll(async () => {
    ensureBuilt();
    [dovecot, sink] = await Promise.all([startDovecot({ users: [{ user: 'support', password: 'support-pw' }] }), startSmtpSink({ tls: 'none' })]);
    proxy = await startFaultProxy({ host: sink.host, port: sink.port });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'mailroom-outbox-crash-'));
    const config = path.join(dataDir, 'mailroom.yaml');
    await writeFile(
      config,
      `senders:
  - { name: out, type: smtp, host: 127.0.0.1, port: ${proxy.port}, security: none, from: "Example Support <support@example.com>" }
queues:
  - { name: support, sender: out, routing: { mode: assign } }
mailboxes:
  - { name: inbox, protocol: imap, host: 127.0.0.1, port: ${dovecot.imapPort}, security: none, auth: { user: support, password: support-pw }, queue: support }
users:
  - { login: alice, name: Alice, roles: [agent], password: alice-password-1, capacity: 20, languages: { en: 10 } }
`,
    );
    env = { MAILROOM_DATA: dataDir, MAILROOM_ADMIN_PASSWORD: ADMIN_PASSWORD, MAILROOM_SECRET_KEY: randomBytes(32).toString('base64'), MAILROOM_CONFIG: config };
    await start();
    expect((await alice.request('PUT', '/api/v1/me/state', { state: 'available' })).status).toBe(200);
    await server!.stop();
    server = undefined;
  });
  afterAll(async () => {
    await server?.stop();
    await proxy?.stop();
    await Promise.all([dovecot?.stop(), sink?.stop()]);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  describe('each case on a fresh server (new SMTP connections), stopped cleanly at its end', () => {
    beforeEach(start);
    afterEach(async () => {
      await server?.stop();
      server = undefined;
    });

    it('(a) killed after DATA, before the server has any of the message: sent exactly once after the restart', { timeout: 120_000 }, async () => {
      const conv = await conversation('Crash before the content');
      const marker = `case-a-${randomBytes(6).toString('hex')}`;
      // The server's "354 End data with <CR><LF>.<CR><LF>" never reaches Mailroom: the server waits
      // in DATA, Mailroom has not streamed a byte of the message.
      const held = proxy.arm({ pattern: '354 ', action: 'stall' });
      const id = await reply(conv, `We are on it. ${marker}`);
      await held.fired;
      await kill();
      expect(received(marker)).toBe(0);

      await start();
      await sink.waitFor((m) => m.raw.includes(marker), 30_000);
      await eventually(async () => (await delivery(id)).delivery === 'sent', 15_000, 'the reply marked sent');
      await sentinel(conv);
      expect(received(marker)).toBe(1);
    });

    it('(a′) killed with the whole message at the server but its final dot held back: never sent twice, flagged as uncertain', { timeout: 120_000 }, async () => {
      const conv = await conversation('Crash before the final dot');
      const marker = `case-a2-${randomBytes(6).toString('hex')}`;
      // RFC 5321 §4.1.1.4: the transaction is complete only with "<CRLF>.<CRLF>". Mailroom commits
      // the final phase before it writes the dot, so this is the edge of what it can know: the
      // server may or may not get the dot. It must not send again.
      const held = proxy.arm({ direction: 'client', pattern: '\r\n.\r\n', action: 'stall' });
      const id = await reply(conv, `Here is the answer. ${marker}`);
      await held.fired;
      await kill();
      expect(received(marker)).toBe(0);

      await start();
      const d = await delivery(id);
      expect(d.delivery).toBe('failed');
      expect(d.deliveryError).toMatch(UNCERTAIN);
      await sentinel(conv);
      // The server never got the dot, so this one was not delivered at all: at most once, and the
      // agent is told to check and resend (the price of never sending twice).
      expect(received(marker)).toBe(0);
    });

    it('(b) killed after the server accepted it but before Mailroom read the 250: not sent again, shown as DELIVERY_UNCERTAIN', { timeout: 120_000 }, async () => {
      const conv = await conversation('Crash after the 250');
      const marker = `case-b-${randomBytes(6).toString('hex')}`;
      // The sink has stored the message and answered "250 … queued as …"; the answer is held.
      const held = proxy.arm({ pattern: 'queued as', action: 'stall' });
      const id = await reply(conv, `Your refund is on its way. ${marker}`);
      await held.fired;
      expect(received(marker)).toBe(1);
      await kill();

      await start();
      const d = await delivery(id);
      expect(d.delivery).toBe('failed');
      expect(d.deliveryError).toMatch(UNCERTAIN);
      await sentinel(conv);
      expect(received(marker)).toBe(1);
      // Still failed, never requeued.
      expect((await delivery(id)).delivery).toBe('failed');
    });

    it('(c) killed after it was marked sent: never resent', { timeout: 120_000 }, async () => {
      const conv = await conversation('Crash after sent');
      const marker = `case-c-${randomBytes(6).toString('hex')}`;
      const id = await reply(conv, `Done, thank you for waiting. ${marker}`);
      await eventually(async () => (await delivery(id)).delivery === 'sent', 30_000, 'the reply marked sent');
      await kill();

      await start();
      await sentinel(conv);
      expect(received(marker)).toBe(1);
      expect((await delivery(id)).delivery).toBe('sent');
    });
  });

  it('the SMTP server holds every reply at most once', () => {
    const counts = new Map<string, number>();
    for (const m of sink.messages) {
      // RFC 5322 §2.2.3: read the header unfolded (the composer folds a long Message-ID).
      const id = /^Message-ID:\s*<([^>]+)>/im.exec(m.raw.toString().replace(/\r\n[ \t]+/g, ' '))?.[1];
      expect(id, `a message without a Message-ID: ${m.raw.toString().slice(0, 300)}`).toBeDefined();
      counts.set(id!, (counts.get(id!) ?? 0) + 1);
    }
    expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
    expect(sink.messages.length).toBeGreaterThanOrEqual(6);
  });
});
