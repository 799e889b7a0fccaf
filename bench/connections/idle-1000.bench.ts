/**
 * 1,000 mailboxes watched with IDLE on one node (issue 5, "Performance"): Mailroom in a process
 * of its own against one Dovecot with 1,000 users. Measures the time from applying the config
 * until every mailbox shows `connected`; resident memory and CPU of the Mailroom process at rest
 * (everything connected and idle, sampled every second); and APPEND → `offer.created` (on the
 * agent's WebSocket) while all are idle, for a few hundred samples spread over the mailboxes,
 * beside the floor of the same run: APPEND → `exists` on bare imapflow clients IDLE-ing on
 * mailboxes of their own (Dovecot batches IDLE notifications, about 0.5 s: NOTES.md).
 *
 * `node --import tsx --expose-gc bench/run.ts idle-1000 [--quick]`; BENCH_DB=postgres for the
 * PostgreSQL server instead of the embedded database. Quick: 200 mailboxes, 60 samples, 10 s.
 */
import { ImapFlow } from 'imapflow';
import { ApiClient } from '../../test/helpers/api-client.js';
import { rawMail } from '../../test/helpers/mail.js';
import { startDovecot } from '../../test/peers/dovecot.js';
import { percentile, round, type Bench, type BenchReport } from '../lib/report.js';
import { appendTimed, loadAverage, rssBytes, sampleAtRest, startServer } from './bench-helpers.js';

const AGENTS = 5;
const FLOOR_CLIENTS = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface MailboxStatus {
  name: string;
  status: { state: string; lastError: { code: string } | null };
}

