/**
 * Decision latency and throughput at XL (1,000 agents, 10,000 waiting, 200 queues, 50 skills,
 * 8 languages), the indexed engine against the naive baseline on the same workload in the same
 * process, plus the heap the engine's index takes.
 *
 * The workload is the hard case for a router: a standing backlog with every agent at capacity,
 * so each completion frees one slot that must be matched against 10,000 waiting conversations,
 * and each new arrival must be placed; relaxation timers fire as the backlog ages, and agents
 * go on and off break. A "decision" is one offer made.
 */
import { performance } from 'node:perf_hooks';
import { percentile } from '../lib/report.js';
import { RoutingEngine } from '../../src/routing/routing-engine.js';
import type { AgentInput, ConversationInput } from '../../src/routing/routing-types.js';
import { SeededRandom } from '../../src/routing/seeded-random.js';
import { NaiveRouter } from './naive-router.js';
import { buildScenario, queueWeights, type Scenario } from './sim-scenarios.js';

/** The calls the workload makes, implemented by both routers. */
interface Driver {
  upsert(a: AgentInput, now: number): void;
  enqueue(c: ConversationInput, now: number): void;
  setLoad(id: number, load: number, now: number): void;
  setAvailable(id: number, available: boolean, now: number): void;
  decide(now: number): { conversationId: number; agentId: number }[];
  accept(conversationId: number, agentId: number, now: number): boolean;
}

function engineDriver(engine: RoutingEngine): Driver {
  return {
    upsert: (a, now) => void engine.upsertAgent(a, now),
    enqueue: (c, now) => void engine.enqueue(c, now),
    setLoad: (id, load, now) => engine.setAgentLoad(id, load, now),
    setAvailable: (id, available, now) => void engine.setAgentState(id, available ? 'available' : 'paused', available ? null : 'break', now),
    decide: (now) => engine.decide(now).offers.map((o) => ({ conversationId: o.conversationId, agentId: o.agentIds[0]! })),
    accept: (c, a, now) => engine.accept(c, a, now).won,
  };
}

function naiveDriver(naive: NaiveRouter): Driver {
  return {
    upsert: (a, now) => naive.upsertAgent(a, now),
    enqueue: (c, now) => naive.enqueue(c, now),
    setLoad: (id, load, now) => naive.setAgentLoad(id, load, now),
    setAvailable: (id, available, now) => naive.setAgentState(id, available, now),
    decide: (now) => naive.decide(now),
    accept: (c, a, now) => naive.accept(c, a, now),
  };
}

export interface RunFigures {
  iterations: number;
  decisions: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  meanUsPerDecision: number;
  decisionsPerSec: number;
}

const T0 = 1_700_000_000_000;
const STEP_MS = 5;

/** Loads the XL state (every agent busy, the backlog waiting) into a router. */
function setup(d: Driver, sc: Scenario, rng: SeededRandom, loads: Map<number, number>, pickQueue: () => number): number {
  for (const a of sc.agents) {
    d.upsert({ id: a.id, login: a.login, skills: a.skills, languages: a.languages, capacity: a.capacity, state: 'available', load: a.capacity, idleSince: T0 - Math.floor(rng.next() * 600_000) }, T0);
    loads.set(a.id, a.capacity);
  }
  let id = 1;
  // Arrived over the last 10 minutes: their relaxation steps come due while the run goes on.
  for (; id <= sc.backlog; id++) d.enqueue({ id, queue: sc.queues[pickQueue()]!.name, arrivedAt: T0 - Math.floor(rng.next() * 600_000) }, T0);
  d.decide(T0);
  return id;
}

/** Runs the workload; latency = the triggering call plus `decide`, for calls that made a decision. */
function runWorkload(d: Driver, sc: Scenario, weights: number[], seed: number, warmup: number, iterations: number, onReady?: () => void): RunFigures {
  const rng = new SeededRandom(seed);
  const total = weights.reduce((a, b) => a + b, 0);
  const pickQueue = () => {
    let u = rng.next() * total;
    for (let i = 0; i < weights.length; i++) if ((u -= weights[i]!) < 0) return i;
    return weights.length - 1;
  };
  const loads = new Map<number, number>();
  let nextId = setup(d, sc, rng, loads, pickQueue);
  onReady?.();
  const paused: number[] = [];
  const latencies: number[] = [];
  let decisions = 0;
  let busyMs = 0;
  let t = T0;
  const step = (measure: boolean, event: () => void) => {
    const a = performance.now();
    event();
    const offers = d.decide(t);
    const b = performance.now();
    for (const o of offers) if (d.accept(o.conversationId, o.agentId, t)) loads.set(o.agentId, loads.get(o.agentId)! + 1);
    const c = performance.now();
    if (!measure) return;
    busyMs += c - a;
    decisions += offers.length;
    if (offers.length > 0) latencies.push((b - a) * 1000);
  };
  for (let i = 0; i < warmup + iterations; i++) {
    const measure = i >= warmup;
    t += STEP_MS;
    // A completion: one busy agent frees a slot.
    let agent = 1 + rng.int(sc.agents.length);
    while (loads.get(agent) === 0) agent = 1 + (agent % sc.agents.length);
    const load = loads.get(agent)! - 1;
    loads.set(agent, load);
    step(measure, () => d.setLoad(agent, load, t));
    // An arrival keeps the backlog at its size.
    const conv: ConversationInput = { id: nextId++, queue: sc.queues[pickQueue()]!.name, arrivedAt: t };
    step(measure, () => d.enqueue(conv, t));
    // Breaks: now and then an agent pauses, and one paused earlier comes back.
    if (i % 200 === 0) {
      const p = 1 + rng.int(sc.agents.length);
      step(measure, () => d.setAvailable(p, false, t));
      paused.push(p);
      if (paused.length > 20) {
        const back = paused.shift()!;
        step(measure, () => d.setAvailable(back, true, t));
      }
    }
  }
  return {
    iterations,
    decisions,
    p50Us: percentile(latencies, 50),
    p99Us: percentile(latencies, 99),
    p999Us: percentile(latencies, 99.9),
    meanUsPerDecision: decisions ? (busyMs * 1000) / decisions : NaN,
    decisionsPerSec: busyMs ? decisions / (busyMs / 1000) : 0,
  };
}

