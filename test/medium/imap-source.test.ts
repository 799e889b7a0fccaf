/**
 * The IMAP path against a real Dovecot: the connector runner commits raw bytes and the position
 * before it flags, moves or deletes; pushes via IDLE; survives a UIDVALIDITY reset and a crash
 * between commit and acknowledgement without importing anything twice.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSecretKeys, SecretBox } from '../../src/auth/secret-box.js';
import { mailboxSchema } from '../../src/config/schema.js';
import { testImapConnection } from '../../src/connectors/imap/imap-connection-test.js';
import { ImapSource } from '../../src/connectors/imap/imap-source.js';
import type { MailSource } from '../../src/connectors/mail-source.js';
import { AppError } from '../../src/domain/errors.js';
import { EventBus } from '../../src/domain/events.js';
import { ConfigService } from '../../src/services/config.service.js';
import { StoreInboundSink } from '../../src/services/inbound-sink.js';
import { MailboxesService, type SourceFactory } from '../../src/services/mailboxes.service.js';
import { Store } from '../../src/store/store.js';
import { openTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { eventually, flagsOf, imapPeek, rawMail, sha } from '../helpers/mail.js';
import { startDovecot, type DovecotPeer } from '../peers/dovecot.js';

const USERS = [
  { user: 'support', password: 'support-pw' },
  { user: 'sales', password: 'sales-pw' },
  { user: 'billing', password: 'billing-pw' },
  { user: 'refused', password: 'refused-pw' },
];

describe('IMAP source on Dovecot', () => {
  let dovecot: DovecotPeer;
  let t: TestDatabase;
  let store: Store;
  let config: ConfigService;
  let mailboxes: MailboxesService;
  let bus: EventBus;
  /** Lets a test make one mailbox's source fail its first acknowledgement (a crash in between). */
  const failFirstAck = new Set<string>();

  const mailboxYaml = (name: string, user: string, extra = '') =>
    `{ name: ${name}, protocol: imap, host: 127.0.0.1, port: ${dovecot.imapPort}, security: none, auth: { user: ${user}, password: ${USERS.find((u) => u.user === user)!.password} }, queue: support${extra.includes('liveness') ? '' : ', liveness: { reconnect_s: 1 }'}${extra} }`;

  const apply = (mbs: string[]) =>
    config.apply(`senders:\n  - { name: out, type: smtp, host: 127.0.0.1, port: 25, security: none, from: s@example.com }\nqueues:\n  - { name: support, sender: out }\nmailboxes:\n${mbs.map((m) => `  - ${m}`).join('\n')}\n`, { kind: 'system', userId: null, login: 'test' });

  const stored = async (mailbox: string) => {
    const mb = (await store.repos.config.listMailboxes()).find((m) => m.name === mailbox)!;
    const rows = await store.db
      .selectFrom('messages as m')
      .innerJoin('mailbox_uidls as u', (j) => j.onRef('u.mailbox_id', '=', 'm.mailbox_id').onRef('u.uidl', '=', 'm.source_key'))
      .select(['m.raw', 'm.source_key', 'u.acked_at'])
      .where('m.mailbox_id', '=', mb.id)
      .orderBy('m.id')
      .execute();
    return rows.map((r) => ({ sha: sha(r.raw), key: r.source_key!, acked: r.acked_at !== null }));
  };

  beforeAll(async () => {
    dovecot = await startDovecot({ users: USERS });
    t = await openTestDatabase('pglite');
    store = new Store(t.database);
    const secrets = new SecretBox(parseSecretKeys(randomBytes(32).toString('base64')));
    bus = new EventBus();
    config = new ConfigService({ store, secrets, bus, env: {} });
    const factory: SourceFactory = (spec, ctx) => {
      const source = new ImapSource({ spec, logger: ctx.logger });
      if (!failFirstAck.has(spec.auth.user ?? '')) return source;
      failFirstAck.delete(spec.auth.user ?? '');
      const original = source.acknowledge.bind(source);
      let failed = false;
      source.acknowledge = async (keys) => {
        if (!failed) {
          failed = true;
          throw new AppError('CONNECTION_RESET', 'simulated crash between commit and acknowledgement', { status: 502 });
        }
        return original(keys);
      };
      return source as MailSource;
    };
    mailboxes = new MailboxesService({ store, secrets, bus, sink: new StoreInboundSink(store, () => undefined), logger: pino({ level: 'silent' }), sourceFactory: factory });
    await mailboxes.start();
  });
  afterAll(async () => {
    await mailboxes?.stop();
    await t?.close();
    await dovecot?.stop();
  });

  it('imports what is in the folder, byte for byte, and flags it \\Seen only after the commit', async () => {
    const mails = [rawMail(), rawMail({ subject: 'Second' }), rawMail({ subject: 'Third' })];
    await dovecot.append('support', 'INBOX', mails);
    await apply([mailboxYaml('support-inbox', 'support')]);
    const rows = await eventually(async () => ((await stored('support-inbox')).length === 3 ? stored('support-inbox') : null), 15_000, 'three imported messages');
    expect(rows.map((r) => r.sha)).toEqual(mails.map(sha));
    const peek = await imapPeek(dovecot.host, dovecot.imapPort, 'support', 'support-pw');
    try {
      await eventually(async () => [...(await flagsOf(peek, 'INBOX')).values()].every((f) => f.has('\\Seen')), 10_000, 'all flagged \\Seen');
    } finally {
      await peek.logout();
    }
    expect((await stored('support-inbox')).every((r) => r.acked)).toBe(true);
    const mb = (await store.repos.config.listMailboxes())[0]!;
    expect(mb.status_state).toBe('connected');
    // security: none is allowed, and shown on the mailbox until it changes.
    expect(mb.status_warnings.join(' ')).toMatch(/unencrypted/);
  });

  it('a message appended while idle is pushed and imported', async () => {
    const mail = rawMail({ subject: 'Arrives during IDLE' });
    await dovecot.append('support', 'INBOX', mail);
    await eventually(async () => (await stored('support-inbox')).some((r) => r.sha === sha(mail)), 15_000, 'the pushed message');
  });

  it('reconnecting (config change) imports nothing twice', async () => {
    const before = (await stored('support-inbox')).length;
    await apply([mailboxYaml('support-inbox', 'support', ', liveness: { reconnect_s: 2 }')]);
    await eventually(async () => (await store.repos.config.listMailboxes())[0]!.status_state === 'connected' && (await stored('support-inbox')).length === before, 10_000, 'reconnected');
    const mail = rawMail({ subject: 'After reconnect' });
    await dovecot.append('support', 'INBOX', mail);
    await eventually(async () => (await stored('support-inbox')).length === before + 1, 15_000, 'one more');
    expect(new Set((await stored('support-inbox')).map((r) => r.sha)).size).toBe(before + 1);
  });

  it('a UIDVALIDITY reset re-reads the folder but imports only the new message', async () => {
    const before = await stored('support-inbox');
    // Recreate the folder: Dovecot gives it a new UIDVALIDITY; the old mails come back with new UIDs.
    const peek = await imapPeek(dovecot.host, dovecot.imapPort, 'support', 'support-pw');
    const lock = await peek.getMailboxLock('INBOX');
    const all = await peek.fetchAll('1:*', { source: true }, {});
    lock.release();
    await peek.mailboxCreate('Tmp');
    await peek.logout();
    await apply([mailboxYaml('support-inbox', 'support', ', folder: Tmp')]);
    await eventually(async () => (await stored('support-inbox')).length === before.length, 5000, 'settled');
    const fresh = rawMail({ subject: 'New after reset' });
    await dovecot.append('support', 'Tmp', [...all.map((m) => m.source!), fresh]);
    await eventually(async () => (await stored('support-inbox')).length === before.length + 1, 15_000, 'only the new one');
    await new Promise((r) => setTimeout(r, 500));
    const after = await stored('support-inbox');
    expect(after.length).toBe(before.length + 1);
    expect(after.at(-1)!.sha).toBe(sha(fresh));
  });

  it('after_import move and delete act on the server after the commit', async () => {
    await dovecot.append('sales', 'INBOX', [rawMail({ subject: 'Move me' })]);
    await dovecot.append('billing', 'INBOX', [rawMail({ subject: 'Delete me' })]);
    await apply([mailboxYaml('sales-inbox', 'sales', ', after_import: "move:Done"'), mailboxYaml('billing-inbox', 'billing', ', after_import: delete')]);
    await eventually(async () => (await stored('sales-inbox')).length === 1 && (await stored('billing-inbox')).length === 1, 15_000, 'both imported');
    const sales = await imapPeek(dovecot.host, dovecot.imapPort, 'sales', 'sales-pw');
    const billing = await imapPeek(dovecot.host, dovecot.imapPort, 'billing', 'billing-pw');
    try {
      await eventually(async () => (await flagsOf(sales, 'INBOX')).size === 0 && (await flagsOf(sales, 'Done')).size === 1, 10_000, 'moved to Done');
      await eventually(async () => (await flagsOf(billing, 'INBOX')).size === 0, 10_000, 'deleted');
    } finally {
      await sales.logout();
      await billing.logout();
    }
  });

  it('a refused after_import keeps importing, shows why on the mailbox, and is applied once the server allows it', async () => {
    const first = rawMail({ subject: 'Refused move 1' });
    const second = rawMail({ subject: 'Refused move 2' });
    await dovecot.append('refused', 'INBOX', [first]);
    // Dovecot will not create a folder whose name begins with '~': every MOVE is refused (NO).
    await apply([mailboxYaml('refused-inbox', 'refused', ', after_import: "move:~Done"')]);
    await eventually(async () => ((await stored('refused-inbox')).length === 1 ? true : null), 15_000, 'the first imported');
    const mailbox = async () => (await store.repos.config.listMailboxes()).find((m) => m.name === 'refused-inbox')!;
    const warned = await eventually(async () => {
      const m = await mailbox();
      return m.status_state === 'connected' && m.status_warnings.some((w) => /refused to move to ~Done/.test(w)) ? m : null;
    }, 10_000, 'connected, with the refusal as a warning');
    expect(warned.status_warnings.join(' ')).toMatch(/after_import: none/);
    // Mail keeps arriving and keeps being imported (the refused one is not imported again).
    await dovecot.append('refused', 'INBOX', [second]);
    await eventually(async () => ((await stored('refused-inbox')).length === 2 ? true : null), 15_000, 'the second imported');
    expect((await stored('refused-inbox')).map((r) => [r.sha, r.acked])).toEqual([[sha(first), false], [sha(second), false]]);
    const events = await store.repos.mailboxStatus.listEvents({ mailboxId: warned.id }, null, 50);
    expect(events.filter((e) => e.kind === 'acknowledge-refused')).toHaveLength(1);
    expect(events.map((e) => e.kind)).not.toContain('error');

    // The admin fixes the target: the next connection moves both, and the warning goes.
    await apply([mailboxYaml('refused-inbox', 'refused', ', after_import: "move:Done"')]);
    await eventually(async () => ((await stored('refused-inbox')).every((r) => r.acked) ? true : null), 15_000, 'both acknowledged');
    const peek = await imapPeek(dovecot.host, dovecot.imapPort, 'refused', 'refused-pw');
    try {
      expect((await flagsOf(peek, 'INBOX')).size).toBe(0);
      expect((await flagsOf(peek, 'Done')).size).toBe(2);
    } finally {
      await peek.logout();
    }
    await eventually(async () => ((await mailbox()).status_warnings.some((w) => /refused/.test(w)) ? null : true), 10_000, 'the warning gone');
    expect((await stored('refused-inbox')).length).toBe(2);
  });

  it('a crash between commit and acknowledgement: committed once, acknowledged at the next connection', async () => {
    failFirstAck.add('support');
    const mail = rawMail({ subject: 'Commit then crash' });
    await apply([mailboxYaml('support-inbox', 'support', ', liveness: { reconnect_s: 1, keepalive_s: 60 }')]);
    await dovecot.append('support', 'INBOX', mail);
    await eventually(async () => (await stored('support-inbox')).some((r) => r.sha === sha(mail) && r.acked), 20_000, 'acknowledged after the retry');
    expect((await stored('support-inbox')).filter((r) => r.sha === sha(mail))).toHaveLength(1);
    const events = await store.repos.mailboxStatus.listEvents({ mailboxId: (await store.repos.config.listMailboxes())[0]!.id }, null, 50);
    expect(events.map((e) => e.kind)).toContain('recovered');
  });

  it('a wrong password shows as error with the reason, and the connection test names the step', async () => {
    await apply([mailboxYaml('support-inbox', 'support').replace('support-pw', 'wrong-pw')]);
    const mb = await eventually(async () => {
      const m = (await store.repos.config.listMailboxes())[0]!;
      return m.status_state === 'error' ? m : null;
    }, 15_000, 'error state');
    expect(mb.status_error).toMatchObject({ code: 'AUTH_FAILED', hint: expect.stringContaining('password') });
    const spec = (pw: string, extra: object = {}) => mailboxSchema.parse({ name: 'x', protocol: 'imap', host: '127.0.0.1', port: dovecot.imapPort, security: 'none', auth: { user: 'support', password: pw }, queue: 'support', ...extra });
    const bad = await testImapConnection(spec('wrong-pw'));
    expect(bad.ok).toBe(false);
    expect(bad.steps.map((s) => [s.name, s.ok, s.code ?? null])).toEqual([['tcp', true, null], ['auth', false, 'AUTH_FAILED']]);
    const noFolder = await testImapConnection(spec('support-pw', { folder: 'Nope' }));
    expect(noFolder.steps.at(-1)).toMatchObject({ name: 'folder', ok: false, code: 'FOLDER_NOT_FOUND', hint: expect.any(String) });
    const good = await testImapConnection(spec('support-pw'));
    expect(good.ok).toBe(true);
    expect(good.steps.map((s) => s.name)).toEqual(['tcp', 'auth', 'folder']);
    expect(good.steps[0]!.warnings.join(' ')).toMatch(/unencrypted/);
  });
});
