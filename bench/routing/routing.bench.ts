/**
 * `npm run bench routing`: (a) the simulator on every scenario (S, M, L, XL) at ρ 0.7, 0.85,
 * 0.95 and a 1.1 burst; (b) at XL, decision latency and throughput of the indexed engine against
 * the naive scanning baseline in the same process, and the heap the index takes.
 */
import type { Bench, BenchReport } from '../lib/report.js';
import { round } from '../lib/report.js';
import { measureXl } from './latency-bench.js';
import { SCENARIO_NAMES, buildScenario } from './sim-scenarios.js';
import { LOAD_LEVELS, formatTable, runMatrix } from './sim-table.js';

const SEED = 1;

const bench: Bench = {
  name: 'routing',
  async run({ quick, log }): Promise<BenchReport> {
    // Latency first, on a fresh heap: the simulator's garbage would otherwise be collected
    // during the measurement.
    log('latency at XL…');
    (globalThis as { gc?: () => void }).gc?.();
    const lat = measureXl({ quick, seed: SEED, log });
    log(`simulator: ${SCENARIO_NAMES.join(', ')} × ${LOAD_LEVELS.length} load levels${quick ? ' (quick: shorter runs)' : ''}`);
    const scenarios = SCENARIO_NAMES.map((name) => buildScenario(name, { seed: SEED, quick }));
    const rows = runMatrix(scenarios, LOAD_LEVELS, SEED, log);
    const e = lat.engine;
    const n = lat.naive;
    const us = (v: number) => `${round(v, 1)} µs`;
    const latencyTable = [
      '| router | decisions | p50 | p99 | p99.9 | mean per decision | decisions/s |',
      '|---|---|---|---|---|---|---|',
      `| indexed engine | ${e.decisions} | ${us(e.p50Us)} | ${us(e.p99Us)} | ${us(e.p999Us)} | ${us(e.meanUsPerDecision)} | ${Math.round(e.decisionsPerSec)} |`,
      `| naive scan | ${n.decisions} | ${us(n.p50Us)} | ${us(n.p99Us)} | ${us(n.p999Us)} | ${us(n.meanUsPerDecision)} | ${round(n.decisionsPerSec, 1)} |`,
      `| naive scan, floor (one free agent) | — | — | — | — | ${us(lat.naiveFloorUs)} | ${Math.round(1e6 / lat.naiveFloorUs)} |`,
    ].join('\n');
    return {
      name: 'routing',
      description:
        'Routing engine (issue 6). Simulator: discrete-event runs driving the real engine (Poisson arrivals per queue, lognormal handle times mean 6 min CV 1, shifts, breaks, offer responses, customer replies), seed 1. ' +
        'Latency: at XL (1,000 agents, 10,000 waiting, 200 queues, 50 skills, 8 languages) every agent busy and a standing backlog; each completion or arrival followed by decide(); ' +
        'latency = the event call + decide() for calls that made an offer; decisions/s = offers / total engine time (events, decide, accept) on one core; the naive baseline scans all agents and all waiting conversations per decision, same workload, same process.',
      figures: {
        decision_p50_us: round(e.p50Us, 1),
        decision_p99_us: round(e.p99Us, 1),
        decision_p999_us: round(e.p999Us, 1),
        decisions_per_s: Math.round(e.decisionsPerSec),
        naive_p50_us: round(n.p50Us, 1),
        naive_decisions_per_s: round(n.decisionsPerSec, 1),
        ratio_vs_baseline: round(lat.ratio, 1),
        naive_floor_us: round(lat.naiveFloorUs, 1),
        ratio_vs_baseline_floor: round(lat.floorRatio, 1),
        index_heap_mb: lat.heapDeltaMb === null ? null : round(lat.heapDeltaMb, 1),
        index_bytes_per_waiting: lat.bytesPerWaiting === null ? null : Math.round(lat.bytesPerWaiting),
        index_buckets: lat.index.buckets,
        index_memberships: lat.index.memberships,
        engine_iterations: e.iterations,
        naive_iterations: n.iterations,
      },
      targets: [
        { name: 'p99 decision latency at XL', target: '< 1 ms', actual: us(e.p99Us), met: e.p99Us < 1000 },
        { name: 'p99.9 decision latency at XL', target: '< 5 ms', actual: us(e.p999Us), met: e.p999Us < 5000 },
        { name: 'decisions/s on one core', target: '≥ 20,000', actual: String(Math.round(e.decisionsPerSec)), met: e.decisionsPerSec >= 20_000 },
        { name: 'speed-up over the naive baseline', target: '≥ 50×', actual: `${round(lat.ratio, 0)}× (floor ${round(lat.floorRatio, 0)}×)`, met: lat.ratio >= 50 && lat.floorRatio >= 50 },
      ],
      table: `## Decision latency at XL\n\n${latencyTable}\n\n## Simulator\n\n${formatTable(rows)}`,
      notes: [
        'ρ is offered load over available slots (breaks excluded) during the arrival window, customer replies included; the burst row runs at 0.85 with ρ = 1.1 in the middle third. Runs continue a quarter longer than the arrival window to drain; occupancy is measured over the arrival window.',
        'SLA % = share of conversations that arrived during the run and were accepted within their queue’s first-response target (5 min for S, M and L; 30 min for XL). XL starts with 10,000 waiting: those are left out of SLA and waits, and reported as the time the backlog took to clear.',
        'Fairness is Jain’s index of conversations handled per logged-in hour. “after relax %” = served at a relaxation step > 0; “sticky hits %” = customer replies that went back to their last agent (25 % of handled conversations get a reply after ~20 min; the last agent is often busy, so the 60 s sticky wait runs out).',
        'L approximates Cezik & L’Ecuyer (2008)’s real center (65 call types × 89 agent groups) with a seeded random sparse skill matrix; their matrix is not public. S, M and L use capacity 1 (as in the call-center literature), XL capacity 3.',
        `Index at XL: ${lat.index.buckets} buckets, ${lat.index.memberships} agent memberships, ${lat.index.timers} timers; heap delta measured with --expose-gc after loading 1,000 agents and the backlog.`,
        'The naive workload figure includes agents left free with nothing they qualify for: the baseline rescans everything for each of them on every decision. The floor row keeps exactly one free agent; both ratios are reported.',
      ],
    };
  },
};

export default bench;
