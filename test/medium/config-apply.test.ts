/** Config as code against both databases: atomic, idempotent, prune, dry run, secrets, audit. */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSecretKeys, SecretBox } from '../../src/auth/secret-box.js';
import { AppError } from '../../src/domain/errors.js';
import { EventBus, type DomainEvent } from '../../src/domain/events.js';
import type { Actor } from '../../src/domain/types.js';
import { ConfigService } from '../../src/services/config.service.js';
import { UsersService } from '../../src/services/users.service.js';
import { Store } from '../../src/store/store.js';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../helpers/databases.js';

const admin: Actor = { kind: 'user', userId: null, login: 'tester' };

const BASE = `
proxy: socks5://puser:ppass@proxy.example.net:1080
senders:
  - { name: out, type: smtp, host: smtp.example.com, port: 587, security: starttls, from: "Support <s@example.com>", auth: { user: s@example.com, password: "\${SMTP_PW}" } }
queues:
  - { name: support, sender: out, skills: { billing: 3 } }
  - { name: general, sender: out }
mailboxes:
  - { name: inbox, protocol: imap, host: imap.example.com, port: 993, security: tls, auth: { user: s@example.com, password: mailbox-secret-1 }, queue: support }
pause_reasons:
  - { code: break, label: Break, max_minutes: 15 }
users:
  - { login: root, roles: [admin], password: root-password-1 }
  - { login: alice, roles: [agent], password: alice-password-1, skills: { billing: 7 }, languages: { en: 10 } }
`;

