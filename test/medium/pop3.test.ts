/**
 * The POP3 source against real peers: Dovecot's POP3 (plain, STLS, pop3s; USER/PASS and APOP),
 * Dante (with and without username auth) and the fault proxy. A small in-memory sink
 * (test/helpers/pop3-fixtures.ts) stands in for the store: it "commits" raw bytes by key
 * (sha256 only) and then acknowledges, as the mailbox runner does, so exactly-once can be
 * checked message by message.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxSchema, type MailboxSpec } from '../../src/config/schema.js';
import { EMPTY_POSITION } from '../../src/connectors/mail-source.js';
import { Pop3Client } from '../../src/connectors/pop3/pop3-client.js';
import { testPop3Connection } from '../../src/connectors/pop3/pop3-connection-test.js';
import { Pop3Source, type Pop3SourceOptions } from '../../src/connectors/pop3/pop3-source.js';
import { MailboxRunner, type InboundSink } from '../../src/services/mailbox-runner.js';
import { testCerts, type TestCerts } from '../peers/certs.js';
import { DANTE_TEST_PASSWORD, DANTE_TEST_USER, startDante, type DantePeer } from '../peers/dante.js';
import { startDovecot, type DovecotPeer } from '../peers/dovecot.js';
import { startFaultProxy, type FaultTrigger } from '../peers/fault-proxy.js';
import { getFreePort } from '../peers/ports.js';
import { isRoot, missingSystemPackages } from '../peers/system-packages.js';
import { MemorySink, message, rng, sha, until } from '../helpers/pop3-fixtures.js';

const missing = [...missingSystemPackages(['dovecot', 'dante', 'openssl']), ...(isRoot() ? [] : ['the peers run as root'])];
if (missing.length > 0) console.warn(`pop3.test.ts skipped: ${missing.join('; ')}`);

const USERS = ['modes', 'apop', 'wrongpw', 'proxied', 'big', 'del', 'lost', 'faults', 'faultsnone', 'conntest', 'runner'] as const;
type User = (typeof USERS)[number];
const password = (user: string) => `${user}-pw`;

let certs: TestCerts;
let main: DovecotPeer;
let noTls: DovecotPeer;
let expired: DovecotPeer;
let open: DantePeer;
let withAuth: DantePeer;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  if (missing.length > 0) return;
  certs = await testCerts();
  const users = USERS.map((user) => ({ user, password: password(user) }));
  // APOP needs the mechanism enabled (Dovecot then puts the timestamp in its greeting) and the
  // password stored in plain, as the peer's passwd-file does.
  const apop = 'auth_mechanisms = plain login apop\n';
  const started = <T extends { stop(): Promise<void> }>(p: Promise<T>) => p.then((peer) => (stops.push(() => peer.stop()), peer));
  [main, noTls, expired, open, withAuth] = await Promise.all([
    started(startDovecot({ users, tls: certs.localhost, maxUserIpConnections: 50, extraConfig: apop })),
    started(startDovecot({ users: [{ user: 'conntest', password: password('conntest') }] })),
    started(startDovecot({ users: [{ user: 'conntest', password: password('conntest') }], tls: certs.expired })),
    started(startDante({ auth: 'none' })),
    started(startDante({ auth: { user: DANTE_TEST_USER, password: DANTE_TEST_PASSWORD } })),
  ]);
});

afterAll(async () => {
  await Promise.allSettled(stops.map((stop) => stop()));
});

/** A mailbox spec as the config file would give it (defaults applied by the schema). */
function spec(user: User, over: Record<string, unknown> = {}): MailboxSpec {
  return mailboxSchema.parse({
    name: `pop-${user}`,
    protocol: 'pop3',
    host: 'localhost',
    port: main.pop3Port,
    security: 'none',
    auth: { user, password: password(user) },
    tls: { verify: 'chain', ca: certs.ca.cert },
    liveness: { timeout_s: 10 },
    proxy: 'none',
    queue: 'q',
    ...over,
  });
}

const source = (s: MailboxSpec, extra: Partial<Pop3SourceOptions> = {}) => new Pop3Source({ spec: s, ...extra });

