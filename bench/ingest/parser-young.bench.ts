/**
 * The parser worker's young generation (`ParseLimits.workerYoungMb`): the same corpus parsed by a
 * one-worker pool whose worker has a young generation of 16 MB (the setting before 2026-12-08,
 * the baseline), 64 and 128 MB (the default since), in the same process, in the order 16, 64,
 * 128, 128, 64, 16 so a drift of the machine's speed hits every size alike. Per message: the
 * worker thread's CPU, the CPU of the threads that were there before the pool (V8's helper
 * threads: concurrent marking and parallel scavenges run there), the wall time; and the process's
 * peak RSS growth while each pool ran (the lower of its two runs).
 *
 * The worker makes most of its objects for one message and drops them: in a small young
 * generation it collects often, and what is alive at that moment (the current parse, the
 * messages sent ahead) is copied and soon promoted, so the old generation fills and is marked
 * again and again. In the 10,000-message backlog (ingest-throughput) the worker ran 301
 * scavenges and 37 mark-compacts with 16 MB.
 *
 * `node --import tsx --expose-gc bench/run.ts parser-young [--quick]`
 */
import { readFileSync } from 'node:fs';
import { round, type Bench } from '../lib/report.js';
import { threadCpuMs } from '../lib/thread-cpu.js';
import { ParserPool } from '../../src/ingest/parser-pool.js';
import type { AttachmentSink } from '../../src/ingest/parse-types.js';
import { rawMessage } from '../../src/ingest/fixtures/test-messages.js';
import { corpusFiles, hasCorpus } from '../../test/helpers/corpus.js';

const SIZES = [16, 64, 128] as const;

const dropSink: AttachmentSink = { begin: () => ({ write: () => undefined, end: () => undefined }) };

interface Pass {
  wallMs: number;
  workerMs: number;
  helpersMs: number;
  peakRssMb: number;
}

/** One pool with a young generation of `youngMb`: a warm-up pass, then `passes` measured ones. */
async function measure(youngMb: number, messages: Buffer[], passes: number): Promise<Pass> {
  global.gc?.();
  const before = threadCpuMs();
  const rss0 = process.memoryUsage.rss();
  let peak = rss0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const pool = new ParserPool({ size: 1, spares: 0, limits: { workerYoungMb: youngMb } });
  try {
    await pool.ready();
    const run = async () => {
      // Up to 32 in flight, as the ingest service keeps its worker fed.
      const inFlight = new Set<Promise<unknown>>();
      for (const m of messages) {
        if (inFlight.size >= 32) await Promise.race(inFlight);
        const p: Promise<unknown> = pool.parse(m, { omitHtml: true, sink: dropSink }).then((): void => {
          inFlight.delete(p);
        });
        inFlight.add(p);
      }
      await Promise.all(inFlight);
    };
    await run();
    const t0 = threadCpuMs();
    const w0 = performance.now();
    for (let i = 0; i < passes; i++) await run();
    const wallMs = performance.now() - w0;
    const t1 = threadCpuMs();
    let workerMs = 0;
    let helpersMs = 0;
    for (const [tid, ms] of t1) {
      const d = ms - (t0.get(tid) ?? 0);
      if (tid === String(process.pid)) continue;
      if (before.has(tid)) helpersMs += d;
      else workerMs += d;
    }
    const n = messages.length * passes;
    return { wallMs: wallMs / n, workerMs: workerMs / n, helpersMs: helpersMs / n, peakRssMb: (peak - rss0) / 2 ** 20 };
  } finally {
    clearInterval(sampler);
    await pool.close();
  }
}

const bench: Bench = {
  name: 'parser-worker-young',
  async run({ quick, log }) {
    const base = hasCorpus ? corpusFiles().map((f) => readFileSync(f)) : Array.from({ length: 50 }, (_, i) => rawMessage({ From: 'a@example.com', Subject: `n${i}` }, 'Hello there\r\n'.repeat(1 + i)));
    const copies = quick ? 5 : 20;
    const messages = Array.from({ length: copies }, () => base).flat();
    const passes = quick ? 1 : 2;
    const runs = new Map<number, Pass[]>(SIZES.map((s) => [s, []]));
    for (const youngMb of [...SIZES, ...[...SIZES].reverse()]) {
      const r = await measure(youngMb, messages, passes);
      runs.get(youngMb)!.push(r);
      log(`young ${youngMb} MB: worker ${r.workerMs.toFixed(3)} ms, helpers ${r.helpersMs.toFixed(3)} ms, wall ${r.wallMs.toFixed(3)} ms a message; peak RSS +${Math.round(r.peakRssMb)} MB`);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const summary = SIZES.map((s) => {
      const rs = runs.get(s)!;
      return { s, worker: mean(rs.map((r) => r.workerMs)), helpers: mean(rs.map((r) => r.helpersMs)), wall: mean(rs.map((r) => r.wallMs)), rss: Math.min(...rs.map((r) => r.peakRssMb)) };
    });
    const at = (s: number) => summary.find((x) => x.s === s)!;
    const cpu = (s: number) => at(s).worker + at(s).helpers;
    const figures: Record<string, number> = { messages: messages.length * passes };
    for (const x of summary) {
      figures[`young_${x.s}_worker_cpu_ms_per_msg`] = round(x.worker, 3);
      figures[`young_${x.s}_helpers_cpu_ms_per_msg`] = round(x.helpers, 3);
      figures[`young_${x.s}_wall_ms_per_msg`] = round(x.wall, 3);
      figures[`young_${x.s}_peak_rss_growth_mb`] = round(x.rss, 0);
    }
    figures.cpu_ratio_128_vs_16 = round(cpu(128) / cpu(16), 2);
    figures.wall_ratio_128_vs_16 = round(at(128).wall / at(16).wall, 2);
    figures.rss_growth_128_minus_16_mb = round(at(128).rss - at(16).rss, 0);
    return {
      name: 'parser-worker-young',
      description: `The corpus (${hasCorpus ? `../shared/corpus/mime, ${base.length} messages` : 'synthetic: ../shared/corpus not found'}) ×${copies}, parsed ${passes}× after a warm-up by a one-worker ParserPool (up to 32 parses in flight, attachments to a dropping sink) whose worker's young generation is 16 MB (the setting before, the baseline), 64 or 128 MB (the default), in the same process, in the order 16, 64, 128, 128, 64, 16; CPU per message of the worker thread and of V8's helper threads (Linux /proc), wall time per message, and the process's peak RSS growth while each pool ran.`,
      figures,
      table: ['| young generation | worker CPU ms/msg | helpers CPU ms/msg | wall ms/msg | peak RSS growth MB |', '|---|---|---|---|---|', ...summary.map((x) => `| ${x.s} MB | ${round(x.worker, 3)} | ${round(x.helpers, 3)} | ${round(x.wall, 3)} | ${Math.round(x.rss)} |`)].join('\n'),
      notes: [
        'CPU a message is the parse in the worker (mailparser, Mailroom\'s parse code, the messages to and from the main thread) and the collections V8 runs beside it; the main thread\'s share (sending the jobs, taking the results) is left out: it does not depend on the worker\'s heap.',
        'RSS grows by about the young generation a worker fills before collecting: the memory this trades for the CPU. Each size\'s lower peak of its two runs is shown: the process\'s first pool also grows the RSS for the process\'s own warm-up. The 50 MB message of the parse benchmark is measured there (its target: under 100 MB of growth).',
        'Shared 2-core machine: compare the ratios, which every size of the same run shares, rather than absolute figures across runs.',
      ],
    };
  },
};

export default bench;
