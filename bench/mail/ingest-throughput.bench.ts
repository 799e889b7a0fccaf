/**
 * Ingest throughput of a backlog (issue 4, "Performance"): 10,000 messages waiting in a Dovecot
 * mailbox, through Mailroom from the moment its mailbox is configured (the connector connects)
 * until every message is filed (`ingest_state` no longer `received`: a conversation, or kept,
 * or quarantined), against a baseline in the same run on the same messages: a plain imapflow
 * FETCH of the whole folder with mailparser `simpleParser` on each message, no database.
 *
 * - The messages: the shared MIME corpus cycled, each copy made unique by one header line
 *   (Mailroom rightly skips identical bytes in a mailbox as the same email), written into the
 *   maildir as a delivery agent does (`deliver`). A synthetic mix when the corpus is absent.
 * - Mailroom runs in this process (`Runtime.start`, embedded PGlite, its parser workers), so
 *   the database can be watched without an API and `--cpu-prof` sees its main thread. It runs
 *   the compiled code `npm start` runs (dist/src, bench/lib/built.ts) with its Node.js flags
 *   (`npm run bench` gives them to this process, bench/lib/server-flags.ts), not the sources through
 *   tsx, whose loader cost the cold run 0.41x -> 0.47x the baseline (three alternated rounds); the
 *   baseline runs in the same process too, once before and once after Mailroom, and the ratio
 *   uses their mean so a change in the machine's load hits both sides.
 * - The baseline's code is warm (its priming read compiled it) and a just-started Mailroom's is
 *   not: the targets are judged against that warm baseline. For a like-for-like figure, the cold
 *   run also times the same baseline in a fresh worker thread (a new V8 isolate), which compiles
 *   imapflow and mailparser during its run as Mailroom does (`fetch-parse.mjs`, run both ways).
 * - Dovecot indexes new maildir files on first access: a priming read (untimed) goes first.
 * - Also measured during each Mailroom run: the time to the backlog's first conversation, and a
 *   supervisor's queue view (`GET /api/v1/queues`) every 200 ms, against the same view once idle.
 *
 * `node --import tsx --expose-gc bench/run.ts ingest-throughput [--quick]`; BENCH_INGEST_MESSAGES sets the
 * backlog, BENCH_INGEST_POSTGRES=0 skips the PostgreSQL run, BENCH_INGEST_PROFILE=<folder> writes
 * a CPU profile of the main thread over each Mailroom run only (open it in Chrome's DevTools),
 * BENCH_INGEST_WARM=<n> measures a server that has been taking mail: before each measured run,
 * Mailroom imports and files n other messages from a second mailbox (untimed), then the backlog's
 * mailbox is added (results in `ingest-throughput-warm`). The second Mailroom run of a process
 * finds its main thread's code compiled by the first: BENCH_INGEST_FIRST=postgres measures the
 * PostgreSQL server first (results in `ingest-throughput-postgres-first`).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import type * as EnvModule from '../../src/config/env.js';
import type * as RuntimeModule from '../../src/runtime.js';
import type * as LoggerModule from '../../src/server/logger.js';
import type * as TypesModule from '../../src/domain/types.js';
import { ApiClient } from '../../test/helpers/api-client.js';
import { rawMail } from '../../test/helpers/mail.js';
import { startDovecot, type DovecotPeer } from '../../test/peers/dovecot.js';
import { benchPostgresDatabase } from '../lib/postgres.js';
import { percentile, round, type Bench } from '../lib/report.js';
import { corpusFiles, hasCorpus } from '../../test/helpers/corpus.js';
import { built } from '../lib/built.js';
import { threadCpuMs } from '../lib/thread-cpu.js';
import { SERVER_NODE_FLAGS, warnWithoutServerFlags } from '../lib/server-flags.js';
import { fetchAndParse, type FetchParseRun, type Mailbox } from './fetch-parse.mjs';

// Mailroom as `npm start` runs it (dist/src, see bench/lib/built.ts); the test peers and helpers from the sources.
const { settingsFromEnv } = await built<typeof EnvModule>('config/env');
const { Runtime: RuntimeClass } = await built<typeof RuntimeModule>('runtime');
const { createLogger } = await built<typeof LoggerModule>('server/logger');
const { SYSTEM_ACTOR } = await built<typeof TypesModule>('domain/types');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** `count` unique messages: the corpus cycled, each copy with a header line of its own. */
function backlog(count: number): { messages: Buffer[]; source: string } {
  const base = hasCorpus
    ? corpusFiles().map((f) => readFileSync(f))
    : Array.from({ length: 50 }, (_, i) => rawMail({ subject: `Synthetic ${i}`, body: 'Hello, a question about my invoice.\r\n'.repeat(1 + (i % 40)) }));
  const messages = Array.from({ length: count }, (_, i) => Buffer.concat([Buffer.from(`X-Bench-Copy: ${i}-${randomBytes(4).toString('hex')}\r\n`), base[i % base.length]!]));
  return { messages, source: hasCorpus ? `../shared/corpus/mime (${base.length} messages) cycled` : 'synthetic (../shared/corpus not found)' };
}

