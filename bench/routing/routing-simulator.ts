/**
 * A discrete-event simulation of a contact center driving the real routing engine: Poisson
 * arrivals per queue, lognormal handle times (mean 6 min, CV 1), agent shifts and breaks,
 * agents who accept, decline or miss offers, and customers who reply to the agent who answered.
 * Time is simulated (no timers, no wall clock in the model), so a run is exact and repeatable:
 * the same scenario, load and seed give the same table.
 */
import { performance } from 'node:perf_hooks';
import { RoutingEngine } from '../../src/routing/routing-engine.js';
import type { DecideResult } from '../../src/routing/routing-types.js';
import { SeededRandom } from '../../src/routing/seeded-random.js';
import { TimerHeap } from '../../src/routing/timer-heap.js';
import { advanceClock, summarize, type AgentClock, type Episode, type SimSummary } from './sim-metrics.js';
import { queueWeights, type Scenario } from './sim-scenarios.js';

const MIN = 60_000;
const MEAN_HANDLE_MS = 6 * MIN;
const HANDLE_CV = 1;
const REPLY_PROBABILITY = 0.25;
const REPLY_MEAN_MS = 20 * MIN;
const MISS_PROBABILITY = 0.01;
/** A few agents (2 %) often miss offers: they show the not-responding pause at work. */
const ABSENT_SHARE = 0.02;
const ABSENT_MISS_PROBABILITY = 0.4;
const DECLINE_PROBABILITY = 0.02;
const BREAK_MS = 15 * MIN;
/** How long an agent paused as not-responding takes to notice and come back. */
const RETURN_MS = 5 * MIN;

export interface SimOptions {
  scenario: Scenario;
  /** Offered load over available capacity during the arrival window (ρ). */
  utilisation: number;
  /** ρ during the middle third of the window instead (the burst row). */
  burst?: number;
  seed: number;
  loadLabel?: string;
}

type SimEvent =
  | { kind: 'arrival' }
  | { kind: 'done'; agent: number }
  | { kind: 'reply'; conv: number; queue: number; lastAgent: number; lastAt: number }
  | { kind: 'respond'; agent: number; conv: number; accept: boolean }
  | { kind: 'shift'; agent: number; on: boolean }
  | { kind: 'break'; agent: number; on: boolean }
  | { kind: 'return'; agent: number };

interface AgentSim {
  missProbability: number;
  onShift: boolean;
  onBreak: boolean;
  notResponding: boolean;
  clock: AgentClock;
}