/**
 * The least a scanning router pays per decision: exactly one free agent (kept so: an agent
 * that finds nothing goes back to full), one pass over all agents and all waiting conversations.
 * The workload above lets agents with nothing to take stay free, and the naive router rescans
 * for each of them on every decision; this floor leaves that out.
 */
function naiveFloorUs(sc: Scenario, weights: number[], seed: number, samples: number): number {
  const rng = new SeededRandom(seed);
  const total = weights.reduce((a, b) => a + b, 0);
  const pickQueue = () => {
    let u = rng.next() * total;
    for (let i = 0; i < weights.length; i++) if ((u -= weights[i]!) < 0) return i;
    return weights.length - 1;
  };
  const naive = new NaiveRouter(sc.queues, seed);
  const d = naiveDriver(naive);
  const loads = new Map<number, number>();
  setup(d, sc, rng, loads, pickQueue);
  const times: number[] = [];
  let t = T0;
  for (let i = 0; i < samples + 5; i++) {
    t += STEP_MS;
    const agent = 1 + rng.int(sc.agents.length);
    const cap = loads.get(agent)!;
    const a = performance.now();
    d.setLoad(agent, cap - 1, t);
    const offers = d.decide(t);
    const b = performance.now();
    for (const o of offers) d.accept(o.conversationId, o.agentId, t);
    if (offers.length === 0) d.setLoad(agent, cap, t);
    else if (i >= 5) times.push((b - a) * 1000);
  }
  return times.reduce((x, y) => x + y, 0) / times.length;
}

export interface LatencyResult {
  engine: RunFigures;
  naive: RunFigures;
  /** Naive mean time per decision over the engine's: how many times faster the index is. */
  ratio: number;
  /** The naive router's cost with exactly one free agent, and the ratio to the engine's mean. */
  naiveFloorUs: number;
  floorRatio: number;
  heapDeltaMb: number | null;
  bytesPerWaiting: number | null;
  index: ReturnType<RoutingEngine['stats']>;
}

/** Measures the engine and the baseline at XL. `quick` shortens both runs. */
export function measureXl(opts: { quick: boolean; seed: number; log: (line: string) => void }): LatencyResult {
  const sc = buildScenario('XL', { seed: opts.seed });
  const weights = queueWeights(sc);
  const gc = (globalThis as { gc?: () => void }).gc;
  const engine = new RoutingEngine({ queues: sc.queues, seed: opts.seed });
  let heapBefore = 0;
  let heapDeltaMb: number | null = null;
  gc?.();
  heapBefore = process.memoryUsage().heapUsed;
  const engineIters = opts.quick ? 15_000 : 60_000;
  opts.log(`engine: XL loaded, ${engineIters} iterations…`);
  const engineFigures = runWorkload(engineDriver(engine), sc, weights, opts.seed, 5_000, engineIters, () => {
    if (gc) {
      gc();
      heapDeltaMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    }
  });
  const index = engine.stats();
  const naiveIters = opts.quick ? 60 : 300;
  opts.log(`naive baseline: ${naiveIters} iterations…`);
  const naiveFigures = runWorkload(naiveDriver(new NaiveRouter(sc.queues, opts.seed)), sc, weights, opts.seed, 20, naiveIters);
  opts.log('naive floor (one free agent)…');
  const floor = naiveFloorUs(sc, weights, opts.seed, opts.quick ? 20 : 60);
  return {
    engine: engineFigures,
    naive: naiveFigures,
    ratio: naiveFigures.meanUsPerDecision / engineFigures.meanUsPerDecision,
    naiveFloorUs: floor,
    floorRatio: floor / engineFigures.meanUsPerDecision,
    heapDeltaMb,
    bytesPerWaiting: heapDeltaMb === null ? null : (heapDeltaMb * 2 ** 20) / sc.backlog,
    index,
  };
}