/** The UIDLs on the server now, seen by a session of our own client. */
async function onServer(user: User): Promise<string[]> {
  const client = await Pop3Client.connect({ host: '127.0.0.1', port: main.pop3Port, security: 'none' });
  await client.login(user, password(user));
  const list = await client.uidlAll();
  await client.quit();
  return list.map((l) => l.uidl);
}

const stepNames = (steps: { name: string; ok: boolean; code?: string }[]) => steps.map((s) => `${s.name}:${s.ok ? 'ok' : s.code}`);

describe.skipIf(missing.length > 0)('POP3 against Dovecot', () => {
  it('reads byte-exact over plain, STLS and pop3s, with USER/PASS and APOP', async () => {
    const rand = rng(1);
    const sent = [0, 1, 2].map((i) => message('modes', i, 3000, rand));
    await main.deliver('modes', 'INBOX', sent);
    await main.deliver('apop', 'INBOX', sent);
    const want = sent.map(sha).sort();
    const modes: Array<[User, Record<string, unknown>, Partial<Pop3SourceOptions>]> = [
      ['modes', { security: 'none' }, {}],
      ['modes', { security: 'starttls' }, {}],
      ['modes', { security: 'tls', port: main.pop3sPort }, {}],
      ['apop', { security: 'none' }, { authMethod: 'apop' }],
      ['apop', { security: 'starttls' }, { authMethod: 'apop' }],
    ];
    for (const [user, over, extra] of modes) {
      const sink = new MemorySink();
      expect(await sink.poll(source(spec(user, over), extra))).toBeUndefined();
      expect([...sink.stored.values()].sort()).toEqual(want);
      // after_import: none (the POP3 default) leaves them; a second read imports nothing.
      expect(await sink.poll(source(spec(user, over), extra))).toBeUndefined();
      expect(sink.stored.size).toBe(3);
      expect(sink.duplicates).toBe(0);
    }
    expect(await main.log()).toMatch(/pop3-login: Info: Login: user=<apop>, method=APOP/);
  });

  it('security: starttls against a server without STLS: STARTTLS_NOT_OFFERED; a wrong password: AUTH_FAILED', async () => {
    const noStls = spec('conntest', { port: noTls.pop3Port, security: 'starttls' });
    expect(await new MemorySink().poll(source(noStls))).toMatchObject({ code: 'STARTTLS_NOT_OFFERED', hint: expect.stringMatching(/never falls back/) });
    const wrong = spec('wrongpw', { auth: { user: 'wrongpw', password: 'not-it' } });
    const err = await new MemorySink().poll(source(wrong));
    expect(err).toMatchObject({ code: 'AUTH_FAILED', hint: expect.any(String) });
    expect(err!.message).not.toContain('not-it');
  });

  it('through Dante, without and with username authentication', async () => {
    const rand = rng(2);
    await main.deliver('proxied', 'INBOX', [message('proxied', 0, 2000, rand), message('proxied', 1, 2000, rand)]);
    for (const proxy of [open.url, withAuth.url]) {
      const sink = new MemorySink();
      expect(await sink.poll(source(spec('proxied', { proxy, security: 'tls', port: main.pop3sPort })))).toBeUndefined();
      expect(sink.stored.size).toBe(2);
    }
    // proxy: inherit takes the global proxy.
    const sink = new MemorySink();
    expect(await sink.poll(source(spec('proxied', { proxy: 'inherit' }), { globalProxy: withAuth.url }))).toBeUndefined();
    expect(sink.stored.size).toBe(2);
  });

  it('10,000 messages: read in bounded batches with bounded memory; a second read imports nothing', async () => {
    const rand = rng(3);
    const count = 10_000;
    let mailboxBytes = 0;
    for (let i = 0; i < count; i += 1000) {
      const chunk = Array.from({ length: 1000 }, (_, k) => message('big', i + k, 5000, rand));
      mailboxBytes += chunk.reduce((n, m) => n + m.length, 0);
      await main.deliver('big', 'INBOX', chunk);
    }
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    // Retained memory: Buffers live outside the V8 heap and their backing stores are released
    // by a sweeper after the collection, so collect twice with a turn of the event loop between.
    const used = async () => {
      gc();
      await new Promise((r) => setImmediate(r));
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const sink = new MemorySink();
    const base = await used();
    let peak = 0;
    sink.beforeCommit = async () => {
      if (sink.batches.length % 10 === 0) peak = Math.max(peak, (await used()) - base);
    };
    const started = performance.now();
    expect(await sink.poll(source(spec('big')))).toBeUndefined();
    const readMs = performance.now() - started;
    expect(sink.stored.size).toBe(count);
    expect(Math.max(...sink.batches)).toBeLessThanOrEqual(100);
    expect(mailboxBytes).toBeGreaterThan(45e6);
    // Holding the mailbox would need ~50 MB; batches of 100 messages need well under one.
    console.info(`pop3 10k: mailbox ${(mailboxBytes / 1e6).toFixed(1)} MB read in ${(readMs / 1000).toFixed(1)} s (with 20 forced GCs), peak retained growth ${(peak / 1e6).toFixed(1)} MB`);
    expect(peak).toBeLessThan(mailboxBytes / 5);

    const again = source(spec('big'));
    expect(await sink.poll(again)).toBeUndefined();
    expect(again.lastRead).toEqual({ listed: count, imported: 0, redeleted: 0 });
    expect(sink.duplicates).toBe(0);
  });

  it('after_import: delete removes exactly the committed messages', async () => {
    const rand = rng(4);
    await main.deliver('del', 'INBOX', Array.from({ length: 30 }, (_, i) => message('del', i, 1500, rand)));
    const sink = new MemorySink();
    // The third commit fails (the database is down): only the first 20 may go from the server.
    sink.beforeCommit = () => {
      if (sink.batches.length === 2) throw new Error('database unavailable');
    };
    const s = spec('del', { after_import: 'delete' });
    // The caller's own error comes back as it is, not relabelled as a POP3 failure.
    expect(await sink.poll(source(s, { batchMessages: 10 }))).toMatchObject({ message: 'database unavailable' });
    expect(sink.stored.size).toBe(20);
    const left = await onServer('del');
    expect(left).toHaveLength(10);
    expect(left.filter((k) => sink.stored.has(k))).toEqual([]);
    sink.beforeCommit = undefined;
    expect(await sink.poll(source(s, { batchMessages: 10 }))).toBeUndefined();
    expect(sink.stored.size).toBe(30);
    expect(await onServer('del')).toEqual([]);
  });

  it('a DELE lost before QUIT (connection cut) is repaired by the next read', async () => {
    const rand = rng(5);
    await main.deliver('lost', 'INBOX', Array.from({ length: 10 }, (_, i) => message('lost', i, 1500, rand)));
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: main.pop3Port });
    try {
      const s = spec('lost', { after_import: 'delete', host: '127.0.0.1', port: proxy.port });
      const sink = new MemorySink();
      const trigger = proxy.arm({ direction: 'client', pattern: 'QUIT', action: 'cut' });
      const err = await sink.poll(source(s));
      expect(await trigger.fired).toBeGreaterThan(0);
      expect(err).toMatchObject({ code: 'CONNECTION_CLOSED', message: expect.stringMatching(/QUIT/) });
      expect(sink.stored.size).toBe(10);
      expect(await onServer('lost')).toHaveLength(10);

      const next = source(s);
      expect(await sink.poll(next)).toBeUndefined();
      expect(next.lastRead).toEqual({ listed: 10, imported: 0, redeleted: 10 });
      expect(await onServer('lost')).toEqual([]);
      expect(sink.duplicates).toBe(0);
    } finally {
      await proxy.stop();
    }
  });

  it('driven by the mailbox runner: imports, deletes after commit, reads again on a kick; a wrong password shows as error', async () => {
    const rand = rng(7);
    await main.deliver('runner', 'INBOX', Array.from({ length: 5 }, (_, i) => message('runner', i, 1500, rand)));
    const stored = new Map<string, string>();
    const acked = new Set<string>();
    const states: Array<[string, string | undefined]> = [];
    const sink: InboundSink = {
      position: async () => EMPTY_POSITION,
      async commit(_id, batch) {
        const inserted: { id: number; key: string }[] = [];
        const duplicates: string[] = [];
        for (const m of batch.messages) {
          if (stored.has(m.key)) duplicates.push(m.key);
          else inserted.push({ id: stored.set(m.key, sha(m.raw)).size, key: m.key });
        }
        return { inserted, duplicates };
      },
      markAcked: async (_id, keys) => void keys.forEach((k) => acked.add(k)),
      unackedKeys: async () => [...stored.keys()].filter((k) => !acked.has(k)),
      known: async (_id, keys) => new Set(keys.filter((k) => stored.has(k))),
      touch: async () => undefined,
    };
    const runnerFor = (s: MailboxSpec) =>
      new MailboxRunner({
        mailboxId: 1,
        name: s.name,
        createSource: () => new Pop3Source({ spec: s }),
        sink,
        reporter: { status: async (state, error) => void states.push([state, error?.code]), event: async () => undefined },
        logger: pino({ level: 'silent' }),
        reconnectS: 1,
        resyncMs: 600_000,
        pollMs: 600_000,
      });
    const runner = runnerFor(spec('runner', { after_import: 'delete' }));
    runner.start();
    try {
      await until(() => stored.size === 5 && acked.size === 5, 'the first five messages');
      await until(async () => (await onServer('runner')).length === 0, 'the maildrop to empty');
      await main.deliver('runner', 'INBOX', Array.from({ length: 3 }, (_, i) => message('runner', 5 + i, 1500, rand)));
      runner.kick();
      await until(() => stored.size === 8 && acked.size === 8, 'the three new messages');
      await until(async () => (await onServer('runner')).length === 0, 'the maildrop to empty again');
      expect(states.map(([state]) => state)).toContain('connected');
      expect(states.filter(([state]) => state === 'error')).toEqual([]);
    } finally {
      await runner.stop();
    }
    const failing = runnerFor(spec('runner', { auth: { user: 'runner', password: 'wrong' } }));
    failing.start();
    try {
      await until(() => states.some(([state]) => state === 'error'), 'the error state');
      expect(states.at(-1)).toEqual(['error', 'AUTH_FAILED']);
    } finally {
      await failing.stop();
    }
  });

  describe('faults injected at random: nothing lost, nothing duplicated', () => {
    const run = async (user: User, afterImport: 'delete' | 'none', count: number, seed: number) => {
      const rand = rng(seed);
      const sent = Array.from({ length: count }, (_, i) => message(user, i, 300 + Math.floor(rand() * 6000), rand));
      await main.deliver(user, 'INBOX', sent);
      const proxy = await startFaultProxy({ host: '127.0.0.1', port: main.pop3Port });
      const sink = new MemorySink();
      let faults = 0;
      let importing = 0;
      try {
        const s = spec(user, { after_import: afterImport, host: '127.0.0.1', port: proxy.port });
        // Cuts before a command: with delete, DELE and QUIT (lost deletions); with none, UIDL
        // and RETR (a QUIT cut there would only come after everything was committed).
        const verbs = afterImport === 'delete' ? ['DELE', 'DELE', 'RETR', 'QUIT'] : ['UIDL', 'RETR'];
        for (let poll = 0; poll < 120; poll++) {
          const r = rand();
          const action = rand() < 0.5 ? 'cut' : 'reset';
          // Faults until everything is stored and at least 15 fired (or enough polls), then clean
          // polls to settle. Byte offsets up to ~2 batches (10 messages of ~3 KB each), so a
          // faulted poll commits about one batch before its cut, and the cut lands anywhere:
          // inside a RETR answer, in a listing, between commands. Once all is stored, sessions
          // are short (greeting, sign-in, listing, repair DELEs, QUIT: at least ~170 bytes from
          // the server), so offsets shrink to land inside them.
          const allStored = sink.stored.size === count;
          const trigger: FaultTrigger | undefined =
            (allStored && faults >= 15) || poll >= 90
              ? undefined
              : r < 0.65
                ? { afterBytes: 1 + Math.floor(rand() * (allStored ? 150 : 80_000)), action }
                : r < 0.8
                  ? { pattern: 'octets\r\n', offset: Math.floor(rand() * 3000), action }
                  : { direction: 'client', pattern: verbs[Math.floor(rand() * verbs.length)]!, action };
          const armed = trigger ? proxy.arm(trigger) : undefined;
          const err = await sink.poll(source(s, { batchMessages: 10 }));
          armed?.disarm();
          faults += armed?.count() ?? 0;
          if (!allStored) importing += armed?.count() ?? 0;
          if (err && !armed?.count()) throw err;
          if (!err && !trigger && sink.stored.size === count) break;
        }
      } finally {
        await proxy.stop();
      }
      console.info(`pop3 faults (${afterImport}, seed ${seed}): ${faults} faults injected (${importing} while messages were still to import), ${sink.batches.length} batches committed`);
      expect(faults, `seed ${seed}`).toBeGreaterThanOrEqual(15);
      expect(sink.duplicates, `seed ${seed}`).toBe(0);
      expect(sink.stored.size, `seed ${seed}`).toBe(count);
      expect([...sink.stored.values()].sort(), `seed ${seed}`).toEqual(sent.map(sha).sort());
      expect((await onServer(user)).length).toBe(afterImport === 'delete' ? 0 : count);
    };

    it('after_import: delete, 300 messages', async () => {
      await run('faults', 'delete', 300, Date.now() % 100_000);
    });

    it('after_import: none, 200 messages', async () => {
      await run('faultsnone', 'none', 200, (Date.now() + 7) % 100_000);
    });
  });

  describe('connection test', () => {
    const test = (over: Record<string, unknown>, opts = {}) => testPop3Connection(spec('conntest', over), opts);

    it('passes every step, over STLS, pop3s and plain (with the plaintext warning)', async () => {
      await main.deliver('conntest', 'INBOX', [message('conntest', 0, 1000, rng(6))]);
      const stls = await test({ security: 'starttls' });
      expect(stls.ok).toBe(true);
      expect(stepNames(stls.steps)).toEqual(['dns:ok', 'tcp:ok', 'tls:ok', 'auth:ok', 'folder:ok']);
      expect(stls.steps[2]!.certificate).toMatchObject({ issuer: 'Mailroom Test CA', fingerprint: certs.localhost.fingerprint });
      expect(stls.steps[4]!.detail).toMatch(/^maildrop: 1 message, \d+ bytes$/);
      const implicit = await test({ security: 'tls', port: main.pop3sPort });
      expect(stepNames(implicit.steps)).toEqual(['dns:ok', 'tcp:ok', 'tls:ok', 'auth:ok', 'folder:ok']);
      const plain = await test({ security: 'none', host: '127.0.0.1' });
      expect(stepNames(plain.steps)).toEqual(['tcp:ok', 'auth:ok', 'folder:ok']);
      expect(plain.steps[0]!.warnings.join(' ')).toMatch(/security: none/);
      const unverified = await test({ security: 'tls', port: main.pop3sPort, tls: { verify: 'none' } });
      expect(unverified.ok).toBe(true);
      expect(unverified.steps[2]!.warnings.join(' ')).toMatch(/verification is off/);
      const proxied = await test({ security: 'tls', port: main.pop3sPort, proxy: withAuth.url });
      expect(stepNames(proxied.steps)).toEqual(['dns:ok', 'proxy:ok', 'tls:ok', 'auth:ok', 'folder:ok']);
    });

    it('names the failing step: wrong port, wrong password, proxy auth, expired certificate, STLS not offered', async () => {
      const cases: Array<[Record<string, unknown>, string[]]> = [
        [{ port: await getFreePort() }, ['dns:ok', 'tcp:TCP_REFUSED']],
        [{ auth: { user: 'conntest', password: 'wrong' } }, ['dns:ok', 'tcp:ok', 'auth:AUTH_FAILED']],
        [{ proxy: withAuth.url.replace(DANTE_TEST_PASSWORD, 'not-the-password') }, ['dns:ok', 'proxy:PROXY_AUTH_FAILED']],
        [{ port: expired.pop3sPort, security: 'tls' }, ['dns:ok', 'tcp:ok', 'tls:TLS_CERT_EXPIRED']],
        [{ port: noTls.pop3Port, security: 'starttls' }, ['dns:ok', 'tcp:ok', 'tls:STARTTLS_NOT_OFFERED']],
        // An IMAP port is not POP3: the greeting says so.
        [{ port: main.imapPort }, ['dns:ok', 'tcp:ok', 'auth:POP3_PROTOCOL_ERROR']],
      ];
      for (const [over, want] of cases) {
        const result = await test(over);
        expect(result.ok).toBe(false);
        expect(stepNames(result.steps)).toEqual(want);
        expect(result.steps.at(-1)!.hint).toBeTruthy();
      }
    });
  });
});