describe.each(DATABASE_KINDS)('config apply on %s', (kind) => {
  let t: TestDatabase;
  let store: Store;
  let config: ConfigService;
  let users: UsersService;
  const events: DomainEvent[] = [];

  const snapshot = async () => {
    const db = t.database.db;
    return {
      senders: await db.selectFrom('senders').selectAll().orderBy('id').execute(),
      queues: await db.selectFrom('queues').selectAll().orderBy('id').execute(),
      mailboxes: await db.selectFrom('mailboxes').selectAll().orderBy('id').execute(),
      users: await db.selectFrom('users').selectAll().orderBy('id').execute(),
      skills: await db.selectFrom('user_skills').selectAll().orderBy('user_id').orderBy('skill').execute(),
      settings: await db.selectFrom('settings').selectAll().execute(),
      reasons: await db.selectFrom('pause_reasons').selectAll().orderBy('code').execute(),
    };
  };

  beforeAll(async () => {
    t = await openTestDatabase(kind);
    store = new Store(t.database);
    const secrets = new SecretBox(parseSecretKeys(randomBytes(32).toString('base64')));
    const bus = new EventBus();
    bus.subscribe((e) => events.push(e));
    users = new UsersService({ store, secrets, bus });
    config = new ConfigService({ store, secrets, bus, env: { SMTP_PW: 'smtp-secret-1' } });
  });
  afterAll(async () => t?.close());

  it('creates everything in the file, then applying it again changes nothing', async () => {
    const first = await config.apply(BASE, admin);
    expect(first.created.sort()).toEqual(['mailboxes/inbox', 'pause_reasons/break', 'proxy/proxy', 'queues/general', 'queues/support', 'senders/out', 'users/alice', 'users/root'].sort());
    expect(events.at(-1)).toMatchObject({ type: 'config.applied', data: { by: 'tester' } });
    const before = await snapshot();
    const second = await config.apply(BASE, admin);
    expect(second.changes).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('stores secrets only encrypted: no password appears in any stored row or in the audit log', async () => {
    const rows = JSON.stringify(await snapshot());
    const audit = JSON.stringify(await store.db.selectFrom('audit_log').selectAll().execute());
    for (const secret of ['smtp-secret-1', 'mailbox-secret-1', 'ppass', 'alice-password-1', 'root-password-1']) {
      expect(rows).not.toContain(secret);
      expect(audit).not.toContain(secret);
    }
    const u = await store.repos.users.findByLogin('alice');
    expect(u?.password_hash).toMatch(/^\$argon2id\$/);
  });

  it('exports with secrets as ******** and the export re-applies without any change', async () => {
    const yaml = await config.exportYaml();
    expect(yaml).toContain('password: "********"');
    expect(yaml).toContain('socks5://puser:********@proxy.example.net:1080');
    for (const secret of ['smtp-secret-1', 'mailbox-secret-1', 'ppass', 'alice-password-1']) expect(yaml).not.toContain(secret);
    const before = await snapshot();
    const result = await config.apply(yaml, admin);
    expect(result.changes).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('an update names the changed fields and writes before/after to the audit log', async () => {
    const changed = BASE.replace('skills: { billing: 3 }', 'skills: { billing: 4 }').replace('mailbox-secret-1', 'mailbox-secret-2');
    const r = await config.apply(changed, admin);
    expect(r.changes).toEqual(
      expect.arrayContaining([
        { section: 'queues', key: 'support', action: 'update', fields: ['skills'] },
        { section: 'mailboxes', key: 'inbox', action: 'update', fields: ['auth.password'] },
      ]),
    );
    const audit = await store.repos.audit.list({ entityType: 'queues', entityKey: 'support' });
    expect(audit[0]).toMatchObject({ action: 'config.update', actor_login: 'tester', before: expect.objectContaining({ skills: { billing: 3 } }), after: expect.objectContaining({ skills: { billing: 4 } }) });
    await config.apply(BASE, admin);
  });

  it('a dry run reports the diff and changes nothing', async () => {
    const before = await snapshot();
    const r = await config.apply(BASE.replace('priority', 'priority').replace('name: general, sender: out', 'name: general, sender: out, priority: 9'), admin, { dryRun: true });
    expect(r).toMatchObject({ dryRun: true, updated: ['queues/general'] });
    expect(await snapshot()).toEqual(before);
  });

  it('without --prune keeps what the file does not name; with --prune deletes it', async () => {
    const only = `
senders:
  - { name: out, type: smtp, host: smtp.example.com, port: 587, security: starttls, from: "Support <s@example.com>", auth: { user: s@example.com, password: "********" } }
queues:
  - { name: general, sender: out }
users:
  - { login: root, roles: [admin], password: "********" }
`;
    expect((await config.apply(only, admin)).deleted).toEqual([]);
    const pruned = await config.apply(only, admin, { prune: true });
    expect(pruned.deleted.sort()).toEqual(['mailboxes/inbox', 'proxy/proxy', 'queues/support', 'users/alice'].sort());
    // No pause_reasons: in the file means the defaults (API.md), so pruning restores them.
    expect(pruned.created.sort()).toEqual(['pause_reasons/lunch', 'pause_reasons/meeting', 'pause_reasons/not-responding', 'pause_reasons/training']);
    expect((await store.repos.config.listQueues()).map((q) => q.name)).toEqual(['general']);
    expect(await store.repos.users.findByLogin('alice')).toBeUndefined();
    // Re-creating a pruned name works (soft-deleted rows do not block the name).
    expect((await config.apply(BASE, admin)).created).toEqual(expect.arrayContaining(['queues/support', 'users/alice']));
  });

  it('refuses bad input with every problem and its path, leaving the database unchanged', async () => {
    const before = await snapshot();
    const bad = [
      'senders: [\n  - {',
      `queues:\n  - { name: q, sender: out, colour: red }`,
      `mailboxes:\n  - { name: m, protocol: imap, host: h, port: "x", security: tls, auth: { user: u, password: p }, queue: support }`,
      `queues:\n  - { name: a, sender: out }\n  - { name: a, sender: out }`,
      `queues:\n  - { name: q, sender: nowhere }`,
      `users:\n  - { login: z, roles: [agent], skills: { billing: 11 } }`,
      `mailboxes:\n  - { name: new, protocol: imap, host: h, port: 1, security: tls, auth: { user: u, password: "********" }, queue: support }`,
    ];
    for (const input of bad) {
      const err = await config.apply(input, admin).catch((e: unknown) => e);
      expect(err, input).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('CONFIG_INVALID');
      expect((err as AppError).details!.length).toBeGreaterThan(0);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('never removes the last admin', async () => {
    const before = await snapshot();
    const err = await config.apply('users:\n  - { login: alice, roles: [agent] }\n', admin, { prune: true }).catch((e: unknown) => e);
    expect((err as AppError).details).toContainEqual({ path: 'users', message: expect.stringContaining('no user with the admin role') });
    expect(await snapshot()).toEqual(before);
  });

  it('prune never deletes the user who applies the file', async () => {
    const root = (await store.repos.users.findByLogin('root'))!;
    const keep = await config.apply(BASE.replace(/users:[\s\S]*$/, 'users:\n  - { login: alice, roles: [agent, admin] }\n'), { kind: 'user', userId: root.id, login: 'root' }, { prune: true });
    expect(keep.warnings[0]).toMatch(/kept "root"/);
    expect(await store.repos.users.findByLogin('root')).toBeDefined();
    await config.apply(BASE, admin);
  });

  it('two applies at once serialize (advisory lock) and both succeed', async () => {
    const a = BASE.replace('name: general, sender: out', 'name: general, sender: out, priority: 2');
    const b = BASE.replace('name: general, sender: out', 'name: general, sender: out, priority: 3');
    await Promise.all([config.apply(a, admin), config.apply(b, admin)]);
    const q = (await store.repos.config.listQueues()).find((x) => x.name === 'general')!;
    expect([2, 3]).toContain((q.spec as { priority: number }).priority);
  });

  it('the first admin and the default pause reasons are created once, even when started twice at once', async () => {
    const fresh = await openTestDatabase(kind);
    try {
      const s = new Store(fresh.database);
      const u = new UsersService({ store: s, secrets: new SecretBox(parseSecretKeys(randomBytes(32).toString('base64'))), bus: new EventBus() });
      const [a, b] = await Promise.all([u.bootstrap('admin', undefined), u.bootstrap('admin', undefined)]);
      expect([a.created, b.created].sort()).toEqual([false, true]);
      expect((a.generatedPassword ?? b.generatedPassword)!.length).toBe(20);
      expect(await s.repos.users.count()).toBe(1);
      expect((await s.repos.config.listPauseReasons()).map((r) => r.code)).toContain('not-responding');
      const { n } = await sql<{ n: number }>`select count(*)::int as n from audit_log where action = 'user.bootstrap'`.execute(fresh.database.db).then((r) => r.rows[0]!);
      expect(n).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it('an agent state change with a configured pause reason is published; an unknown reason is refused', async () => {
    const alice = (await store.repos.users.findByLogin('alice'))!;
    events.length = 0;
    await users.setState(alice.id, 'paused', 'break', admin);
    expect(events.filter((e) => e.type === 'agent.state').map((e) => e.data)).toContainEqual(expect.objectContaining({ login: 'alice', state: 'paused', reason: 'break' }));
    await expect(users.setState(alice.id, 'paused', 'nap', admin)).rejects.toMatchObject({ code: 'UNKNOWN_PAUSE_REASON' });
  });
});