const backlogMailbox = (dovecot: DovecotPeer): Mailbox => ({ host: dovecot.host, port: dovecot.imapPort, user: 'backlog', pass: 'backlog-pw' });

/** The baseline in this thread, whose code the priming read has compiled (warm). */
const baseline = (dovecot: DovecotPeer): Promise<FetchParseRun> => fetchAndParse(backlogMailbox(dovecot));

/**
 * The same baseline in a fresh worker thread: a V8 isolate that compiles imapflow and mailparser
 * during the run, as a just-started Mailroom compiles its own code. Timed from its connect,
 * after its modules are loaded, as Mailroom's runs are timed from the mailbox's configuration.
 */
function coldBaseline(dovecot: DovecotPeer): Promise<FetchParseRun> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./fetch-parse.mjs', import.meta.url), { workerData: { fetchAndParse: backlogMailbox(dovecot) }, execArgv: [] });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the baseline's worker ended (exit code ${code}) without an answer`)));
  });
}

/** CPU time of this process (every thread: main, parser workers, PGlite) since `since`. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/**
 * The main thread's time spent runnable but waiting for a core (Linux schedstat, ms; null where it
 * is not available): how much of its time the other threads and processes took from it.
 */
function mainThreadWaitMs(): number | null {
  try {
    const [, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return wait === undefined || Number.isNaN(wait) ? null : wait / 1e6;
  } catch {
    return null;
  }
}

/** Where a run's CPU went, by thread (null without /proc). */
interface ThreadSplit {
  /** The main thread: connector, filing, routing, the embedded database. */
  main: number;
  /** Threads Mailroom started: its parser workers (and any helper thread begun with them). */
  started: number;
  /** Threads that were there before: V8's background threads (JIT compilation, GC) and libuv's. */
  background: number;
}

/** `before`: every thread's CPU before Mailroom started; `t0`/`t1`: around the measured run. */
function threadSplit(before: Map<string, number>, t0: Map<string, number>, t1: Map<string, number>): ThreadSplit | null {
  if (t1.size === 0) return null;
  const split: ThreadSplit = { main: 0, started: 0, background: 0 };
  for (const [tid, ms] of t1) {
    const d = ms - (t0.get(tid) ?? 0);
    if (tid === String(process.pid)) split.main += d;
    else if (before.has(tid)) split.background += d;
    else split.started += d;
  }
  return split;
}

/**
 * Busy and total jiffies of the whole machine (Linux /proc/stat), for how many of its cores a
 * run kept busy: this process, Dovecot, the PostgreSQL server, everything. Null without /proc.
 */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0); // idle + iowait
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Cores busy on average between two readings of `machineTicks`. */
function busyCores(a: ReturnType<typeof machineTicks>, b: ReturnType<typeof machineTicks>): number | null {
  if (!a || !b || b.total === a.total) return null;
  return round(((b.busy - a.busy) / (b.total - a.total)) * os.cpus().length, 2);
}

interface MailroomRun {
  /** Cores of the machine busy during the run, every process counted (null without /proc). */
  machineCores: number | null;
  storedMs: number;
  /** From configuring the mailbox to the first conversation of the backlog (a customer's email in a queue). */
  firstConversationMs: number;
  /** A supervisor's queue view (`GET /api/v1/queues`) asked every 200 ms during the run: each answer's time, in ms. */
  apiMs: number[];
  /** The same view asked ten times once everything is filed (the server idle): its own cost. */
  apiIdleMs: number[];
  /** How late the main thread's event loop ran its timers during the run (ms): p50, p99, max. */
  loopDelayMs: { p50: number; p99: number; max: number };
  /** Messages filed by the time the connector had stored the last one. */
  filedWhenStored: number;
  filedMs: number;
  cpuMs: number;
  /** `cpuMs` by thread (null without /proc). */
  threads: ThreadSplit | null;
  /** How long the main thread was ready to run but waited for a core (null without schedstat). */
  mainWaitMs: number | null;
  /** Parser workers the server kept, and spares it started (a parse held every worker). */
  workers: number;
  spareStarts: number;
  counts: Record<string, number>;
}

/**
 * With BENCH_INGEST_PROFILE set: profiles the main thread from now until the returned function
 * is called, which writes `<folder>/ingest-<label>.cpuprofile`.
 */
async function startProfile(): Promise<((label: string) => Promise<void>) | null> {
  const dir = process.env.BENCH_INGEST_PROFILE;
  if (!dir) return null;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async (label) => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `ingest-${label}.cpuprofile`), JSON.stringify(profile));
  };
}

/** Dovecot user of the warm-up mailbox (BENCH_INGEST_WARM). */
const WARMUP = { user: 'warmup', password: 'warmup-pw' };

/**
 * Until every message is filed (none left `received`) and `mailbox` has imported `count`,
 * asking every 100 ms (cheap: it shares the embedded database's thread with what it waits for).
 */
async function untilFiled(store: RuntimeModule.Runtime['core']['store'], mailbox: string, count: number): Promise<void> {
  for (;;) {
    const r = await sql<{ total: number; waiting: boolean }>`select (select coalesce(sum(imported_count), 0)::int from mailboxes where name = ${mailbox}) as total, exists (select 1 from messages where ingest_state = 'received') as waiting`.execute(store.db);
    if (r.rows[0]!.total >= count && !r.rows[0]!.waiting) return;
    await sleep(100);
  }
}

async function mailroom(dovecot: DovecotPeer, count: number, log: (l: string) => void, warm: number, databaseUrl?: string): Promise<MailroomRun> {
  const threadsBefore = threadCpuMs();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mailroom-bench-ingest-'));
  const env: Record<string, string> = {
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    PORT: '0',
    HOST: '127.0.0.1',
    MAILROOM_DATA: dataDir,
    MAILROOM_SECRET_KEY: randomBytes(32).toString('base64'),
    MAILROOM_ADMIN_PASSWORD: 'admin-password-1',
    LOG_LEVEL: 'warn',
  };
  const logs: string[] = [];
  const settings = settingsFromEnv(env);
  const runtime = await RuntimeClass.start({
    settings,
    env,
    logger: createLogger({ level: settings.logLevel, destination: new Writable({ write: (c: Buffer, _e, cb) => (logs.push(c.toString()), cb()) }) }),
    print: () => undefined,
  });
  try {
    const { store } = runtime.core;
    const config = `senders:
  - { name: out, type: smtp, host: 127.0.0.1, port: 9, security: none, from: "Support <support@example.com>" }
