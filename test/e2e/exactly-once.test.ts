/**
 * Exactly once on the real thing: Mailroom as a real process (embedded PGlite) reading a real
 * Dovecot, stopped, killed with SIGKILL at random and at chosen moments, and restarted; the
 * database is read after each stop and compared with what the mailbox holds.
 *
 * - Mail that arrives while Mailroom is stopped is imported at the next start, once; what was
 *   imported before is not imported again.
 * - kill -9 while messages keep arriving, restarted many times: at every kill, each message
 *   the server flagged \Seen is already stored (commit before acknowledging, DESIGN.md) and
 *   none is stored twice; after a final run, every message is stored exactly once, byte for
 *   byte, acknowledged, and filed into its own conversation.
 * - The shared MIME corpus through the mailbox: every message stored byte for byte, each a
 *   conversation or quarantined with a reason, and the connector keeps going.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../helpers/api-client.js';
import { eventually, imapPeek, rawMail, sha } from '../helpers/mail.js';
import { ensureBuilt, serverUrl, spawnServer as spawnServerProcess, startServerProcess as startServerChild, storedInbound, withStoppedStore, type ServerProcess, type StoredInbound } from '../helpers/server-process.js';
import { startDovecot, type DovecotPeer } from '../peers/dovecot.js';
import { startFaultProxy, type ArmedTrigger, type FaultProxy } from '../peers/fault-proxy.js';
import { corpusDir, corpusFiles, hasCorpus } from '../helpers/corpus.js';
import { rng as prng } from '../helpers/random.js';

/** Restarts of the kill test and messages it delivers (raise them for a longer soak). */
const RESTARTS = Number(process.env.MAILROOM_KILL_RESTARTS ?? 20);
const MESSAGES = Number(process.env.MAILROOM_KILL_MESSAGES ?? 500);
/** The random kill schedule is reproducible from this seed (printed on failure). */
const SEED = Number(process.env.MAILROOM_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));

const ADMIN_PASSWORD = 'admin-password-1';
const USERS = [
  { user: 'offline', password: 'offline-pw' },
  { user: 'support', password: 'support-pw' },
  { user: 'corpus', password: 'corpus-pw' },
];

const corpusMessages = corpusFiles();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Instance {
  dataDir: string;
  env: Record<string, string>;
}

/** A data folder and a MAILROOM_CONFIG reading one Dovecot user through `port`. */
async function instance(user: { user: string; password: string }, port: number): Promise<Instance> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mailroom-eo-'));
  const config = path.join(dataDir, 'mailroom.yaml');
  await writeFile(
    config,
    `senders:
  - { name: out, type: smtp, host: 127.0.0.1, port: 9, security: none, from: "Support <support@example.com>" }
queues:
  - { name: support, sender: out }
mailboxes:
  - name: inbox
    protocol: imap
    host: 127.0.0.1
    port: ${port}
    security: none
    auth: { user: ${user.user}, password: ${user.password} }
    queue: support
    liveness: { keepalive_s: 300, timeout_s: 30, reconnect_s: 1 }
`,
  );
  return {
    dataDir,
    env: { MAILROOM_DATA: dataDir, MAILROOM_ADMIN_PASSWORD: ADMIN_PASSWORD, MAILROOM_SECRET_KEY: randomBytes(32).toString('base64'), MAILROOM_CONFIG: config, LOG_LEVEL: 'warn' },
  };
}

async function admin(url: string): Promise<ApiClient> {
  const c = new ApiClient(url);
  const r = await c.login('admin', ADMIN_PASSWORD);
  if (r.status !== 200) throw new Error(`admin login: ${r.status} ${r.text}`);
  return c;
}

/** The mailbox's `status.imported` (messages newly stored by its connector, ever). */
async function imported(api: ApiClient): Promise<number> {
  const r = await api.request('GET', '/api/v1/mailboxes');
  return (r.body.items as { status: { imported: number } }[])[0]?.status.imported ?? 0;
}

