/** `mailroom doctor` and the connection-test API against a running server and real peers. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../helpers/api-client.js';
import { runMailroom, startServer, type MailroomProcess } from '../helpers/process.js';
import { startDovecot, type DovecotPeer } from '../peers/dovecot.js';
import { startSmtpSink, type SmtpSink } from '../peers/smtp-sink.js';

describe('mailroom doctor', () => {
  let dir: string;
  let dovecot: DovecotPeer;
  let sink: SmtpSink;
  let server: MailroomProcess & { url: string };
  let admin: ApiClient;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mailroom-doctor-'));
    [dovecot, sink] = await Promise.all([startDovecot({ users: [{ user: 'support', password: 'support-pw' }] }), startSmtpSink({ tls: 'none' })]);
    server = await startServer({ MAILROOM_DATA: dir, MAILROOM_ADMIN_PASSWORD: 'admin-password-1' });
    admin = new ApiClient(server.url);
    await admin.login('admin', 'admin-password-1');
    const mb = (name: string, over: Record<string, unknown> = {}) => ({
      name,
      protocol: 'imap',
      host: '127.0.0.1',
      port: dovecot.imapPort,
      security: 'none',
      auth: { user: 'support', password: 'support-pw' },
      queue: 'support',
      liveness: { reconnect_s: 60 },
      ...over,
    });
    const r = await admin.request('PUT', '/api/v1/config', {
      senders: [
        { name: 'good-smtp', type: 'smtp', host: '127.0.0.1', port: sink.port, security: 'none', from: 'support@example.com' },
        { name: 'dead-smtp', type: 'smtp', host: '127.0.0.1', port: 1, security: 'none', from: 'support@example.com' },
      ],
      queues: [{ name: 'support', sender: 'good-smtp' }],
      mailboxes: [
        mb('good'),
        mb('wrong-password', { auth: { user: 'support', password: 'nope' } }),
        mb('no-folder', { folder: 'Archive/2020' }),
        mb('no-such-host', { host: 'imap.does-not-exist.invalid' }),
      ],
    });
    expect(r.status, r.text).toBe(200);
  });
  afterAll(async () => {
    server?.proc.kill('SIGTERM');
    await server?.exited;
    await Promise.all([dovecot?.stop(), sink?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('the test endpoint names the failing step, its code and the fix', async () => {
    const list = (await admin.request('GET', '/api/v1/mailboxes')).body.items as { id: number; name: string }[];
    const id = (name: string) => list.find((m) => m.name === name)!.id;
    const good = await admin.request('POST', `/api/v1/mailboxes/${id('good')}/test`);
    expect(good.body).toMatchObject({ ok: true, name: 'good', protocol: 'imap' });
    expect(good.body.steps.map((s: { name: string }) => s.name)).toEqual(['tcp', 'auth', 'folder']);
    const cases: [string, string, string][] = [
      ['wrong-password', 'auth', 'AUTH_FAILED'],
      ['no-folder', 'folder', 'FOLDER_NOT_FOUND'],
      ['no-such-host', 'dns', 'DNS_NOT_FOUND'],
    ];
    for (const [name, step, code] of cases) {
      const r = await admin.request('POST', `/api/v1/mailboxes/${id(name)}/test`);
      expect(r.body.ok, name).toBe(false);
      expect(r.body.steps.at(-1), name).toMatchObject({ name: step, ok: false, code, hint: expect.any(String) });
    }
    const senders = (await admin.request('GET', '/api/v1/senders')).body.items as { id: number; name: string }[];
    const dead = await admin.request('POST', `/api/v1/senders/${senders.find((s) => s.name === 'dead-smtp')!.id}/test`);
    expect(dead.body.steps.at(-1)).toMatchObject({ name: 'tcp', code: 'TCP_REFUSED' });
    // Agents and supervisors may not run tests.
    const sup = new ApiClient(server.url);
    await admin.request('POST', '/api/v1/users', { login: 'sue', roles: ['supervisor'], password: 'sue-password-1' });
    await sup.login('sue', 'sue-password-1');
    expect((await sup.request('POST', `/api/v1/mailboxes/${id('good')}/test`)).status).toBe(403);
  });

  it('the connection log shows connects, errors and tests, newest first, paged', async () => {
    const list = (await admin.request('GET', '/api/v1/mailboxes')).body.items as { id: number; name: string; status: { state: string; lastError: { code: string } | null } }[];
    const wrong = list.find((m) => m.name === 'wrong-password')!;
    expect(wrong.status.state).toBe('error');
    expect(wrong.status.lastError?.code).toBe('AUTH_FAILED');
    const events = await admin.request('GET', `/api/v1/mailboxes/${wrong.id}/events?limit=2`);
    expect(events.body.items).toHaveLength(2);
    expect(events.body.nextCursor).toBeDefined();
    const all = await admin.request('GET', `/api/v1/mailboxes/${wrong.id}/events?limit=100`);
    const kinds = all.body.items.map((e: { kind: string }) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['connect', 'error', 'test']));
    expect(all.body.items[0].id).toBeGreaterThan(all.body.items.at(-1).id);
  });

  it('prints a table, the failing step with what to do, and exits 1 (through the running server)', async () => {
    const r = await runMailroom(['doctor'], { MAILROOM_DATA: dir });
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/mailbox\s+good\s+WARN/); // security: none is a warning
    expect(r.output).toMatch(/mailbox\s+wrong-password\s+FAIL\s+AUTH_FAILED/);
    expect(r.output).toMatch(/mailbox\s+no-folder\s+FAIL\s+FOLDER_NOT_FOUND/);
    expect(r.output).toMatch(/sender\s+dead-smtp\s+FAIL\s+TCP_REFUSED/);
    expect(r.output).toMatch(/sender\s+good-smtp\s+(OK|WARN)/);
    expect(r.output).toContain('What to do:');
    expect(r.output).toContain('4 of 6 failed');
  });
});
