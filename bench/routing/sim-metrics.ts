/**
 * What the simulator measures, and how it is summed up: SLA %, waits, occupancy, fairness
 * (Jain's index), relaxation share, sticky hits, re-offers.
 */
import { percentile } from '../lib/report.js';

/** One customer message waiting for an agent (a reply reopening a conversation is a new episode). */
export interface Episode {
  convId: number;
  queue: number;
  arrivedAt: number;
  slaMs: number;
  /** Counted in SLA and waits (arrived during the run, not part of the initial backlog). */
  counted: boolean;
  lastAgentId: number | null;
  offers: number;
  /** Set by the winning offer or assignment. */
  servedAt: number | null;
  servedBy: number | null;
  step: number;
  sticky: boolean;
}

/** Per-agent time accounting, integrated at every change. */
export interface AgentClock {
  capacity: number;
  loggedIn: boolean;
  load: number;
  lastAt: number;
  loggedInMs: number;
  busySlotMs: number;
  handled: number;
}

export function advanceClock(c: AgentClock, now: number): void {
  const dt = now - c.lastAt;
  if (dt > 0) {
    if (c.loggedIn) c.loggedInMs += dt;
    c.busySlotMs += c.load * dt;
  }
  c.lastAt = now;
}

/** One row of the simulation table. */
export interface SimSummary {
  scenario: string;
  load: string;
  policy: string;
  arrivals: number;
  served: number;
  unservedAtEnd: number;
  slaPct: number;
  waitP50S: number;
  waitP95S: number;
  waitMaxS: number;
  occupancyPct: number;
  fairnessJain: number;
  relaxedPct: number;
  stickyHitPct: number;
  replies: number;
  reoffersPer100: number;
  notRespondingPauses: number;
  backlogClearedMin: number | null;
  decisions: number;
  engineMs: number;
  wallMs: number;
}

/** Jain's fairness index: (Σx)² / (n Σx²); 1 when every agent got the same. */
export function jain(xs: number[]): number {
  if (xs.length === 0) return 1;
  const sum = xs.reduce((a, b) => a + b, 0);
  const sq = xs.reduce((a, b) => a + b * b, 0);
  return sq === 0 ? 1 : (sum * sum) / (xs.length * sq);
}

const r1 = (v: number) => Math.round(v * 10) / 10;

/** Sums up a finished run. */
export function summarize(
  base: Pick<SimSummary, 'scenario' | 'load' | 'policy' | 'notRespondingPauses' | 'backlogClearedMin' | 'decisions' | 'engineMs' | 'wallMs'>,
  episodes: Iterable<Episode>,
  clocks: AgentClock[],
  end: number,
): SimSummary {
  const waits: number[] = [];
  let arrivals = 0;
  let slaMet = 0;
  let served = 0;
  let unserved = 0;
  let relaxed = 0;
  let replies = 0;
  let stickyHits = 0;
  let offers = 0;
  let offeredEpisodes = 0;
  for (const e of episodes) {
    offers += e.offers;
    if (e.offers > 0) offeredEpisodes++;
    if (!e.counted) continue;
    arrivals++;
    if (e.servedAt === null) {
      unserved++;
      continue;
    }
    served++;
    const wait = e.servedAt - e.arrivedAt;
    waits.push(wait / 1000);
    if (wait <= e.slaMs) slaMet++;
    if (e.step > 0 && !e.sticky) relaxed++;
    if (e.lastAgentId !== null) {
      replies++;
      if (e.servedBy === e.lastAgentId) stickyHits++;
    }
  }
  for (const c of clocks) advanceClock(c, end);
  const present = clocks.filter((c) => c.loggedInMs > 0);
  const busy = present.reduce((a, c) => a + c.busySlotMs, 0);
  const staffed = present.reduce((a, c) => a + c.capacity * c.loggedInMs, 0);
  return {
    ...base,
    arrivals,
    served,
    unservedAtEnd: unserved,
    slaPct: arrivals ? r1((100 * slaMet) / arrivals) : 100,
    waitP50S: r1(percentile(waits, 50) || 0),
    waitP95S: r1(percentile(waits, 95) || 0),
    waitMaxS: r1(waits.reduce((a, b) => Math.max(a, b), 0)),
    occupancyPct: staffed ? r1((100 * busy) / staffed) : 0,
    // Handled per logged-in hour, so shift lengths do not count as unfairness.
    fairnessJain: Math.round(jain(present.map((c) => c.handled / (c.loggedInMs / 3_600_000))) * 1000) / 1000,
    relaxedPct: served ? r1((100 * relaxed) / served) : 0,
    stickyHitPct: replies ? r1((100 * stickyHits) / replies) : 0,
    replies,
    reoffersPer100: served ? r1((100 * (offers - offeredEpisodes)) / served) : 0,
  };
}