/** Runs one simulation and sums it up. */
export function simulate(opts: SimOptions): SimSummary {
  const wallStart = performance.now();
  const { scenario } = opts;
  const rng = new SeededRandom(opts.seed);
  const H = scenario.hours * 60 * MIN;
  const end = H * 1.25;
  const engine = new RoutingEngine({ queues: scenario.queues, seed: opts.seed });
  const events = new TimerHeap<SimEvent>();
  const agents = new Map<number, AgentSim>();
  const episodes = new Map<number, Episode>();
  const finished: Episode[] = [];
  let engineMs = 0;
  let decisions = 0;
  let pauses = 0;
  let backlogLeft = 0;
  let backlogClearedAt: number | null = null;
  const timed = <T>(f: () => T): T => {
    const t0 = performance.now();
    const r = f();
    engineMs += performance.now() - t0;
    return r;
  };

  // Shifts: 70 % work the whole run, 15 % leave at 3/4 of the window, 15 % join at 1/4; each
  // takes a 15-minute break per full 4 hours of shift, spread over the shift.
  let capacityMs = 0;
  const inWindow = (x: number, y: number) => Math.max(0, Math.min(y, H) - Math.max(x, 0));
  for (const a of scenario.agents) {
    const u = rng.next();
    const [from, to] = u < 0.7 ? [0, end] : u < 0.85 ? [0, 0.75 * H] : [0.25 * H, end];
    events.schedule(from, { kind: 'shift', agent: a.id, on: true });
    events.schedule(to, { kind: 'shift', agent: a.id, on: false });
    capacityMs += a.capacity * inWindow(from, to);
    const breaks = Math.floor((to - from) / (4 * 60 * MIN));
    for (let k = 0; k < breaks; k++) {
      const breakAt = from + ((to - from) * (k + 0.25 + 0.5 * rng.next())) / breaks;
      events.schedule(breakAt, { kind: 'break', agent: a.id, on: true });
      events.schedule(breakAt + BREAK_MS, { kind: 'break', agent: a.id, on: false });
      capacityMs -= a.capacity * inWindow(breakAt, breakAt + BREAK_MS);
    }
    const missProbability = rng.next() < ABSENT_SHARE ? ABSENT_MISS_PROBABILITY : MISS_PROBABILITY;
    agents.set(a.id, { missProbability, onShift: false, onBreak: false, notResponding: false, clock: { capacity: a.capacity, loggedIn: false, load: 0, lastAt: 0, loggedInMs: 0, busySlotMs: 0, handled: 0 } });
    engine.upsertAgent({ id: a.id, login: a.login, skills: a.skills, languages: a.languages, capacity: a.capacity, state: 'offline', load: 0, idleSince: 0 }, 0);
  }

  // Arrival rate for the target load: λ = ρ × average available slots / mean handle time, less
  // the share that customer replies add (each message brings 1/(1 − p) episodes in all).
  const weights = queueWeights(scenario);
  const cumulative: number[] = [];
  weights.reduce((acc, w, i) => (cumulative[i] = acc + w), 0);
  const totalWeight = cumulative[cumulative.length - 1]!;
  const baseRate = (capacityMs / H / MEAN_HANDLE_MS) * (1 - REPLY_PROBABILITY);
  const rhoAt = (t: number) => (opts.burst !== undefined && t >= H / 3 && t < (2 * H) / 3 ? opts.burst : opts.utilisation);
  const pickQueue = () => {
    const u = rng.next() * totalWeight;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  // Superposed Poisson streams, split by queue weight; redrawn at rate changes (memoryless).
  const scheduleArrival = (t: number) => {
    for (;;) {
      const boundary = opts.burst === undefined ? H : t < H / 3 ? H / 3 : t < (2 * H) / 3 ? (2 * H) / 3 : H;
      const next = t + rng.exponential(1 / (rhoAt(t) * baseRate));
      if (next < boundary) return events.schedule(next, { kind: 'arrival' });
      if (boundary >= H) return;
      t = boundary;
    }
  };

  let nextConv = 1;
  const enqueue = (e: Episode, now: number, lastAgentAt: number | null = null) => {
    episodes.set(e.convId, e);
    const q = scenario.queues[e.queue]!;
    timed(() => engine.enqueue({ id: e.convId, queue: q.name, arrivedAt: e.arrivedAt, lastAgentId: e.lastAgentId, lastAgentAt, lastAgentQueue: q.name }, now));
  };
  for (let i = 0; i < scenario.backlog; i++) {
    const queue = pickQueue();
    backlogLeft++;
    enqueue({ convId: nextConv++, queue, arrivedAt: -20 * MIN * rng.next(), slaMs: scenario.queues[queue]!.slaMinutes * MIN, counted: false, lastAgentId: null, offers: 0, servedAt: null, servedBy: null, step: 0, sticky: false }, 0);
  }
  scheduleArrival(0);

  const syncState = (id: number, now: number) => {
    const a = agents.get(id)!;
    const state = !a.onShift ? 'offline' : a.onBreak ? 'paused' : a.notResponding ? 'paused' : 'available';
    advanceClock(a.clock, Math.min(now, H));
    a.clock.loggedIn = a.onShift;
    timed(() => engine.setAgentState(id, state, a.onBreak ? 'break' : a.notResponding ? 'not-responding' : null, now));
  };
  const startHandling = (agentId: number, convId: number, now: number) => {
    const e = episodes.get(convId)!;
    episodes.delete(convId);
    e.servedAt = now;
    e.servedBy = agentId;
    finished.push(e);
    if (!e.counted && --backlogLeft === 0) backlogClearedAt = now;
    const clock = agents.get(agentId)!.clock;
    advanceClock(clock, Math.min(now, H));
    clock.load++;
    const doneAt = now + rng.lognormal(MEAN_HANDLE_MS, HANDLE_CV);
    events.schedule(doneAt, { kind: 'done', agent: agentId });
    if (rng.next() < REPLY_PROBABILITY) {
      // The agent's answer goes out when handling ends; the customer replies some time after.
      const at = doneAt + rng.exponential(REPLY_MEAN_MS);
      if (at < H) events.schedule(at, { kind: 'reply', conv: convId, queue: e.queue, lastAgent: agentId, lastAt: doneAt });
    }
  };
  const apply = (r: DecideResult, now: number) => {
    for (const o of r.offers) {
      decisions++;
      const e = episodes.get(o.conversationId)!;
      e.offers++;
      e.step = o.audit.step;
      e.sticky = o.audit.sticky;
      for (const agentId of o.agentIds) {
        const u = rng.next();
        const miss = agents.get(agentId)!.missProbability;
        if (u < miss) continue;
        const accept = u >= miss + DECLINE_PROBABILITY;
        events.schedule(now + (accept ? 2_000 + 18_000 * rng.next() : 2_000 + 8_000 * rng.next()), { kind: 'respond', agent: agentId, conv: o.conversationId, accept });
      }
    }
    for (const a of r.assignments) {
      decisions++;
      const e = episodes.get(a.conversationId)!;
      e.offers++;
      e.step = a.audit.step;
      e.sticky = a.audit.sticky;
      startHandling(a.agentId, a.conversationId, now);
    }
    for (const p of r.pauses) {
      pauses++;
      agents.get(p.agentId)!.notResponding = true;
      events.schedule(now + RETURN_MS, { kind: 'return', agent: p.agentId });
    }
  };

  const handle = (ev: SimEvent, now: number) => {
    switch (ev.kind) {
      case 'arrival': {
        const queue = pickQueue();
        enqueue({ convId: nextConv++, queue, arrivedAt: now, slaMs: scenario.queues[queue]!.slaMinutes * MIN, counted: true, lastAgentId: null, offers: 0, servedAt: null, servedBy: null, step: 0, sticky: false }, now);
        scheduleArrival(now);
        break;
      }
      case 'reply':
        enqueue({ convId: ev.conv, queue: ev.queue, arrivedAt: now, slaMs: scenario.queues[ev.queue]!.slaMinutes * MIN, counted: true, lastAgentId: ev.lastAgent, offers: 0, servedAt: null, servedBy: null, step: 0, sticky: false }, now, ev.lastAt);
        break;
      case 'done': {
        const clock = agents.get(ev.agent)!.clock;
        advanceClock(clock, Math.min(now, H));
        clock.load--;
        clock.handled++;
        timed(() => engine.setAgentLoad(ev.agent, clock.load, now));
        break;
      }
      case 'respond':
        if (ev.accept) {
          if (timed(() => engine.accept(ev.conv, ev.agent, now)).won) startHandling(ev.agent, ev.conv, now);
        } else timed(() => engine.decline(ev.conv, ev.agent, now));
        break;
      case 'shift':
        agents.get(ev.agent)!.onShift = ev.on;
        syncState(ev.agent, now);
        break;
      case 'break':
        agents.get(ev.agent)!.onBreak = ev.on;
        syncState(ev.agent, now);
        break;
      case 'return':
        agents.get(ev.agent)!.notResponding = false;
        syncState(ev.agent, now);
        break;
    }
  };

  for (;;) {
    const wake = engine.nextWakeAt();
    const nextEvent = events.nextAt();
    const t = Math.min(wake ?? Infinity, nextEvent ?? Infinity);
    if (t === Infinity || t > end) break;
    for (let ev = events.popDue(t); ev; ev = events.popDue(t)) handle(ev.payload, t);
    apply(timed(() => engine.decide(t)), t);
  }

  const loadLabel = opts.loadLabel ?? (opts.burst !== undefined ? `${opts.utilisation} + burst ${opts.burst}` : String(opts.utilisation));
  return summarize(
    {
      scenario: scenario.name,
      load: loadLabel,
      policy: [...new Set(scenario.queues.map((q) => q.routing.policy))].join('/'),
      notRespondingPauses: pauses,
      backlogClearedMin: scenario.backlog ? (backlogClearedAt === null ? null : Math.round(backlogClearedAt / MIN)) : null,
      decisions,
      engineMs: Math.round(engineMs),
      wallMs: Math.round(performance.now() - wallStart),
    },
    [...finished, ...episodes.values()],
    [...agents.values()].map((a) => a.clock),
    H,
  );
}