/** Every conversation id (all pages). */
async function conversationIds(api: ApiClient): Promise<number[]> {
  const ids: number[] = [];
  let cursor: string | undefined;
  do {
    const r = await api.request('GET', `/api/v1/conversations?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    ids.push(...(r.body.items as { id: number }[]).map((c) => c.id));
    cursor = r.body.nextCursor;
  } while (cursor);
  return ids;
}

interface ServerMessage {
  uid: number;
  seen: boolean;
  sha: string;
}

/** What Dovecot holds in INBOX: UID, \Seen, and the sha256 of the bytes it serves (BODY.PEEK). */
async function mailboxContent(c: ImapFlow): Promise<ServerMessage[]> {
  const lock = await c.getMailboxLock('INBOX');
  try {
    const all = await c.fetchAll('1:*', { uid: true, flags: true, source: true }, { uid: false }).catch(() => []);
    // Flag changes made by another session arrive as unsolicited FETCH (FLAGS) responses that
    // imapflow hands back among the results: keep the answers that carry the message.
    const byUid = new Map<number, ServerMessage>();
    for (const m of all) if (m.source) byUid.set(m.uid, { uid: m.uid, seen: m.flags?.has('\\Seen') ?? false, sha: sha(m.source) });
    return [...byUid.values()];
  } finally {
    lock.release();
  }
}

/** Whether every message in INBOX is \Seen (flags only: cheap enough to poll). */
async function allSeen(c: ImapFlow): Promise<boolean> {
  const lock = await c.getMailboxLock('INBOX');
  try {
    const all = await c.fetchAll('1:*', { uid: true, flags: true }, { uid: false }).catch(() => []);
    return all.length > 0 && all.every((m) => m.flags?.has('\\Seen'));
  } finally {
    lock.release();
  }
}

/** `eventually` at a gentler pace, for checks that cost the server real work. */
async function until<T>(fn: () => Promise<T | undefined | null | false>, ms: number, what: string): Promise<T> {
  return eventually(async () => (await fn()) || (await sleep(250), null), ms, what);
}

function counts(values: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

/** Realistic test mail of varied size: plain text from ~200 B to ~30 KB, one in ten with a ~100 KB attachment. */
function killTestMail(i: number, rnd: () => number): Buffer {
  const words = ['invoice', 'refund', 'account', 'delivery', 'order', 'please', 'thanks', 'payment', 'charged', 'twice', 'help', 'address'];
  const lines: string[] = [];
  const n = 3 + Math.floor(rnd() * rnd() * 400);
  for (let l = 0; l < n; l++) lines.push(Array.from({ length: 10 }, () => words[Math.floor(rnd() * words.length)]).join(' '));
  const id = `kill-${i}-${randomBytes(6).toString('hex')}@customer${i % 37}.example`;
  if (rnd() >= 0.1) return rawMail({ messageId: id, from: `Customer ${i} <c${i}@customer${i % 37}.example>`, subject: `Order ${i}: question`, body: lines.join('\r\n') });
  const attachment = randomBytes(60_000 + Math.floor(rnd() * 60_000)).toString('base64').replace(/.{76}/g, '$&\r\n');
  const boundary = `b-${randomBytes(8).toString('hex')}`;
  return Buffer.from(
    [
      `From: Customer ${i} <c${i}@customer${i % 37}.example>`,
      'To: support@example.com',
      `Subject: Order ${i}: scan attached`,
      `Date: ${new Date().toUTCString()}`,
      `Message-ID: <${id}>`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      lines.join('\r\n'),
      `--${boundary}`,
      'Content-Type: application/octet-stream; name="scan.bin"',
      'Content-Disposition: attachment; filename="scan.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      attachment,
      `--${boundary}--`,
      '',
    ].join('\r\n'),
  );
}

/** Servers a test started: whatever a failing test leaves running is killed after it. */
const servers = new Set<ServerProcess>();
function spawnServer(env: Record<string, string>): ServerProcess {
  const p = spawnServerProcess(env);
  servers.add(p);
  return p;
}
async function startServerProcess(env: Record<string, string>): Promise<ServerProcess & { url: string }> {
  const p = await startServerChild(env);
  servers.add(p);
  return p;
}

describe('exactly once: a real server process, its embedded database and Dovecot', () => {
  let dovecot: DovecotPeer;
  const cleanup: string[] = [];
  afterEach(async () => {
    for (const p of servers) await p.kill9();
    servers.clear();
  });

  beforeAll(async () => {
    ensureBuilt();
    dovecot = await startDovecot({ users: USERS, maxUserIpConnections: 50 });
  });
  afterAll(async () => {
    await dovecot?.stop();
    for (const d of cleanup) await rm(d, { recursive: true, force: true });
  });

  it('imports mail that arrived while Mailroom was stopped at the next start, once, and nothing imported before again', { timeout: 180_000 }, async () => {
    const inst = await instance(USERS[0]!, dovecot.imapPort);
    cleanup.push(inst.dataDir);
    const before = [0, 1, 2].map((i) => rawMail({ subject: `Before the stop ${i}` }));
    const during = [0, 1, 2, 3].map((i) => rawMail({ subject: `While stopped ${i}` }));

    let server = await startServerProcess(inst.env);
    await dovecot.append('offline', 'INBOX', before);
    let api = await admin(server.url);
    await until(async () => (await imported(api)) === before.length, 30_000, 'the first messages imported');
    await server.stop();
    const first = await storedInbound(inst.dataDir);
    expect(first.map((m) => m.sha).sort()).toEqual(before.map(sha).sort());

    await dovecot.append('offline', 'INBOX', during);
    server = await startServerProcess(inst.env);
    api = await admin(server.url);
    await until(async () => (await imported(api)) >= before.length + during.length, 30_000, 'the messages sent while stopped imported');
    // Each one becomes a conversation of its own: the ingest pipeline ran once per message.
    await until(async () => (await conversationIds(api)).length >= before.length + during.length, 30_000, 'a conversation for each message');
    const peek = await imapPeek(dovecot.host, dovecot.imapPort, 'offline', 'offline-pw');
    const onServer = await mailboxContent(peek);
    await peek.logout();
    await server.stop();

    const after = await storedInbound(inst.dataDir);
    expect(after.map((m) => m.sha).sort()).toEqual([...before, ...during].map(sha).sort());
    // The rows stored before the stop are the same rows (same ids), not imported again.
    expect(after.slice(0, before.length).map((m) => m.id)).toEqual(first.map((m) => m.id));
    expect(after.every((m) => m.acked && m.conversationId !== null)).toBe(true);
    expect(new Set(after.map((m) => m.conversationId)).size).toBe(after.length);
    expect(onServer.every((m) => m.seen)).toBe(true);
  });

  it(
    `kill -9 at random points while ${MESSAGES} messages arrive, ${RESTARTS} restarts: each stored once, none flagged before its commit`,
    { timeout: 120_000 + RESTARTS * 30_000 + MESSAGES * 100 },
    async () => {
      const rnd = prng(SEED);
      const inst = await instance(USERS[1]!, 0);
      cleanup.push(inst.dataDir);
      // Mailroom reads Dovecot through the fault proxy: the kills at chosen IMAP moments stall
      // the connection exactly there, then the process is killed.
      const proxy: FaultProxy = await startFaultProxy({ host: dovecot.host, port: dovecot.imapPort });
      await writeFile(inst.env.MAILROOM_CONFIG!, readFileSync(inst.env.MAILROOM_CONFIG!, 'utf8').replace('port: 0', `port: ${proxy.port}`));
      const appender = await imapPeek(dovecot.host, dovecot.imapPort, 'support', 'support-pw');
      const checker = await imapPeek(dovecot.host, dovecot.imapPort, 'support', 'support-pw');
      const log: string[] = [];
      const fail = (what: string) => `${what}\nseed ${SEED} (MAILROOM_KILL_SEED to replay); iterations:\n${log.join('\n')}`;

      // The background appender: every message's sha256 is recorded before its APPEND starts,
      // so a message Dovecot has before the APPEND answers is still known.
      const attempted: string[] = [];
      const mails = Array.from({ length: MESSAGES }, (_, i) => killTestMail(i, rnd));
      /** Every message appended: the planned ones, and the top-ups of kills after the appender is done. */
      const expected = [...mails];
      // Spread over about the time the restarts take, in bursts (so batches hold several).
      const paceMs = (RESTARTS * 4500) / MESSAGES;
      let appendError: unknown;
      let appenderDone = false;
      const topUpRnd = prng(SEED + 1);
      // A kill at an IMAP moment needs mail to read: once the appender is done, each such
      // iteration appends a few more (counted like the others).
      const topUp = async (n: number) => {
        for (let k = 0; k < n; k++) {
          const m = killTestMail(expected.length, topUpRnd);
          expected.push(m);
          attempted.push(sha(m));
          await appender.append('INBOX', m);
        }
      };
      const appending = (async () => {
        let i = 0;
        while (i < mails.length) {
          const burst = Math.min(mails.length - i, 1 + Math.floor(rnd() * 8));
          for (let b = 0; b < burst; b++, i++) {
            attempted.push(sha(mails[i]!));
            await appender.append('INBOX', mails[i]!);
          }
          await sleep(burst * paceMs);
        }
      })()
        .catch((err: unknown) => (appendError = err))
        .finally(() => (appenderDone = true));

      // Where the kills land. The IMAP moments are the edges of "commit before acknowledging":
      // in a FETCH literal (nothing committed yet), at the STORE \Seen before Dovecot has it
      // (committed, not flagged), and at Dovecot's answer to it (flagged, not yet marked acked).
      type Mode = 'early' | 'random' | 'fetch' | 'store-sent' | 'store-done';
      const modes: Mode[] = ['fetch', 'store-sent', 'store-done', 'random', 'early'];
      // Every mode equally often, in a shuffled order within each round.
      const schedule: Mode[] = [];
      while (schedule.length < RESTARTS) {
        const round = [...modes];
        for (let k = round.length - 1; k > 0; k--) {
          const j = Math.floor(rnd() * (k + 1));
          [round[k], round[j]] = [round[j]!, round[k]!];
        }
        schedule.push(...round.slice(0, RESTARTS - schedule.length));
      }
      const hit = new Map<Mode, number>();
      let unackedAtKill = 0;

      const check = async (label: string): Promise<StoredInbound[]> => {
        const stored = await storedInbound(inst.dataDir);
        const onServer = await mailboxContent(checker);
        const storedCounts = counts(stored.map((m) => m.sha));
        const twice = [...storedCounts].filter(([, n]) => n > 1);
        expect(twice, fail(`${label}: stored more than once`)).toEqual([]);
        const known = new Set(attempted);
        expect(stored.filter((m) => !known.has(m.sha)).map((m) => m.id), fail(`${label}: stored bytes that were never appended`)).toEqual([]);
        const flaggedNotStored = onServer.filter((m) => m.seen && !storedCounts.has(m.sha)).map((m) => m.uid);
        expect(flaggedNotStored, fail(`${label}: flagged \\Seen on the server but not committed`)).toEqual([]);
        return stored;
      };

      try {
        // The first start is not killed: PGlite creates its data folder then.
        const first = await startServerProcess(inst.env);
        const firstApi = await admin(first.url);
        await eventually(async () => (await firstApi.request('GET', '/api/v1/mailboxes')).body.items[0]?.status.state === 'connected', 30_000, 'the mailbox connected');
        await first.stop();
        await check('after the first start');

        for (let i = 0; i < RESTARTS; i++) {
          const mode = schedule[i]!;
          let trigger: ArmedTrigger | undefined;
          if (mode === 'fetch') trigger = proxy.arm({ pattern: 'BODY[] {', offset: Math.floor(rnd() * 3000), action: 'stall' });
          if (mode === 'store-sent') trigger = proxy.arm({ direction: 'client', pattern: '+FLAGS', action: 'stall' });
          if (mode === 'store-done') trigger = proxy.arm({ pattern: 'Store completed', action: 'stall' });
          const server: ServerProcess = spawnServer(inst.env);
          if (trigger && appenderDone) await topUp(3);
          let detail: string;
          if (mode === 'early') {
            // Anywhere in the start: opening the database, applying the config, connecting, the backlog.
            const ms = 200 + Math.floor(rnd() * 3000);
            await sleep(ms);
            detail = `${ms} ms after spawn${/is running at/.test(server.output()) ? '' : ', before it served'}`;
          } else if (mode === 'random') {
            await serverUrl(server);
            const ms = Math.floor(rnd() * 3000);
            await sleep(ms);
            detail = `${ms} ms after it served`;
          } else {
            const fired = await Promise.race([trigger!.fired.then(() => true), server.exited.then(() => false), sleep(20_000).then(() => false)]);
            trigger!.disarm();
            if (fired) hit.set(mode, (hit.get(mode) ?? 0) + 1);
            // Other work (ingest) goes on while the IMAP connection is held: vary it a little.
            const ms = Math.floor(rnd() * 200);
            await sleep(ms);
            detail = fired ? `held there, killed ${ms} ms later` : 'the moment did not come within 20 s';
          }
          const alive = server.proc.exitCode === null;
          await server.kill9();
          if (!alive) throw new Error(fail(`iteration ${i}: the server exited by itself:\n${server.output()}`));
          const stored = await check(`after kill ${i + 1} (${mode})`);
          const unacked = stored.filter((m) => !m.acked).length;
          if (unacked > 0) unackedAtKill++;
          log.push(`${i + 1}. ${mode}: ${detail}; ${stored.length} stored, ${unacked} not yet acknowledged, ${attempted.length} appended`);
        }

        await appending;
        if (appendError) throw appendError;
        // The final run settles: everything stored, acknowledged and filed.
        const last = await startServerProcess(inst.env);
        const api = await admin(last.url);
        await until(async () => (await imported(api)) >= expected.length, 120_000, `all ${expected.length} messages imported`);
        await until(async () => (await conversationIds(api)).length >= expected.length, 180_000, `a conversation for each of the ${expected.length} messages`);
        await until(() => allSeen(checker), 60_000, 'every message flagged \\Seen');
        await last.stop();

        const stored = await check('after the final run');
        expect(counts(stored.map((m) => m.sha)), fail('the stored messages are not exactly the appended ones')).toEqual(counts(expected.map(sha)));
        expect(stored.filter((m) => !m.acked).map((m) => m.id), fail('not acknowledged')).toEqual([]);
        expect(stored.filter((m) => m.conversationId === null).map((m) => `${m.id}:${m.ingestState}:${m.quarantineReason}`), fail('not filed')).toEqual([]);
        expect(new Set(stored.map((m) => m.conversationId)).size, fail('two messages in one conversation')).toBe(expected.length);
        const conversations = await withStoppedStore(inst.dataDir, async (pg) => (await pg.query<{ n: number }>('select count(*)::int as n from conversations')).rows[0]!.n);
        expect(conversations, fail('conversations created twice')).toBe(expected.length);

        // The test proves something only if the kills landed where it matters.
        if (RESTARTS >= modes.length) {
          for (const m of ['fetch', 'store-sent', 'store-done'] as const) expect(hit.get(m) ?? 0, fail(`no kill landed at ${m}`)).toBeGreaterThan(0);
          expect(unackedAtKill, fail('no kill landed between a commit and its acknowledgement')).toBeGreaterThan(0);
        }
        console.log(`kill -9 test (seed ${SEED}):\n${log.join('\n')}`);
      } finally {
        await appending;
        await appender.logout().catch(() => undefined);
        await checker.logout().catch(() => undefined);
        await proxy.stop();
      }
    },
  );

  describe.skipIf(!hasCorpus)(hasCorpus ? `the shared corpus (${corpusMessages.length} messages of ../shared/corpus/mime) through the mailbox` : 'the shared corpus (skipped: ../shared/corpus not found)', () => {
    it('stores every message byte for byte, files each into a conversation or quarantine with a reason, and keeps the connector running', { timeout: 240_000 }, async () => {
      const inst = await instance(USERS[2]!, dovecot.imapPort);
      cleanup.push(inst.dataDir);
      const refused: string[] = [];
      let server: ServerProcess & { url: string };
      const peek = await imapPeek(dovecot.host, dovecot.imapPort, 'corpus', 'corpus-pw');
      try {
        for (const f of corpusMessages) {
          const raw = readFileSync(f);
          // A message Dovecot refuses over APPEND (e.g. NUL bytes) still lands as a delivery agent would put it.
          const ok = await peek.append('INBOX', raw).then((r) => Boolean(r && r.uid), () => false);
          if (!ok) {
            refused.push(path.relative(corpusDir, f));
            await dovecot.deliver('corpus', 'INBOX', [raw]);
          }
        }
        server = await startServerProcess(inst.env);
        try {
          const api = await admin(server.url);
          const onServer = await eventually(async () => {
            const c = await mailboxContent(peek);
            return c.length >= corpusMessages.length ? c : null;
          }, 30_000, 'every corpus message in the mailbox');
          const distinct = new Set(onServer.map((m) => m.sha)).size;
          await until(async () => (await imported(api)) >= distinct, 120_000, `${distinct} corpus messages imported`);

          // The connector is still running: a normal message after the corpus becomes a conversation.
          await peek.append('INBOX', rawMail({ subject: 'After the corpus', body: 'Hello, is my order on its way?' }));
          await until(async () => {
            const r = await api.request('GET', '/api/v1/conversations?limit=500');
            return (r.body.items as { subject: string }[]).some((c) => c.subject === 'After the corpus');
          }, 120_000, 'the message after the corpus as a conversation');
          const mailbox = (await api.request('GET', '/api/v1/mailboxes')).body.items[0];
          expect(mailbox.status.state).toBe('connected');
        } finally {
          await server.stop();
        }

        const served = await mailboxContent(peek);
        const stored = await storedInbound(inst.dataDir);
        // Byte for byte: the stored bytes are the bytes Dovecot serves, each message once
        // (two corpus files with the same bytes are one email: stored once, the other skipped).
        expect([...new Set(stored.map((m) => m.sha))].sort()).toEqual([...new Set(served.map((m) => m.sha))].sort());
        expect(stored.length).toBe(new Set(stored.map((m) => m.sha)).size);
        const unfiled = stored.filter((m) => !(m.conversationId !== null || (m.ingestState === 'quarantined' && (m.quarantineReason ?? '').length > 0)));
        expect(unfiled.map((m) => `${m.id} ${m.ingestState}`), `left unfiled; the server said:\n${server.output().slice(-5000)}`).toEqual([]);
        expect(served.every((m) => m.seen)).toBe(true);
        const quarantined = stored.filter((m) => m.ingestState === 'quarantined').length;
        console.log(
          `corpus through the mailbox: ${corpusMessages.length} files (${new Set(served.map((m) => m.sha)).size - 1} distinct as served) and one normal message: ` +
            `${stored.length} stored, ${stored.length - quarantined} in conversations, ${quarantined} quarantined; refused by APPEND and delivered instead: ${refused.join(', ') || 'none'}`,
        );
      } finally {
        await peek.logout().catch(() => undefined);
      }
    });
  });
});
