/**
 * Connections that survive the real world (issue 5, item 4 and its "Done when"), through the
 * fault proxy between Mailroom and Dovecot or the SMTP server, on a running Mailroom (PGlite):
 * a stalled IDLE is detected and reconnected; cuts in the middle of FETCH lose and duplicate
 * nothing; an SMTP cut after DATA never sends twice; backoff is capped, jittered and reset after
 * a stable period; a per-user connection limit is a clear error retried slowly; changing the
 * global proxy reconnects exactly the mailboxes that inherit it; TLS warnings show in the test.
 *
 * Timing is observed, never asserted: waits are generous, detection times go to the log.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxSchema } from '../../src/config/schema.js';
import { ImapSource } from '../../src/connectors/imap/imap-source.js';
import { EMPTY_POSITION, type MailSource } from '../../src/connectors/mail-source.js';
import { AppError } from '../../src/domain/errors.js';
import type { MailboxState } from '../../src/domain/types.js';
import { StoreInboundSink } from '../../src/services/inbound-sink.js';
import { MailboxRunner, type InboundSink } from '../../src/services/mailbox-runner.js';
import { ApiClient } from '../helpers/api-client.js';
import { eventually, flagsOf, imapPeek, rawMail, sha } from '../helpers/mail.js';
import { message, rng } from '../helpers/pop3-fixtures.js';
import { ADMIN_PASSWORD, startRuntime, type TestRuntime } from '../helpers/runtime.js';
import { testCerts, type TestCerts } from '../peers/certs.js';
import { startDante, type DantePeer } from '../peers/dante.js';
import { startDovecot, type DovecotPeer } from '../peers/dovecot.js';
import { startFaultProxy, type FaultProxy, type FaultTrigger } from '../peers/fault-proxy.js';
import { startSmtpSink, type SmtpSink } from '../peers/smtp-sink.js';
import { isRoot, missingSystemPackages } from '../peers/system-packages.js';

const missing = [...missingSystemPackages(['dovecot', 'dante', 'openssl']), ...(isRoot() ? [] : ['the peers run as root'])];
if (missing.length > 0) console.warn(`liveness.test.ts skipped: ${missing.join('; ')}`);

const USERS = ['stall', 'faults', 'support', 'inherit', 'direct', 'backoff'].map((user) => ({ user, password: `${user}-pw` }));
const LIMITED_USERS = ['limited', 'warned'].map((user) => ({ user, password: `${user}-pw` }));

let certs: TestCerts;
let main: DovecotPeer;
let limited: DovecotPeer;
let danteA: DantePeer;
let danteB: DantePeer;
let sink: SmtpSink;
const fp = {} as Record<'idle' | 'fetch' | 'smtp' | 'direct' | 'backoff' | 'danteA' | 'danteB', FaultProxy>;
let rt: TestRuntime;
let admin: ApiClient;
const stops: Array<() => Promise<void> | undefined> = [];

interface MailboxView {
  id: number;
  name: string;
  status: { state: MailboxState; lastError: { code: string; message: string; hint: string } | null };
}
interface LogEvent {
  id: number;
  at: string;
  kind: string;
  message: string;
  detail: any;
}

/** A mailbox of the config with the defaults these tests share (no proxy unless given). */
function mailbox(name: string, user: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, protocol: 'imap', host: '127.0.0.1', port: main.imapPort, security: 'none', auth: { user, password: `${user}-pw` }, queue: 'faults', proxy: 'none', liveness: { reconnect_s: 1 }, ...over };
}

async function apply(config: Record<string, unknown>): Promise<void> {
  const r = await admin.request('PUT', '/api/v1/config', config);
  expect(r.status, r.text).toBe(200);
}

async function find(name: string): Promise<MailboxView> {
  const list = await admin.request('GET', '/api/v1/mailboxes?limit=500');
  const mb = (list.body.items as MailboxView[]).find((m) => m.name === name);
  if (!mb) throw new Error(`no mailbox ${name}`);
  return mb;
}

/** The connection log, oldest first. */
async function log(id: number): Promise<LogEvent[]> {
  const r = await admin.request('GET', `/api/v1/mailboxes/${id}/events?limit=500`);
  return (r.body.items as LogEvent[]).reverse();
}

