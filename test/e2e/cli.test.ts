/** The product as a user runs it: `bin/mailroom.js` as a process, on a fresh data folder. */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../helpers/api-client.js';
import { createPgDatabase } from '../helpers/databases.js';
import { runMailroom, startServer, type MailroomProcess } from '../helpers/process.js';

const tmp = () => mkdtemp(path.join(os.tmpdir(), 'mailroom-e2e-'));

describe('mailroom start on a fresh machine', () => {
  let dir: string;
  let server: (MailroomProcess & { url: string }) | undefined;
  let password: string;

  beforeAll(async () => {
    dir = await tmp();
    server = await startServer({ MAILROOM_DATA: dir });
    await server.waitFor(/Sign in as "admin"/);
    password = server.output().match(/with the password: (\S+)/)![1]!;
  });
  afterAll(async () => {
    server?.proc.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the URL, the admin login with a generated password, and where the secret key is', async () => {
    expect(server!.output()).toMatch(/Created the admin "admin" with the password: \S{20}/);
    expect(server!.output()).toContain(`A new secret key was written to ${path.join(dir, 'secret.key')}`);
    expect((await stat(path.join(dir, 'secret.key'))).mode & 0o777).toBe(0o600);
    const health = await fetch(`${server!.url}/api/v1/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', db: 'ok' });
    expect((await new ApiClient(server!.url).login('admin', password)).status).toBe(200);
  });

  it('a second process on the same data folder stops with a clear error naming the PID', async () => {
    const second = await runMailroom(['start'], { MAILROOM_DATA: dir, PORT: '0' });
    expect(second.code).toBe(1);
    expect(second.output).toContain(`in use by process ${server!.proc.pid}`);
    expect(second.output).toMatch(/What to do: .*kill/);
  });

  it('admin commands go through the running server, taking ${VAR} from the caller', async () => {
    const file = path.join(dir, 'cfg.yaml');
    await writeFile(file, 'users:\n  - { login: carol, roles: [agent], password: "${CAROL_PW}" }\n');
    const dry = await runMailroom(['config', 'apply', file, '--dry-run'], { MAILROOM_DATA: dir, CAROL_PW: 'carol-password-1' });
    expect(dry.output).toContain('through the running server');
    expect(dry.output).toContain('+ users/carol');
    expect(dry.output).toContain('Nothing was applied');
    const applied = await runMailroom(['config', 'apply', file], { MAILROOM_DATA: dir, CAROL_PW: 'carol-password-1' });
    expect(applied.code).toBe(0);
    expect((await new ApiClient(server!.url).login('carol', 'carol-password-1')).status).toBe(200);
    const exported = await runMailroom(['config', 'export'], { MAILROOM_DATA: dir });
    expect(exported.output).toContain('login: carol');
    expect(exported.output).not.toContain('carol-password-1');
    const added = await runMailroom(['user', 'add', 'dave', '--role', 'supervisor', '--password-stdin'], { MAILROOM_DATA: dir }, 'dave-password-1\n');
    expect(added.output).toContain('Created user "dave" (supervisor)');
    const token = await runMailroom(['token', 'create', '--user', 'dave'], { MAILROOM_DATA: dir });
    const t = token.output.match(/mrt_\S+/)![0];
    const c = new ApiClient(server!.url);
    c.bearer = t;
    expect((await c.request('GET', '/api/v1/me')).body.login).toBe('dave');
    const bad = await runMailroom(['config', 'apply', file], { MAILROOM_DATA: dir });
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('users[0].password: environment variable CAROL_PW is not set');
  });

  it('stops cleanly on SIGTERM and starts again on the existing data without a new admin', async () => {
    server!.proc.kill('SIGTERM');
    expect((await server!.exited).code).toBe(0);
    expect(existsSync(path.join(dir, 'mailroom.lock'))).toBe(false);
    server = await startServer({ MAILROOM_DATA: dir });
    expect(server.output()).not.toContain('Created the admin');
    expect(server.output()).not.toContain('A new secret key');
    expect((await new ApiClient(server.url).login('carol', 'carol-password-1')).status).toBe(200);
  });
});

describe('mailroom commands without a server', () => {
  it('migrate runs the migrations alone, and is idempotent', async () => {
    const dir = await tmp();
    try {
      const first = await runMailroom(['migrate'], { MAILROOM_DATA: dir });
      expect(first.output).toMatch(/Applied \d+ migration/);
      expect((await runMailroom(['migrate'], { MAILROOM_DATA: dir })).output).toContain('Already up to date');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('every command has --help', async () => {
    for (const cmd of [['start'], ['migrate'], ['config', 'apply'], ['config', 'export'], ['user', 'add'], ['token', 'create']]) {
      const r = await runMailroom([...cmd, '--help'], {});
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.output).toContain('Usage: mailroom');
    }
  });

  it('refuses DATABASE_URL without MAILROOM_SECRET_KEY, saying how to make one', async () => {
    const r = await runMailroom(['start'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres', PORT: '0' });
    expect(r.code).toBe(1);
    expect(r.output).toContain('SECRET_KEY_REQUIRED');
    expect(r.output).toContain('randomBytes(32)');
  });

  it('applies MAILROOM_CONFIG at every start, taking ${VAR} from the environment', async () => {
    const dir = await tmp();
    try {
      const file = path.join(dir, 'mailroom.yaml');
      await writeFile(file, 'users:\n  - { login: erin, roles: [agent], password: "${ERIN_PW}" }\n');
      const env = { MAILROOM_DATA: path.join(dir, 'data'), MAILROOM_CONFIG: file, ERIN_PW: 'erin-password-1', MAILROOM_ADMIN_PASSWORD: 'admin-password-1' };
      const server = await startServer(env);
      try {
        expect(server.output()).toContain(`Applied ${file}: 1 created`);
        expect((await new ApiClient(server.url).login('erin', 'erin-password-1')).status).toBe(200);
      } finally {
        server.proc.kill('SIGTERM');
        await server.exited;
      }
      const again = await startServer(env);
      try {
        expect(again.output()).toContain(`Applied ${file}: 0 created, 0 updated, 0 deleted`);
      } finally {
        again.proc.kill('SIGTERM');
        await again.exited;
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start with an invalid MAILROOM_CONFIG, listing every problem', async () => {
    const dir = await tmp();
    try {
      const file = path.join(dir, 'bad.yaml');
      await writeFile(file, 'queues:\n  - { name: q, sender: nope, priority: high }\n');
      const r = await runMailroom(['start'], { MAILROOM_DATA: path.join(dir, 'data'), MAILROOM_CONFIG: file, PORT: '0', MAILROOM_ADMIN_PASSWORD: 'admin-password-1' });
      expect(r.code).toBe(1);
      expect(r.output).toContain('queues[0].sender');
      expect(r.output).toContain('queues[0].priority: expected a number');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * kill -9 in the middle of a config apply must leave the old config or the new one, never a mix.
 * The new config changes one queue and adds many, so a partial apply would be visible.
 */
describe.each(['pglite', 'postgres'] as const)('kill -9 during config apply (%s)', (kind) => {
  const ITERATIONS = Number(process.env.MAILROOM_KILL_ITERATIONS ?? (kind === 'pglite' ? 4 : 2));
  const QUEUES = 3000;
  let dir: string;
  let env: Record<string, string>;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    dir = await tmp();
    env = { MAILROOM_DATA: dir, MAILROOM_ADMIN_PASSWORD: 'admin-password-1', MAILROOM_SECRET_KEY: randomBytes(32).toString('base64') };
    if (kind === 'postgres') {
      const created = await createPgDatabase();
      env.DATABASE_URL = created.url;
      drop = created.drop;
    }
  });
  afterAll(async () => {
    await drop?.();
    await rm(dir, { recursive: true, force: true });
  });

  const oldConfig = 'senders:\n  - { name: out, type: smtp, host: h.example, port: 25, security: none, from: a@example.com }\nqueues:\n  - { name: q0, sender: out, priority: 1 }\n';
  const newConfig = `senders:\n  - { name: out, type: smtp, host: h.example, port: 25, security: none, from: a@example.com }\nqueues:\n${Array.from({ length: QUEUES }, (_, i) => `  - { name: q${i}, sender: out, priority: 2 }`).join('\n')}\n`;

  it(`leaves the old or the new config, never a mix (${ITERATIONS} kills)`, async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      let server = await startServer(env);
      const admin = new ApiClient(server.url);
      await admin.login('admin', 'admin-password-1');
      expect((await admin.request('PUT', '/api/v1/config?prune=true', oldConfig, { 'content-type': 'application/yaml' })).status).toBe(200);
      const t0 = Date.now();
      const pending = admin.request('PUT', '/api/v1/config', newConfig, { 'content-type': 'application/yaml' }).catch(() => null);
      // Spread the kills over the apply: validation, the first inserts, the middle, the end.
      await new Promise((r) => setTimeout(r, 150 + i * 250));
      server.proc.kill('SIGKILL');
      await server.exited;
      await pending;
      server = await startServer(env);
      const after = new ApiClient(server.url);
      await after.login('admin', 'admin-password-1');
      const cfg = (await after.request('GET', '/api/v1/config')).body as { queues: { name: string; priority: number }[] };
      const priorities = new Set(cfg.queues.map((q) => q.priority));
      const state = cfg.queues.length === 1 && priorities.has(1) ? 'old' : cfg.queues.length === QUEUES && priorities.size === 1 && priorities.has(2) ? 'new' : 'MIX';
      outcomes.push(`${state}@${Date.now() - t0}ms`);
      expect(state, `iteration ${i}: ${cfg.queues.length} queues, priorities ${[...priorities]}`).not.toBe('MIX');
      server.proc.kill('SIGTERM');
      await server.exited;
    }
    // At least one kill must have landed inside the apply, or the test proves nothing.
    expect(outcomes.some((o) => o.startsWith('old')), outcomes.join(', ')).toBe(true);
    // Each iteration starts the server twice and applies two configs (about 15 s on the embedded
    // database under the full suite's load): the budget grows with MAILROOM_KILL_ITERATIONS.
  }, ITERATIONS * 45_000);
});