const bench: Bench = {
  name: 'idle-1000',
  async run({ quick, log }): Promise<BenchReport> {
    const mailboxes = quick ? 200 : 1000;
    const samples = quick ? 60 : 300;
    const restSeconds = quick ? 10 : 30;
    const db = process.env.BENCH_DB === 'postgres' ? 'postgres' : 'pglite';
    const loadBefore = loadAverage();
    const name = (i: number) => `mb${String(i).padStart(4, '0')}`;
    const users = [
      ...Array.from({ length: mailboxes }, (_, i) => ({ user: name(i), password: `${name(i)}-pw` })),
      ...Array.from({ length: FLOOR_CLIENTS }, (_, i) => ({ user: `floor${i}`, password: `floor${i}-pw` })),
    ];
    log(`Dovecot with ${users.length} users…`);
    const dovecot = await startDovecot({ users, maxConnections: mailboxes + FLOOR_CLIENTS + 50 });
    const floorClients: ImapFlow[] = [];
    let server: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      server = await startServer(db, log);
      const pid = server.proc.pid!;
      log(`Mailroom at ${server.url} (pid ${pid}, ${server.database})`);
      const admin = new ApiClient(server.url);
      await admin.login('admin', 'bench-password-1');
      await sleep(3000);
      const rssStartedMb = rssBytes(pid) / 2 ** 20;

      const config = {
        senders: [{ name: 'out', type: 'smtp', host: '127.0.0.1', port: 2525, security: 'none', from: 'support@example.com', proxy: 'none' }],
        queues: [{ name: 'bench', sender: 'out', routing: { mode: 'offer', offer_timeout_s: 3600 } }],
        users: Array.from({ length: AGENTS }, (_, i) => ({ login: `agent${i}`, roles: ['agent'], password: `agent${i}-password`, capacity: 100, languages: { en: 10 } })),
        mailboxes: Array.from({ length: mailboxes }, (_, i) => ({
          name: name(i),
          protocol: 'imap',
          host: '127.0.0.1',
          port: dovecot.imapPort,
          security: 'none',
          auth: { user: name(i), password: `${name(i)}-pw` },
          proxy: 'none',
          queue: 'bench',
        })),
      };
      const t0 = performance.now();
      const applied = await admin.request('PUT', '/api/v1/config', config);
      if (applied.status !== 200) throw new Error(`config: ${applied.text.slice(0, 500)}`);
      const applyMs = performance.now() - t0;
      log(`config with ${mailboxes} mailboxes applied in ${Math.round(applyMs)} ms; waiting until all are connected…`);
      let connectedMs = NaN;
      const errorsSeen = new Set<string>();
      for (;;) {
        const all: MailboxStatus[] = [];
        let cursor: string | undefined;
        do {
          const page = await admin.request('GET', `/api/v1/mailboxes?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
          all.push(...(page.body.items as MailboxStatus[]));
          cursor = page.body.nextCursor;
        } while (cursor);
        const up = all.filter((m) => m.status.state === 'connected').length;
        for (const m of all) if (m.status.state === 'error') errorsSeen.add(`${m.name}:${m.status.lastError?.code}`);
        if (up === mailboxes) {
          connectedMs = performance.now() - t0;
          break;
        }
        if (performance.now() - t0 > 600_000) throw new Error(`only ${up} of ${mailboxes} connected after 10 min`);
        await sleep(250);
      }
      log(`all ${mailboxes} connected ${round(connectedMs / 1000, 1)} s after the config was sent${errorsSeen.size ? ` (${errorsSeen.size} passed through error: ${[...errorsSeen].slice(0, 5).join(', ')})` : ''}`);

      // Agents available, each with its WebSocket; the frames' arrival times are kept by subject.
      const offerAt = new Map<string, number>();
      const streams = [];
      for (let i = 0; i < AGENTS; i++) {
        const agent = new ApiClient(server.url);
        await agent.login(`agent${i}`, `agent${i}-password`);
        const stream = await agent.events();
        stream.ws.on('message', (raw) => {
          const at = performance.now();
          const frame = JSON.parse(raw.toString()) as { type: string; data: { subject?: string } };
          const m = frame.type === 'offer.created' ? /bench-sample-\d+/.exec(frame.data.subject ?? '') : null;
          if (m && !offerAt.has(m[0])) offerAt.set(m[0], at);
        });
        await agent.request('PUT', '/api/v1/me/state', { state: 'available' });
        streams.push(stream);
      }

      // The floor: bare imapflow clients IDLE-ing on mailboxes of their own.
      const existsAt = new Map<number, number>();
      for (let i = 0; i < FLOOR_CLIENTS; i++) {
        const c = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, doSTARTTLS: false, auth: { user: `floor${i}`, pass: `floor${i}-pw` }, logger: false, autoIdleDelay: 20 });
        c.on('error', () => undefined);
        await c.connect();
        await c.mailboxOpen('INBOX');
        c.on('exists', () => {
          if (!existsAt.has(i)) existsAt.set(i, performance.now());
        });
        floorClients.push(c);
      }

      log(`at rest: sampling the Mailroom process for ${restSeconds} s…`);
      await sleep(5000);
      const rest = await sampleAtRest(pid, restSeconds);
      log(`at rest: RSS ${round(rest.rssMedianMb, 0)} MB (max ${round(rest.rssMaxMb, 0)} MB), CPU ${round(rest.cpuPercent, 1)} % of one core`);

      // Latency: a round every 250 ms, each an APPEND to a Mailroom mailbox and one to a floor
      // mailbox at the same moment; rounds overlap, as mail does.
      const mailroom: number[] = [];
      const floor: number[] = [];
      let lost = 0;
      const rounds: Promise<void>[] = [];
      for (let k = 0; k < samples; k++) {
        const target = name(Math.floor((k * mailboxes) / samples));
        // Rounds on the same floor mailbox are FLOOR_CLIENTS × 250 ms apart: its next 'exists' is this APPEND's.
        const floorIndex = k % FLOOR_CLIENTS;
        existsAt.delete(floorIndex);
        rounds.push(
          (async () => {
            const marker = `bench-sample-${k}`;
            const [tMailroom, tFloor] = await Promise.all([
              appendTimed('127.0.0.1', dovecot.imapPort, target, `${target}-pw`, rawMail({ subject: `Question ${marker}`, body: `Hello, this is ${marker}. Where is my order?` })),
              appendTimed('127.0.0.1', dovecot.imapPort, `floor${floorIndex}`, `floor${floorIndex}-pw`, rawMail({ subject: `Floor ${marker}` })),
            ]);
            const end = performance.now() + 15_000;
            while ((!offerAt.has(marker) || !existsAt.has(floorIndex)) && performance.now() < end) await sleep(5);
            if (offerAt.has(marker)) mailroom.push(offerAt.get(marker)! - tMailroom);
            else lost++;
            if (existsAt.has(floorIndex)) floor.push(existsAt.get(floorIndex)! - tFloor);
          })(),
        );
        await sleep(250);
      }
      await Promise.all(rounds);
      // At rest again, now that mail has flowed: the parser workers hold their HTML sanitizer (jsdom).
      await sleep(5000);
      const afterMail = await sampleAtRest(pid, Math.min(restSeconds, 10));
      log(`at rest after the mail: RSS ${round(afterMail.rssMedianMb, 0)} MB (max ${round(afterMail.rssMaxMb, 0)} MB)`);
      for (const s of streams) s.close();
      const loadAfter = loadAverage();
      const p = (v: number[], q: number) => round(percentile(v, q), 0);
      const added99 = percentile(mailroom, 99) - percentile(floor, 99);
      log(`APPEND → offer.created p50 ${p(mailroom, 50)} ms p99 ${p(mailroom, 99)} ms; floor (APPEND → exists) p50 ${p(floor, 50)} ms p99 ${p(floor, 99)} ms`);
      return {
        name: quick ? 'idle-1000-quick' : db === 'postgres' ? 'idle-1000-postgres' : 'idle-1000',
        description:
          `${mailboxes} IMAP mailboxes watched with IDLE by one Mailroom process (${db === 'postgres' ? 'PostgreSQL server' : 'embedded PGlite'}, default liveness: keepalive 300 s) against one Dovecot 2.3 with ${users.length} users on this machine. ` +
          'Connect time: from PUT /config until GET /mailboxes shows all connected. At rest: the Mailroom process after all are connected, agents signed in with their WebSockets, sampled every second. ' +
          `Latency: ${samples} APPENDs, one every 250 ms spread over the mailboxes, from the APPEND's OK to the offer.created frame on the agent's WebSocket (parse, route, offer included); ` +
          `floor: the same moment's APPEND → exists on ${FLOOR_CLIENTS} bare imapflow clients IDLE-ing in the benchmark process.`,
        figures: {
          mailboxes,
          database: db,
          config_apply_ms: round(applyMs, 0),
          all_connected_s: round(connectedMs / 1000, 1),
          rss_at_rest_mb: round(rest.rssMedianMb, 0),
          rss_at_rest_max_mb: round(rest.rssMaxMb, 0),
          rss_at_rest_after_mail_mb: round(afterMail.rssMaxMb, 0),
          cpu_at_rest_percent_of_one_core: round(rest.cpuPercent, 2),
          samples: mailroom.length,
          lost_samples: lost,
          append_to_offer_ms_p50: p(mailroom, 50),
          append_to_offer_ms_p99: p(mailroom, 99),
          append_to_offer_ms_max: p(mailroom, 100),
          floor_append_to_exists_ms_p50: p(floor, 50),
          floor_append_to_exists_ms_p99: p(floor, 99),
          added_to_floor_ms_p50: round(percentile(mailroom, 50) - percentile(floor, 50), 0),
          added_to_floor_ms_p99: round(added99, 0),
        },
        targets: [
          { name: 'resident memory at rest (before / after the mail)', target: '< 1024 MB', actual: `${round(rest.rssMaxMb, 0)} / ${round(afterMail.rssMaxMb, 0)} MB (max)`, met: Math.max(rest.rssMaxMb, afterMail.rssMaxMb) < 1024 },
          { name: 'APPEND → offer.created p99 added to the floor', target: '< 250 ms', actual: `${round(added99, 0)} ms`, met: added99 < 250 && lost === 0 },
        ],
        notes: [
          `Load average (uptime) before: ${loadBefore}; after: ${loadAfter}. Two cores shared with Dovecot (${mailboxes + FLOOR_CLIENTS} imap processes), the benchmark process and other work on the machine.`,
          `Mailboxes that passed through an error state while connecting: ${errorsSeen.size}.`,
          `RSS 3 s after start, before any mailbox (migrations and start-up garbage not yet collected, so not a baseline to subtract): ${round(rssStartedMb, 0)} MB.`,
        ],
      };
    } finally {
      await Promise.allSettled(floorClients.map((c) => c.logout().catch(() => c.close())));
      await server?.stop();
      await dovecot.stop();
    }
  },
};

export default bench;
