/** The HTTP API of the foundation against a real server on each database kind. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../helpers/api-client.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { ADMIN_PASSWORD, startRuntime, type TestRuntime } from '../helpers/runtime.js';

const CONFIG = `
senders:
  - { name: out, type: smtp, host: smtp.example.com, port: 587, security: starttls, from: "Support <s@example.com>", auth: { user: s@example.com, password: smtp-secret-9 } }
queues:
  - { name: support, sender: out }
mailboxes:
  - { name: inbox, protocol: imap, host: imap.example.com, port: 993, security: tls, auth: { user: s@example.com, password: mailbox-secret-9 }, queue: support, enabled: false }
users:
  - { login: alice, roles: [agent], password: alice-password-9, skills: { billing: 5 } }
  - { login: sam, roles: [supervisor], password: sam-password-9 }
`;
const SECRETS = ['smtp-secret-9', 'mailbox-secret-9', 'alice-password-9', 'sam-password-9', ADMIN_PASSWORD];

describe.each(DATABASE_KINDS)('HTTP API on %s', (kind) => {
  let rt: TestRuntime;
  let admin: ApiClient;
  const answers: string[] = [];
  const client = () => {
    const c = new ApiClient(rt.url);
    const original = c.request.bind(c);
    c.request = async (...args) => {
      const r = await original(...args);
      answers.push(r.text);
      return r;
    };
    return c;
  };

  beforeAll(async () => {
    rt = await startRuntime(kind);
    admin = client();
    expect((await admin.login('admin', ADMIN_PASSWORD)).status).toBe(200);
    const applied = await admin.request('PUT', '/api/v1/config', CONFIG, { 'content-type': 'application/yaml' });
    expect(applied.status).toBe(200);
  });
  afterAll(async () => rt?.close());

  it('answers /health and publishes OpenAPI with the routes', async () => {
    const h = await client().request('GET', '/api/v1/health');
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ status: 'ok', db: 'ok', version: expect.any(String), node: expect.any(String) });
    const doc = await client().request('GET', '/api/v1/openapi.json');
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/v1/session', '/api/v1/me/state', '/api/v1/config', '/api/v1/mailboxes/{id}', '/api/v1/agents']));
  });

  it('sends security headers', async () => {
    const h = await client().request('GET', '/api/v1/health');
    expect(h.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(h.headers.get('x-content-type-options')).toBe('nosniff');
    expect(h.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  });

  it('a wrong password and an unknown login get the same 401, and the cookie is HttpOnly and SameSite=Lax', async () => {
    const wrong = await client().login('alice', 'nope-nope');
    const unknown = await client().login('nobody', 'nope-nope');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body.error.code).toBe('LOGIN_FAILED');
    const res = await fetch(`${rt.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: 'alice', password: 'alice-password-9' }) });
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).not.toMatch(/Secure/i);
  });

  it('limits failed logins (429) while other logins still work', async () => {
    const c = client();
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await c.login('temp-locked', `wrong-${i}`)).status);
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses[10]).toBe(429);
    expect((await c.login('temp-locked', 'whatever-1')).body.error).toMatchObject({ code: 'RATE_LIMITED', hint: expect.stringMatching(/Wait \d+ s/) });
    expect((await client().login('alice', 'alice-password-9')).status).toBe(200);
  });

  it('401 without credentials, 403 without the role', async () => {
    expect((await client().request('GET', '/api/v1/me')).body.error.code).toBe('UNAUTHENTICATED');
    const alice = client();
    await alice.login('alice', 'alice-password-9');
    const r = await alice.request('GET', '/api/v1/mailboxes');
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: 'FORBIDDEN', hint: expect.any(String) });
    expect((await alice.request('GET', '/api/v1/config')).status).toBe(403);
  });

  it('cookie sessions need the CSRF token to change state; bearer tokens do not', async () => {
    const alice = client();
    await alice.login('alice', 'alice-password-9');
    const noCsrf = await alice.request('PUT', '/api/v1/me/state', { state: 'available' }, { 'x-csrf-token': 'forged' });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error.code).toBe('CSRF_FAILED');
    const ok = await alice.request('PUT', '/api/v1/me/state', { state: 'available' });
    expect(ok.status).toBe(200);
    expect(ok.body.state).toBe('available');
    const tok = await alice.request('POST', '/api/v1/tokens', { name: 'script' });
    expect(tok.status).toBe(201);
    expect(tok.body.token).toMatch(/^mrt_/);
    const listed = await alice.request('GET', '/api/v1/tokens');
    expect(JSON.stringify(listed.body)).not.toContain(tok.body.token);
    const bot = client();
    bot.bearer = tok.body.token;
    expect((await bot.request('PUT', '/api/v1/me/state', { state: 'paused', reason: 'lunch' })).body).toMatchObject({ state: 'paused', reason: 'lunch' });
    expect((await bot.request('DELETE', `/api/v1/tokens/${tok.body.id}`)).status).toBe(204);
    expect((await bot.request('GET', '/api/v1/me')).body.error.code).toBe('INVALID_TOKEN');
    // An agent may not create tokens for someone else.
    expect((await alice.request('POST', '/api/v1/tokens', { name: 'x', user: 'admin' })).status).toBe(403);
  });

  it('answers malformed, oversized, mistyped and invalid bodies with stable codes', async () => {
    const c = admin;
    expect((await c.request('PUT', '/api/v1/me/state', '{"state": ', { 'content-type': 'application/json' })).body.error.code).toBe('INVALID_JSON');
    const big = await c.request('PUT', '/api/v1/me/state', JSON.stringify({ state: 'available', reason: 'x'.repeat(2 * 1024 * 1024) }));
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await c.request('PUT', '/api/v1/me/state', 'state=available', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    const invalid = await c.request('PUT', '/api/v1/me/state', { state: 'sleeping', extra: 1 });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('VALIDATION_FAILED');
    expect(invalid.body.error.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['state', 'extra']));
    expect((await c.request('GET', '/api/v1/mailboxes/abc')).status).toBe(400);
    expect((await c.request('GET', '/api/v1/mailboxes/999999')).body.error.code).toBe('NOT_FOUND');
    expect((await c.request('GET', '/api/v1/nope')).status).toBe(404);
  });

  it('config over HTTP: YAML and JSON export, refusal with every path, dry run', async () => {
    const yaml = await admin.request('GET', '/api/v1/config', undefined, { accept: 'application/yaml' });
    expect(yaml.headers.get('content-type')).toContain('application/yaml');
    expect(yaml.text).toContain('name: inbox');
    const json = await admin.request('GET', '/api/v1/config');
    expect(json.body.queues[0].name).toBe('support');
    const again = await admin.request('PUT', '/api/v1/config', yaml.text, { 'content-type': 'text/yaml' });
    expect(again.body).toMatchObject({ created: [], updated: [], deleted: [] });
    const bad = await admin.request('PUT', '/api/v1/config', { queues: [{ name: 'q', sender: 'missing', colour: 1 }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('CONFIG_INVALID');
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['queues[0].colour', 'queues[0].sender']);
    const dry = await admin.request('PUT', '/api/v1/config?dryRun=true', { queues: [{ name: 'new-q', sender: 'out' }] });
    expect(dry.body).toMatchObject({ dryRun: true, created: ['queues/new-q'] });
    expect((await admin.request('GET', '/api/v1/queues')).body.items.map((q: { name: string }) => q.name)).toEqual(['support']);
  });

  it('lists mailboxes, senders, queues and agents, paged with a cursor, without secrets', async () => {
    const sam = client();
    await sam.login('sam', 'sam-password-9');
    const mb = await sam.request('GET', '/api/v1/mailboxes');
    expect(mb.body.items[0]).toMatchObject({ name: 'inbox', queue: 'support', auth: { method: 'password', user: 's@example.com' }, status: { state: 'disabled', imported: 0 } });
    expect((await sam.request('GET', `/api/v1/mailboxes/${mb.body.items[0].id}`)).body.name).toBe('inbox');
    expect((await sam.request('GET', '/api/v1/senders')).status).toBe(403);
    expect((await admin.request('GET', '/api/v1/senders')).body.items[0]).toMatchObject({ name: 'out', from: 'Support <s@example.com>' });
    expect((await sam.request('GET', '/api/v1/queues')).body.items[0]).toMatchObject({ name: 'support', waiting: 0, oldestWaitS: null, slaPercent: null });
    const page1 = await sam.request('GET', '/api/v1/agents?limit=1');
    expect(page1.body.items).toHaveLength(1);
    expect(page1.body.nextCursor).toBeDefined();
    const page2 = await sam.request('GET', `/api/v1/agents?limit=1&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items[0].login).not.toBe(page1.body.items[0].login);
    const all = await sam.request('GET', '/api/v1/agents?limit=500');
    expect(all.body.nextCursor).toBeUndefined();
    expect(all.body.items.map((a: { login: string }) => a.login).sort()).toEqual(['admin', 'alice', 'sam']);
    expect(all.body.items[0]).toEqual(expect.objectContaining({ state: expect.any(String), load: 0, capacity: expect.any(Number), since: expect.any(String) }));
    expect((await sam.request('GET', '/api/v1/agents?cursor=garbage')).body.error.code).toBe('INVALID_REQUEST');
  });

  it('pushes agent.state to the agent and to supervisors, and config.applied, over the WebSocket', async () => {
    const alice = client();
    await alice.login('alice', 'alice-password-9');
    const sam = client();
    await sam.login('sam', 'sam-password-9');
    const aliceEvents = await alice.events();
    const samEvents = await sam.events();
    await alice.request('PUT', '/api/v1/me/state', { state: 'paused', reason: 'break' });
    expect((await aliceEvents.next('agent.state', (d) => d.reason === 'break')).data).toMatchObject({ login: 'alice', state: 'paused' });
    expect((await samEvents.next('agent.state', (d) => d.login === 'alice' && d.reason === 'break')).data.state).toBe('paused');
    await admin.request('PUT', '/api/v1/config', { queues: [{ name: 'support', sender: 'out', priority: 7 }] });
    expect((await aliceEvents.next('config.applied')).data.updated).toEqual(['queues/support']);
    aliceEvents.close();
    samEvents.close();
  });

  it('refuses the WebSocket without credentials, and a cookie from another origin', async () => {
    await expect(client().events()).rejects.toThrow(/401/);
    const alice = client();
    await alice.login('alice', 'alice-password-9');
    await expect(alice.events('https://evil.example')).rejects.toThrow(/403/);
  });

  it('logging out ends the session and sets the agent offline', async () => {
    const alice = client();
    await alice.login('alice', 'alice-password-9');
    await alice.request('PUT', '/api/v1/me/state', { state: 'available' });
    expect((await alice.request('DELETE', '/api/v1/session')).status).toBe(204);
    expect((await alice.request('GET', '/api/v1/me')).status).toBe(401);
    const agents = await admin.request('GET', '/api/v1/agents');
    expect(agents.body.items.find((a: { login: string }) => a.login === 'alice').state).toBe('offline');
  });

  it('serves Prometheus metrics to this machine', async () => {
    const m = await client().request('GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.text).toContain('mailroom_http_request_duration_seconds_bucket');
    expect(m.text).toContain('mailroom_process_resident_memory_bytes');
    // The parser pool, read at the scrape: its kept workers (one per core beyond the first) and counters.
    expect(m.text).toMatch(/^mailroom_parser_workers\{kind="kept"\} [1-9]\d*$/m);
    expect(m.text).toMatch(/^mailroom_parser_workers\{kind="spare"\} 0$/m);
    expect(m.text).toMatch(/^mailroom_parser_jobs\{state="waiting"\} \d+$/m);
    expect(m.text).toMatch(/^mailroom_parser_events_total\{event="spare_start"\} 0$/m);
    expect(m.text).toMatch(/^mailroom_parser_events_total\{event="parsed"\} \d+$/m);
  });

  it('never shows a secret in an API answer or a log line', async () => {
    await admin.request('POST', '/api/v1/users', { login: 'temp', roles: ['agent'], password: 'temp-password-9' });
    const logs = rt.logs.join('');
    expect(logs.length).toBeGreaterThan(1000);
    for (const s of [...SECRETS, 'temp-password-9']) {
      expect(logs, `log contains ${s}`).not.toContain(s);
      expect(answers.join('\n'), `an answer contains ${s}`).not.toContain(s);
    }
    expect(logs).not.toContain(admin.cookie!.split('=')[1]!);
  });
});