queues:
  - { name: support, sender: out }
users:
  - { login: alice, name: Alice, roles: [agent], password: alice-password-1, capacity: 100, languages: { en: 10, de: 8, fr: 8 } }
  - { login: sue, name: Sue, roles: [supervisor], password: sue-password-1 }
mailboxes:
`;
    const mailboxYaml = (name: string, user: string, password: string) =>
      `  - { name: ${name}, protocol: imap, host: 127.0.0.1, port: ${dovecot.imapPort}, security: none, auth: { user: ${user}, password: ${password} }, queue: support }\n`;
    const warmup = warm > 0 ? mailboxYaml('warmup', WARMUP.user, WARMUP.password) : '';
    if (warm > 0) {
      // A server that has been taking mail: its code compiled, its database in use.
      await runtime.core.config.apply(config + warmup, SYSTEM_ACTOR, {});
      await untilFiled(store, 'warmup', warm);
      log(`warmed: ${warm} messages of another mailbox filed`);
    }
    const withBacklog = config + warmup + mailboxYaml('backlog', 'backlog', 'backlog-pw');
    const profiler = await startProfile();
    const t0 = performance.now();
    const t0Wall = Date.now();
    const cpu0 = process.cpuUsage();
    const threads0 = threadCpuMs();
    const ticks0 = machineTicks();
    const wait0 = mainThreadWaitMs();
    await runtime.core.config.apply(withBacklog, SYSTEM_ACTOR, {});
    // The supervisor's dashboard while the backlog comes in: is the server still answering? (Her
    // sign-in, created by the same apply, is timed with the run: it can only slow Mailroom down.)
    const supervisor = new ApiClient(runtime.url);
    const signedIn = await supervisor.login('sue', 'sue-password-1');
    if (signedIn.status !== 200) throw new Error(`the supervisor could not sign in: ${signedIn.status} ${signedIn.text}`);
    /** One ask of the queue view: its time in ms (an answer other than 200 fails the run). */
    const askQueues = async (): Promise<number> => {
      const asked = performance.now();
      const r = await supervisor.request('GET', '/api/v1/queues');
      if (r.status !== 200) throw new Error(`GET /api/v1/queues answered ${r.status}: ${r.text}`);
      return performance.now() - asked;
    };
    const apiMs: number[] = [];
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    let probing = true;
    const probe = (async () => {
      while (probing) {
        apiMs.push(await askQueues());
        await sleep(200);
      }
    })();
    // A failure is thrown where the probe is awaited, after the run; not an unhandled rejection before.
    probe.catch(() => undefined);
    let storedMs = 0;
    let filedWhenStored = 0;
    let lastLog = 0;
    for (;;) {
      // Asked every 100 ms, so it must be cheap (it shares the embedded database's thread with what
      // it measures): the mailbox's import counter, and whether any message still waits (the
      // first row of a partial index). Counting the waiting ones took ~5 ms a time on PGlite
      // (4 % of the main thread): only for the progress line, every 10 s.
      const now = performance.now();
      const progress = now - lastLog > 10_000;
      const r = await sql<{ total: number; waiting: boolean; received: number | null }>`select (select coalesce(sum(imported_count), 0)::int from mailboxes where name = 'backlog') as total, exists (select 1 from messages where ingest_state = 'received') as waiting, ${progress ? sql`(select count(*)::int from messages where ingest_state = 'received')` : sql`null::int`} as received`.execute(store.db);
      const { total, waiting, received } = r.rows[0]!;
      if (!storedMs && total >= count) {
        storedMs = now - t0;
        // Once: how far filing had come while the connector was storing (the phases' two rates).
        const w = await sql<{ n: number }>`select count(*)::int as n from messages where ingest_state = 'received'`.execute(store.db);
        filedWhenStored = count - w.rows[0]!.n;
      }
      if (total >= count && !waiting) break;
      if (progress) {
        lastLog = now;
        log(`mailroom: ${total} stored, ${total - (received ?? 0)} filed after ${Math.round((now - t0) / 1000)} s`);
      }
      if (now - t0 > 30 * 60_000) throw new Error(`not done after 30 min: ${total} stored, ${received} waiting\n${logs.slice(-20).join('')}`);
      await sleep(100);
    }
    const filedMs = performance.now() - t0;
    probing = false;
    loopDelay.disable();
    const loopDelayMs = { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
    await probe;
    const apiIdleMs: number[] = [];
    for (let i = 0; i < 10; i++) apiIdleMs.push(await askQueues());
    const machineCores = busyCores(ticks0, machineTicks());
    const wait1 = mainThreadWaitMs();
    const mainWaitMs = wait0 === null || wait1 === null ? null : wait1 - wait0;
    const cpu = cpuMs(cpu0);
    const threads = threadSplit(threadsBefore, threads0, threadCpuMs());
    await profiler?.(databaseUrl ? 'postgres' : 'embedded');
    // created_at is the filing transaction's start (now()), on this machine's clock.
    const first = await sql<{ ms: number }>`select extract(epoch from min(created_at))::float8 * 1000 as ms from conversations where mailbox_id = (select id from mailboxes where name = 'backlog')`.execute(store.db);
    const firstConversationMs = first.rows[0]!.ms - t0Wall;
    const pool = runtime.mail.pool.stats();
    const byState = await sql<{ state: string; n: number }>`select case when conversation_id is not null then 'conversation' else ingest_state end as state, count(*)::int as n from messages where direction = 'inbound' and mailbox_id = (select id from mailboxes where name = 'backlog') group by 1`.execute(store.db);
    return { machineCores, storedMs, firstConversationMs, apiMs, apiIdleMs, loopDelayMs, filedWhenStored, filedMs, cpuMs: cpu, threads, mainWaitMs, workers: pool.size, spareStarts: pool.spareStarts, counts: Object.fromEntries(byState.rows.map((r) => [r.state, r.n])) };
  } finally {
    await runtime.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const bench: Bench = {
  name: 'ingest-throughput',
  async run({ quick, log }) {
    warnWithoutServerFlags(log);
    const count = Number(process.env.BENCH_INGEST_MESSAGES ?? (quick ? 2000 : 10_000));
    const loadBefore = os.loadavg().map((v) => round(v, 2));
    const { messages, source } = backlog(count);
    const warm = Number(process.env.BENCH_INGEST_WARM ?? 0);
    const dovecot = await startDovecot({ users: [{ user: 'backlog', password: 'backlog-pw' }, WARMUP] });
    try {
      await dovecot.deliver('backlog', 'INBOX', messages);
      // Other copies of the same corpus (their own X-Bench-Copy lines), in their own mailbox.
      if (warm > 0) await dovecot.deliver(WARMUP.user, 'INBOX', backlog(warm).messages);
      // Dovecot indexes the new files on the first SELECT: not part of either measurement.
      const prime = await baseline(dovecot);
      if (prime.count !== count) throw new Error(`the mailbox holds ${prime.count} messages, expected ${count}`);
      log(`primed: ${prime.count} messages, ${round(prime.bytes / 2 ** 20, 1)} MB`);
      const rate = (ms: number) => (count / ms) * 1000;
      // A cold Mailroom is also compared with a cold baseline (a fresh isolate): like for like.
      const cold = warm === 0;
      const coldRun = async (label: string) => {
        if (!cold) return undefined;
        const r = await coldBaseline(dovecot);
        log(`${label} in a fresh isolate: ${Math.round(rate(r.ms))} messages/s`);
        return r;
      };
      // Each Mailroom run has a baseline before and after it; its ratio uses their mean. The second
      // Mailroom run of this process finds its main thread's code compiled by the first (its parser
      // workers and database are new): BENCH_INGEST_FIRST=postgres runs PostgreSQL first, for a
      // figure of PostgreSQL as cold as the embedded one's.
      const database = process.env.BENCH_INGEST_POSTGRES === '0' ? null : await benchPostgresDatabase();
      const postgresFirst = process.env.BENCH_INGEST_FIRST === 'postgres';
      if (postgresFirst && !database) throw new Error('BENCH_INGEST_FIRST=postgres needs a PostgreSQL server (see bench/lib/postgres.ts)');
      const baselines: FetchParseRun[] = [];
      const coldBaselines: (FetchParseRun | undefined)[] = [];
      const takeBaseline = async () => {
        const b = await baseline(dovecot);
        log(`baseline${baselines.length ? ' again' : ''}: ${Math.round(rate(b.ms))} messages/s`);
        baselines.push(b);
        coldBaselines.push(await coldRun(`baseline${coldBaselines.length ? ' again' : ''}`));
      };
      await takeBaseline();
      let embedded: MailroomRun | undefined;
      let server: MailroomRun | undefined;
      const runEmbedded = async () => {
        embedded = await mailroom(dovecot, count, log, warm);
        log(`mailroom (embedded PGlite): ${Math.round(rate(embedded.filedMs))} messages/s filed`);
        await takeBaseline();
      };
      // The same on a PostgreSQL server (production), when one is reachable: shows what is PGlite's.
      const runServer = async () => {
        if (!database) return;
        server = await mailroom(dovecot, count, log, warm, database.url);
        log(`mailroom (PostgreSQL): ${Math.round(rate(server.filedMs))} messages/s filed`);
        await takeBaseline();
      };
      try {
        for (const run of postgresFirst ? [runServer, runEmbedded] : [runEmbedded, runServer]) await run();
      } finally {
        await database?.drop();
      }
      if (!embedded) throw new Error('the embedded run did not happen');
      // Which Mailroom run each was: run i has baselines i (before it) and i + 1 (after it).
      const [iEmbedded, iServer] = postgresFirst ? [1, 0] : [0, 1];
      /** The rate of the mean of the baselines before and after run `i`. */
      const around = (runs: (FetchParseRun | undefined)[], i: number) => {
        const [a, b] = [runs[i], runs[i + 1]];
        return a && b ? rate((a.ms + b.ms) / 2) : NaN;
      };
      const baseEmbedded = around(baselines, iEmbedded);
      const ratio = rate(embedded.filedMs) / baseEmbedded;
      const baseServer = server ? around(baselines, iServer) : NaN;
      const ratioServer = server ? rate(server.filedMs) / baseServer : NaN;
      const coldEmbedded = around(coldBaselines, iEmbedded);
      const coldServer = server ? around(coldBaselines, iServer) : NaN;
      const coldRatio = rate(embedded.filedMs) / coldEmbedded;
      const coldRatioServer = server ? rate(server.filedMs) / coldServer : NaN;
      const orNull = (x: number, digits: number) => (Number.isFinite(x) ? round(x, digits) : null);
      const loadAfter = os.loadavg().map((v) => round(v, 2));
      // CPU per message of this process (Dovecot and the PostgreSQL server not counted).
      const perMsg = (ms: number) => round(ms / count, 2);
      const baseCpu = perMsg((baselines[iEmbedded]!.cpuMs + baselines[iEmbedded + 1]!.cpuMs) / 2);
      /** A run's CPU per message by thread, and the main thread's wait for a core, as four figures named after `prefix`. */
      const threadFigures = (prefix: string, t: ThreadSplit | null, mainWaitMs: number | null) => ({
        [`${prefix}_main_thread_cpu_ms_per_msg`]: t ? perMsg(t.main) : null,
        [`${prefix}_main_thread_waiting_for_a_core_ms_per_msg`]: mainWaitMs === null ? null : perMsg(mainWaitMs),
        [`${prefix}_workers_cpu_ms_per_msg`]: t ? perMsg(t.started) : null,
        [`${prefix}_background_cpu_ms_per_msg`]: t ? perMsg(t.background) : null,
      });
      /** Filing's rate while the connector stored, and after it had stored everything. */
      const phases = (r: MailroomRun) => ({
        during: (r.filedWhenStored / r.storedMs) * 1000,
        after: r.filedMs > r.storedMs ? ((count - r.filedWhenStored) / (r.filedMs - r.storedMs)) * 1000 : NaN,
      });
      /** A run's wait for a core, per message and as a share of the run. */
      const waited = (r: MailroomRun) => (r.mainWaitMs === null ? '—' : `${perMsg(r.mainWaitMs)} ms (${round((r.mainWaitMs / r.filedMs) * 100, 0)} % of the run)`);
      const phaseRow = (label: string, r: MailroomRun, base: number) => {
        const p = phases(r);
        return `| ${label}: filing while the connector stored / after it was done | ${round(p.during, 0)} / ${round(p.after, 0)} | ${round(p.during / base, 2)} / ${round(p.after / base, 2)} |`;
      };
      const sequence = ['before', ...(postgresFirst ? ['after PostgreSQL', 'after embedded'] : ['after embedded', ...(server ? ['after PostgreSQL'] : [])])].join(' / ');
      const rows = [
        '| run | messages/s | ratio to the baseline |',
        '|---|---|---|',
        `| baseline: imapflow FETCH + simpleParser (${sequence}) | ${baselines.map((b) => round(rate(b.ms), 0)).join(' / ')} | 1 |`,
        ...(cold
          ? [`| the same baseline in a fresh isolate, cold as Mailroom (${sequence}) | ${coldBaselines.map((b) => (b ? round(rate(b.ms), 0) : '—')).join(' / ')} | ${round(coldEmbedded / baseEmbedded, 2)} |`]
          : []),
        `| Mailroom, embedded PGlite: stored (raw + position committed) | ${round(rate(embedded.storedMs), 0)} | ${round(rate(embedded.storedMs) / baseEmbedded, 2)} |`,
        `| Mailroom, embedded PGlite: filed (parsed, threaded, filed, routed) | ${round(rate(embedded.filedMs), 0)} | ${round(ratio, 2)} |`,
        phaseRow('Mailroom, embedded PGlite', embedded, baseEmbedded),
        ...(server
          ? [
              `| Mailroom, PostgreSQL server: stored | ${round(rate(server.storedMs), 0)} | ${round(rate(server.storedMs) / baseServer, 2)} |`,
              `| Mailroom, PostgreSQL server: filed | ${round(rate(server.filedMs), 0)} | ${round(ratioServer, 2)} |`,
              phaseRow('Mailroom, PostgreSQL server', server, baseServer),
            ]
          : []),
      ];
      return {
        name: ['ingest-throughput', ...(warm > 0 ? ['warm'] : []), ...(postgresFirst ? ['postgres-first'] : [])].join('-'),
        description:
          `A backlog of ${count.toLocaleString('en')} messages in a Dovecot mailbox through Mailroom (in this process, from its compiled code in dist/ with npm start's Node.js flags (${process.execArgv.filter((f) => SERVER_NODE_FLAGS.includes(f)).join(' ') || 'missing'}), ${embedded.workers} parser worker${embedded.workers === 1 ? '' : 's'} (one per core beyond the first); ${postgresFirst ? 'a PostgreSQL server, then embedded PGlite' : 'embedded PGlite, then a PostgreSQL server when reachable'}), from configuring the mailbox until every message is filed, ` +
          'against plain imapflow FETCH + mailparser simpleParser of the same messages in the same run (no database), before, between and after the Mailroom runs.' +
          (warm > 0
            ? ` Warm, as a server that has been taking mail: before each measured run Mailroom imported and filed ${warm.toLocaleString('en')} other messages from a second mailbox (untimed), so V8 had compiled its code (main thread, parser workers, the embedded database's WebAssembly); then the backlog's mailbox was added. The baseline's code is warm from its priming read in both variants.`
            : ' Cold: a Mailroom just started, whose code V8 compiles during the run (BENCH_INGEST_WARM=<n> measures a server that has been taking mail); the baseline\'s code is warm from its priming read.'),
        figures: {
          messages: count,
          megabytes: round(prime.bytes / 2 ** 20, 1),
          baseline_msgs_per_s: round(baseEmbedded, 0),
          mailroom_stored_msgs_per_s: round(rate(embedded.storedMs), 0),
          mailroom_filed_msgs_per_s: round(rate(embedded.filedMs), 0),
          mailroom_filed_s: round(embedded.filedMs / 1000, 1),
          mailroom_first_conversation_ms: round(embedded.firstConversationMs, 0),
          mailroom_api_p50_ms: round(percentile(embedded.apiMs, 50), 0),
          mailroom_api_p95_ms: round(percentile(embedded.apiMs, 95), 0),
          mailroom_api_max_ms: round(Math.max(...embedded.apiMs), 0),
          mailroom_api_idle_p50_ms: round(percentile(embedded.apiIdleMs, 50), 0),
          mailroom_event_loop_delay_p50_ms: round(embedded.loopDelayMs.p50, 0),
          mailroom_event_loop_delay_p99_ms: round(embedded.loopDelayMs.p99, 0),
          mailroom_filing_while_storing_msgs_per_s: round(phases(embedded).during, 0),
          mailroom_filing_after_stored_msgs_per_s: round(phases(embedded).after, 0),
          ratio_vs_baseline: round(ratio, 2),
          ...(cold ? { cold_baseline_msgs_per_s: orNull(coldEmbedded, 0), ratio_vs_cold_baseline: orNull(coldRatio, 2) } : {}),
          postgres_filed_msgs_per_s: server ? round(rate(server.filedMs), 0) : null,
          postgres_ratio_vs_baseline: server ? round(ratioServer, 2) : null,
          postgres_first_conversation_ms: server ? round(server.firstConversationMs, 0) : null,
          postgres_api_p50_ms: server ? round(percentile(server.apiMs, 50), 0) : null,
          postgres_api_p95_ms: server ? round(percentile(server.apiMs, 95), 0) : null,
          postgres_api_max_ms: server ? round(Math.max(...server.apiMs), 0) : null,
          postgres_api_idle_p50_ms: server ? round(percentile(server.apiIdleMs, 50), 0) : null,
          postgres_event_loop_delay_p50_ms: server ? round(server.loopDelayMs.p50, 0) : null,
          postgres_event_loop_delay_p99_ms: server ? round(server.loopDelayMs.p99, 0) : null,
          ...(cold ? { postgres_ratio_vs_cold_baseline: orNull(coldRatioServer, 2) } : {}),
          postgres_filing_while_storing_msgs_per_s: server ? round(phases(server).during, 0) : null,
          postgres_filing_after_stored_msgs_per_s: server ? round(phases(server).after, 0) : null,
          simpleparser_failures: baselines[0]!.failed,
          baseline_cpu_ms_per_msg: baseCpu,
          mailroom_cpu_ms_per_msg: perMsg(embedded.cpuMs),
          ...threadFigures('mailroom', embedded.threads, embedded.mainWaitMs),
          postgres_cpu_ms_per_msg: server ? perMsg(server.cpuMs) : null,
          ...threadFigures('postgres', server?.threads ?? null, server?.mainWaitMs ?? null),
          parser_workers: embedded.workers,
          parser_spare_starts: embedded.spareStarts + (server?.spareStarts ?? 0),
          mailroom_machine_busy_cores: embedded.machineCores,
          postgres_machine_busy_cores: server?.machineCores ?? null,
          filed_as: Object.entries(embedded.counts)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
          load_average_before: loadBefore.join(' '),
          load_average_after: loadAfter.join(' '),
        },
        table: rows.join('\n'),
        targets: [
          { name: 'Mailroom (embedded) filed messages/s vs baseline', target: '≥ 0.5×', actual: `${round(ratio, 2)}×`, met: ratio >= 0.5 },
          ...(server ? [{ name: 'Mailroom (PostgreSQL) filed messages/s vs baseline', target: '≥ 0.5×', actual: `${round(ratioServer, 2)}×`, met: ratioServer >= 0.5 }] : []),
        ],
        notes: [
          `Messages: ${source}, each copy unique by an X-Bench-Copy header.`,
          `The server while it takes the backlog: a supervisor's queue view (GET /api/v1/queues, signed in) asked every 200 ms during each Mailroom run, one at a time, answered in ${round(percentile(embedded.apiMs, 50), 0)} ms at p50, ${round(percentile(embedded.apiMs, 95), 0)} ms at p95, ${round(Math.max(...embedded.apiMs), 0)} ms at most on the embedded database (${embedded.apiMs.length} requests)${server ? `, ${round(percentile(server.apiMs, 50), 0)} / ${round(percentile(server.apiMs, 95), 0)} / ${round(Math.max(...server.apiMs), 0)} ms on PostgreSQL (${server.apiMs.length})` : ''}; once everything was filed, the same view took ${round(percentile(embedded.apiIdleMs, 50), 0)} ms${server ? ` and ${round(percentile(server.apiIdleMs, 50), 0)} ms` : ''} (median of ten). The main thread's event loop ran its timers late by ${round(embedded.loopDelayMs.p50, 0)} ms at p50 and ${round(embedded.loopDelayMs.p99, 0)} ms at p99 (${round(embedded.loopDelayMs.max, 0)} at most)${server ? `, ${round(server.loopDelayMs.p50, 0)} / ${round(server.loopDelayMs.p99, 0)} ms on PostgreSQL` : ''} (monitorEventLoopDelay): every request waits for that too.`,
          'First conversation: from configuring the mailbox to the first of the backlog\'s emails in a queue (the filing transaction\'s start), the wait after an outage before an agent can be offered anything.',
          '"stored" = raw bytes and position committed (the connector\'s part, while ingest runs beside it); "filed" = parsed, threaded, filed and routed (the whole pipeline). Filing\'s own rate is shown in two phases: while the connector was still storing (both share the main thread and the embedded database), and after it had stored the last message (filing alone).',
          `CPU of this process per message (every thread; Dovecot and the PostgreSQL server not counted): baseline ${baseCpu} ms, Mailroom embedded ${perMsg(embedded.cpuMs)} ms${server ? `, Mailroom on PostgreSQL ${perMsg(server.cpuMs)} ms` : ''}; Mailroom's by thread: the main thread (connector, filing, routing, the embedded database), the threads it started (its parser workers), and the threads that were there before (V8's background threads: JIT compilation and GC for every thread, and libuv's). At half the baseline's rate (${Math.round(baseEmbedded / 2)} messages/s) two fully used cores allow at most ${round(4000 / baseEmbedded, 2)} ms of CPU per message, Dovecot's included.`,
          `The main thread is the serial part (connector, filing, and on the embedded database the database itself). How long it was ready to run but waited for a core while the other threads and processes had both (Linux schedstat), per message: embedded ${waited(embedded)}${server ? `, PostgreSQL ${waited(server)}` : ''}.`,
          `Busy cores of the whole machine during each Mailroom run (every process: this one, Dovecot, the PostgreSQL server), out of ${os.cpus().length}: embedded ${embedded.machineCores ?? '—'}${server ? `, PostgreSQL ${server.machineCores ?? '—'}` : ''}.`,
          ...(cold
            ? [
                `Like for like: the baseline's code is warm (compiled by its priming read), Mailroom's is not; the same baseline in a fresh worker thread (a new V8 isolate, timed from its connect after loading its modules) compiles imapflow and mailparser during its run as Mailroom does, and reads ${orNull(coldEmbedded, 0) ?? '—'} messages/s. Mailroom against it: embedded ${orNull(coldRatio, 2) ?? '—'}x${server ? `, PostgreSQL ${orNull(coldRatioServer, 2) ?? '—'}x` : ''}. The targets above are judged against the warm baseline.`,
              ]
            : []),
          ...(server
            ? [
                `Both runs are in one process: the second (${postgresFirst ? 'embedded' : 'PostgreSQL'}) starts a new Mailroom, with new parser workers and a new database connection, but its main thread's code was compiled by the first run, so only the first is fully cold. BENCH_INGEST_FIRST=postgres runs PostgreSQL first (results in ingest-throughput-postgres-first).`,
              ]
            : []),
          'Shared 2-core machine: see the load averages (1, 5, 15 min) before and after the run; compare the ratio, not absolute figures across runs.',
        ],
      };
    } finally {
      await dovecot.stop();
    }
  },
};

export default bench;