async function stored(mailboxId: number): Promise<{ sha: string; acked: boolean }[]> {
  const rows = await rt.runtime.core.store.db
    .selectFrom('messages as m')
    .innerJoin('mailbox_uidls as u', (j) => j.onRef('u.mailbox_id', '=', 'm.mailbox_id').onRef('u.uidl', '=', 'm.source_key'))
    .select(['m.raw', 'u.acked_at'])
    .where('m.mailbox_id', '=', mailboxId)
    .orderBy('m.id')
    .execute();
  return rows.map((r) => ({ sha: sha(r.raw), acked: r.acked_at !== null }));
}

async function countStored(mailboxId: number): Promise<number> {
  const r = await rt.runtime.core.store.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('mailbox_id', '=', mailboxId).executeTakeFirstOrThrow();
  return Number(r.n);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A sink for runners whose mailbox stays empty (the tests that only look at connecting). */
const emptySink: InboundSink = {
  position: async () => EMPTY_POSITION,
  commit: async () => ({ inserted: [], duplicates: [] }),
  markAcked: async () => undefined,
  unackedKeys: async () => [],
  known: async () => new Set(),
  touch: async () => undefined,
};

const connected = (name: string) => eventually(async () => ((await find(name)).status.state === 'connected' ? find(name) : null), 20_000, `${name} connected`);

describe.skipIf(missing.length > 0)('liveness through the fault proxy', () => {
  beforeAll(async () => {
    certs = await testCerts();
    const started = <T extends { stop(): Promise<void> }>(p: Promise<T>) => p.then((peer) => (stops.push(() => peer.stop()), peer));
    [main, limited, danteA, danteB, sink] = await Promise.all([
      started(startDovecot({ users: USERS, maxUserIpConnections: 20 })),
      started(startDovecot({ users: LIMITED_USERS, maxUserIpConnections: 1, tls: certs.expiringSoon })),
      started(startDante({ auth: 'none' })),
      started(startDante({ auth: 'none' })),
      started(startSmtpSink({ tls: 'none' })),
    ]);
    const imap = { host: '127.0.0.1', port: main.imapPort };
    [fp.idle, fp.fetch, fp.direct, fp.backoff, fp.smtp, fp.danteA, fp.danteB] = await Promise.all([
      started(startFaultProxy(imap)),
      started(startFaultProxy(imap)),
      started(startFaultProxy(imap)),
      started(startFaultProxy(imap)),
      started(startFaultProxy({ host: sink.host, port: sink.port })),
      started(startFaultProxy({ host: danteA.host, port: danteA.port })),
      started(startFaultProxy({ host: danteB.host, port: danteB.port })),
    ]);
    rt = await startRuntime('pglite');
    stops.push(() => rt.close());
    admin = new ApiClient(rt.url);
    await admin.login('admin', ADMIN_PASSWORD);
    await apply({
      senders: [{ name: 'out', type: 'smtp', host: '127.0.0.1', port: fp.smtp.port, security: 'none', from: 'Support <support@example.com>', proxy: 'none' }],
      queues: [
        { name: 'support', sender: 'out', routing: { mode: 'assign' } },
        // Nobody has this skill: what lands here waits, so tests that import in bulk route nothing.
        { name: 'faults', sender: 'out', skills: { nobody: 10 } },
      ],
      users: [{ login: 'alice', roles: ['agent'], password: 'alice-password-1', languages: { en: 10 }, capacity: 10 }],
    });
  });

  afterAll(async () => {
    await Promise.allSettled(stops.reverse().map((stop) => stop()));
  });

  it('TLS verify: none and a certificate expiring within 30 days are warnings of a passing test', async () => {
    const tls = (over: Record<string, unknown>) => mailbox(over.name as string, 'warned', { host: 'localhost', port: limited.imapsPort, security: 'tls', enabled: false, ...over });
    await apply({ mailboxes: [tls({ name: 'warn-expiring', tls: { verify: 'chain', ca: certs.ca.cert } }), tls({ name: 'warn-unverified', tls: { verify: 'none' } })] });
    for (const [name, warning] of [
      ['warn-expiring', /expires in (9|10) days/],
      ['warn-unverified', /verification is off/],
    ] as const) {
      const r = await admin.request('POST', `/api/v1/mailboxes/${(await find(name)).id}/test`);
      expect(r.body.ok, name).toBe(true);
      const step = (r.body.steps as { name: string; ok: boolean; warnings: string[] }[]).find((s) => s.name === 'tls')!;
      expect(step.ok).toBe(true);
      expect(step.warnings.join(' ')).toMatch(warning);
    }
  });

  it('a stalled IDLE (half-open TCP) is detected and the mailbox reconnects and imports again', async () => {
    await apply({ mailboxes: [mailbox('stall', 'stall', { port: fp.idle.port, liveness: { keepalive_s: 5, timeout_s: 4, reconnect_s: 1 } })] });
    const mb = await connected('stall');
    await main.append('stall', 'INBOX', rawMail({ subject: 'Before the stall' }));
    await eventually(async () => (await stored(mb.id)).length === 1, 15_000, 'the first message');
    const lastBefore = (await log(mb.id)).at(-1)!.id;
    const connectionsBefore = fp.idle.connections.length;
    // Stop forwarding on the open connection, both ways, without closing it: silence, no FIN, no RST.
    for (const c of fp.idle.active()) c.setMode({ kind: 'stall' });
    const stalledAt = Date.now();
    const after = await eventually(async () => {
      const events = (await log(mb.id)).filter((e) => e.id > lastBefore);
      const error = events.find((e) => e.kind === 'error');
      const back = error && events.find((e) => e.kind === 'connected' && e.id > error.id);
      return back ? { error, back } : null;
    }, 60_000, 'an error and a new connection after the stall');
    console.info(
      `stalled IDLE (keepalive 5 s, timeout 4 s): detected after ${((Date.parse(after.error.at) - stalledAt) / 1000).toFixed(1)} s, reconnected after ${((Date.parse(after.back.at) - stalledAt) / 1000).toFixed(1)} s`,
    );
    // Found by the keepalive probe (keepalive + timeout), not by the socket's slower safety net.
    expect(after.error.detail.code).toBe('IMAP_TIMEOUT');
    expect(after.error.message).toMatch(/did not answer a keepalive NOOP within 4 s/);
    expect(fp.idle.connections.length).toBeGreaterThan(connectionsBefore);
    const late = rawMail({ subject: 'After the stall' });
    await main.append('stall', 'INBOX', late);
    await eventually(async () => (await stored(mb.id)).some((m) => m.sha === sha(late)), 20_000, 'the message after the reconnect');
    expect((await find('stall')).status.state).toBe('connected');
  });

  it('cuts in the middle of FETCH (500 messages, faults at random) lose and duplicate nothing, through the runner and the database', async () => {
    await apply({ mailboxes: [mailbox('fetch-faults', 'faults', { enabled: false })] });
    const mb = await find('fetch-faults');
    const seed = Date.now() % 100_000;
    const rand = rng(seed);
    // About 8 KB each: a FETCH batch of 100 is about 800 KB, the mailbox about 4 MB.
    const sent = Array.from({ length: 500 }, (_, i) => message('faults', i, 2000 + Math.floor(rand() * 12_000), rand));
    await main.deliver('faults', 'INBOX', sent);
    const store = rt.runtime.core.store;
    const spec = mailboxSchema.parse(mailbox('fetch-faults', 'faults', { port: fp.fetch.port, liveness: { keepalive_s: 60, timeout_s: 10, reconnect_s: 1 } }));
    const events: { kind: string; detail?: any }[] = [];
    // The real runner and store; only the delays are short, so that many faults fit in the test.
    const runner = new MailboxRunner({
      mailboxId: mb.id,
      name: 'fetch-faults',
      // Batches of 100 (IMAP's default is 250), the size the fault budget below is reckoned in.
      createSource: () => new ImapSource({ spec, batchMessages: 100 }),
      sink: new StoreInboundSink(store, () => rt.runtime.mail.ingest.kick()),
      reporter: { status: async () => undefined, event: async (kind, _m, detail) => void events.push({ kind, detail }) },
      logger: pino({ level: 'silent' }),
      reconnectS: 0.2,
      backoffMaxMs: 400,
      resyncMs: 600_000,
      pollMs: 600_000,
    });
    let faults = 0;
    runner.start();
    try {
      // Faults until everything is in: anywhere in a session (sign-in, SELECT, SEARCH, the size
      // listing, up to about one and a half FETCH batches), inside a message literal, or right
      // before the client's STORE \Seen (committed, not yet acknowledged) or its next FETCH. A
      // faulted session commits at most one batch of 100 (about 800 KB), so the import takes
      // several sessions and at least four faults; each fault is followed by a reconnect.
      while ((await countStored(mb.id)) < 500 && faults < 60) {
        const action = rand() < 0.5 ? 'cut' : 'reset';
        const r = rand();
        const trigger: FaultTrigger =
          r < 0.5
            ? { afterBytes: 1 + Math.floor(rand() * 1_200_000), action }
            : r < 0.7
              ? { pattern: 'BODY[] {', offset: Math.floor(rand() * 8000), action }
              : { direction: 'client', pattern: rand() < 0.6 ? 'UID STORE' : 'UID FETCH', action };
        const armed = fp.fetch.arm(trigger);
        let fired = false;
        void armed.fired.then(() => (fired = true));
        const end = Date.now() + 20_000;
        while (!fired && Date.now() < end && (await countStored(mb.id)) < 500) await sleep(50);
        armed.disarm();
        if (fired) faults++;
      }
      const rows = await eventually(async () => {
        const all = await stored(mb.id);
        return all.length >= 500 && all.every((m) => m.acked) ? all : null;
      }, 60_000, 'all 500 committed and acknowledged');
      console.info(`IMAP faults (seed ${seed}): ${faults} injected while importing, ${events.filter((e) => e.kind === 'error').length} reconnects, ${events.filter((e) => e.kind === 'recovered').length} recoveries of unacknowledged messages`);
      expect(faults, `seed ${seed}`).toBeGreaterThanOrEqual(4);
      expect(rows.map((m) => m.sha).sort(), `seed ${seed}`).toEqual(sent.map(sha).sort());
      const peek = await imapPeek(main.host, main.imapPort, 'faults', 'faults-pw');
      try {
        const flags = await flagsOf(peek, 'INBOX');
        expect(flags.size).toBe(500);
        expect([...flags.values()].every((f) => f.has('\\Seen'))).toBe(true);
      } finally {
        await peek.logout();
      }
    } finally {
      await runner.stop();
    }
  });

  it('an SMTP cut right after DATA (before "250 … queued as" reaches us) never sends twice through the outbox', async () => {
    await apply({ mailboxes: [mailbox('support-in', 'support', { queue: 'support' })] });
    const alice = new ApiClient(rt.url);
    await alice.login('alice', 'alice-password-1');
    await alice.request('PUT', '/api/v1/me/state', { state: 'available' });
    await main.append('support', 'INBOX', rawMail({ subject: 'Where is my parcel?', body: 'Hello, my parcel has not arrived yet. Can you check where it is?' }));
    const conversation = await eventually(async () => {
      const r = await alice.request('GET', '/api/v1/conversations?assignee=me');
      return (r.body.items as { id: number }[])[0];
    }, 20_000, 'the conversation assigned to alice');

    const reply = async (text: string) => {
      const r = await alice.request('POST', `/api/v1/conversations/${conversation.id}/replies`, { text });
      expect(r.status, r.text).toBe(202);
      return r.body.messageId as number;
    };
    const settled = (id: number) =>
      eventually(async () => {
        const m = await alice.request('GET', `/api/v1/messages/${id}`);
        return m.body.delivery === 'sent' || m.body.delivery === 'failed' ? m.body : null;
      }, 30_000, 'a final delivery state');
    const atSink = (marker: string) => sink.messages.filter((m) => m.raw.includes(marker)).length;

    const cut = fp.smtp.arm({ direction: 'server', pattern: 'queued as', action: 'cut' });
    const first = await reply('Your parcel is on its way: marker-cut-after-data.');
    const outcome = await settled(first);
    expect(cut.count()).toBe(1);
    // The server took it, we never heard so: not sent again, and the message says why.
    expect(outcome).toMatchObject({ delivery: 'failed', deliveryError: expect.stringMatching(/^DELIVERY_UNCERTAIN: /) });
    expect(atSink('marker-cut-after-data')).toBe(1);

    const second = await reply('And a second answer: marker-after-the-cut.');
    expect((await settled(second)).delivery).toBe('sent');
    expect(atSink('marker-after-the-cut')).toBe(1);
    expect(atSink('marker-cut-after-data')).toBe(1);
  });

  it('backoff: capped and jittered while failing, shown as error, reset after a stable connection; no retry storm', async () => {
    const spec = mailboxSchema.parse(mailbox('backoff', 'backoff', { port: fp.backoff.port }));
    const events: { kind: string; detail?: any }[] = [];
    const states: [MailboxState, string | undefined][] = [];
    const runner = new MailboxRunner({
      mailboxId: 1,
      name: 'backoff',
      createSource: () => new ImapSource({ spec }),
      sink: emptySink,
      reporter: { status: async (state, error) => void states.push([state, error?.code]), event: async (kind, _m, detail) => void events.push({ kind, detail }) },
      logger: pino({ level: 'silent' }),
      reconnectS: 0.5,
      backoffMaxMs: 2000,
      backoffStableMs: 2000,
      resyncMs: 600_000,
      pollMs: 600_000,
    });
    // The server side is gone: every new connection is reset as it opens.
    fp.backoff.resetAll({ refuseNew: true });
    const before = fp.backoff.connections.length;
    const windowMs = 9000;
    runner.start();
    try {
      await sleep(windowMs);
      const attempts = fp.backoff.connections.length - before;
      const delays = events.filter((e) => e.kind === 'error').map((e) => e.detail.retryInMs as number);
      console.info(`backoff: ${attempts} attempts in ${windowMs / 1000} s, delays ${delays.join(', ')} ms`);
      // Each attempt is one connection, and it keeps trying.
      expect(attempts).toBeGreaterThanOrEqual(3);
      // (A 'connect' is logged just before its connection opens: one may be on its way.)
      const logged = events.filter((e) => e.kind === 'connect').length;
      expect(logged - attempts).toBeGreaterThanOrEqual(0);
      expect(logged - attempts).toBeLessThanOrEqual(1);
      // Capped: doubling from 0.5 s stops at 2 s; jittered: each delay is in [ceiling/2, ceiling].
      delays.forEach((d, i) => {
        const ceiling = Math.min(2000, 500 * 2 ** i);
        expect(d, `delay ${i}`).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d, `delay ${i}`).toBeLessThanOrEqual(ceiling);
      });
      expect(delays.some((d, i) => d !== Math.min(2000, 500 * 2 ** i))).toBe(true);
      // No retry storm: at the cap, at most one attempt per second (the jittered minimum) plus the ramp.
      expect(attempts).toBeLessThanOrEqual(4 + windowMs / 1000);
      // Shown as error with the last error, never "connecting" in between.
      expect(states.at(-1)?.[0]).toBe('error');
      expect(states.at(-1)?.[1]).toBe(events.filter((e) => e.kind === 'error').at(-1)!.detail.code);
      expect(states.at(-1)?.[1]).toMatch(/^[A-Z0-9_]+$/);
      expect(states.filter(([s]) => s === 'connecting')).toHaveLength(1);

      // The server is back: connected; after a stable period a drop starts again from the base.
      fp.backoff.acceptNew();
      await eventually(async () => states.at(-1)?.[0] === 'connected', 15_000, 'connected again');
      await sleep(2500);
      const errorsBefore = events.filter((e) => e.kind === 'error').length;
      fp.backoff.cutAll();
      await eventually(async () => events.filter((e) => e.kind === 'error').length > errorsBefore, 15_000, 'the drop noticed');
      const afterStable = events.filter((e) => e.kind === 'error').at(-1)!.detail.retryInMs as number;
      expect(afterStable).toBeLessThanOrEqual(500);
      await eventually(async () => states.at(-1)?.[0] === 'connected', 15_000, 'reconnected after the drop');
    } finally {
      fp.backoff.acceptNew();
      await runner.stop();
    }
  });

  it('a reconnect interval above the backoff cap is honoured (the first retry waits reconnect_s)', async () => {
    const events: { kind: string; detail?: any }[] = [];
    const failing: MailSource = {
      capabilities: { push: false, move: false, flag: false, changeMarker: false },
      connect: () => Promise.reject(new AppError('TCP_REFUSED', 'refused', { status: 502 })),
      read: async () => undefined,
      acknowledge: async () => undefined,
      watch: async () => undefined,
      close: async () => undefined,
    };
    const runner = new MailboxRunner({
      mailboxId: 1,
      name: 'slow',
      createSource: () => failing,
      sink: emptySink,
      reporter: { status: async () => undefined, event: async (kind, _m, detail) => void events.push({ kind, detail }) },
      logger: pino({ level: 'silent' }),
      // reconnect_s allows up to 3600 s, above the 5 min cap of the backoff.
      reconnectS: 600,
      resyncMs: 600_000,
      pollMs: 600_000,
    });
    runner.start();
    try {
      const error = await eventually(async () => events.find((e) => e.kind === 'error'), 5000, 'the first failure');
      expect(error.detail.retryInMs).toBeGreaterThanOrEqual(300_000);
    } finally {
      await runner.stop();
    }
  });

  it('a per-user connection limit shows CONNECTION_LIMIT with a clear hint and is retried slowly', async () => {
    // Another client holds the only connection Dovecot allows this user from this address.
    const other = await imapPeek(limited.host, limited.imapPort, 'limited', 'limited-pw');
    try {
      await apply({ mailboxes: [mailbox('limited', 'limited', { port: limited.imapPort })] });
      const mb = await eventually(async () => {
        const m = await find('limited');
        return m.status.state === 'error' ? m : null;
      }, 20_000, 'the error state');
      expect(mb.status.lastError).toMatchObject({ code: 'CONNECTION_LIMIT', hint: expect.stringContaining('mail_max_userip_connections') });
      expect(mb.status.lastError!.message).toMatch(/Maximum number of connections/);
      const first = (await log(mb.id)).find((e) => e.kind === 'error')!;
      expect(first.detail.retryInMs).toBeGreaterThanOrEqual(60_000);
      // reconnect_s is 1: without the slow retry there would be several attempts in this window.
      await sleep(4000);
      const events = await log(mb.id);
      expect(events.filter((e) => e.kind === 'connect')).toHaveLength(1);
      expect(events.filter((e) => e.kind === 'error')).toHaveLength(1);
      expect((await limited.log()).match(/Maximum number of connections from user\+IP exceeded/g)?.length ?? 0).toBeLessThanOrEqual(2);
    } finally {
      await other.logout();
      await apply({ mailboxes: [mailbox('limited', 'limited', { port: limited.imapPort, enabled: false })] });
    }
  });

  it('changing the global proxy reconnects the mailboxes that inherit it, through the new proxy, and no other', async () => {
    const proxyA = `socks5://127.0.0.1:${fp.danteA.port}`;
    const proxyB = `socks5://127.0.0.1:${fp.danteB.port}`;
    await apply({
      proxy: proxyA,
      mailboxes: [mailbox('inherits', 'inherit', { proxy: 'inherit' }), mailbox('own-route', 'direct', { port: fp.direct.port, proxy: 'none' })],
    });
    const inherits = await connected('inherits');
    const own = await connected('own-route');
    expect(fp.danteA.active()).toHaveLength(1);
    const ownConnections = fp.direct.connections.length;
    const ownConnects = (await log(own.id)).filter((e) => e.kind === 'connect').length;
    const lastInherits = (await log(inherits.id)).at(-1)!.id;

    await apply({ proxy: proxyB });
    await eventually(async () => fp.danteB.active().length === 1 && (await log(inherits.id)).some((e) => e.id > lastInherits && e.kind === 'connected'), 20_000, 'reconnected through the new proxy');
    await eventually(async () => fp.danteA.active().length === 0, 10_000, 'the old proxy connection closed');
    const mail = rawMail({ subject: `Through the new proxy ${randomBytes(3).toString('hex')}` });
    await main.append('inherit', 'INBOX', mail);
    await eventually(async () => (await stored(inherits.id)).some((m) => m.sha === sha(mail)), 20_000, 'imported through the new proxy');
    // The mailbox with proxy: none kept its connection.
    expect(fp.direct.connections.length).toBe(ownConnections);
    expect(fp.direct.active()).toHaveLength(1);
    expect((await log(own.id)).filter((e) => e.kind === 'connect')).toHaveLength(ownConnects);
    expect((await find('own-route')).status.state).toBe('connected');
  });
});
