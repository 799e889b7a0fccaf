/**
 * The simulator's contact centers: queues with their routing config, and agents. Built from a
 * seed, so a scenario is the same on every run. Arrival volumes are not given per queue: they
 * follow from the agents (see `queueWeights`), so every load level is feasible by construction.
 */
import { ROUTING_DEFAULTS, type RoutingSpec } from '../../src/config/schema.js';
import type { LevelMap } from '../../src/domain/types.js';
import { SeededRandom } from '../../src/routing/seeded-random.js';
import { checkRequirementSet, requirementAt, toQualifications } from '../../src/routing/requirement-model.js';
import type { QueuePolicy, RoutingPolicy } from '../../src/routing/routing-types.js';

export const SCENARIO_NAMES = ['S', 'M', 'L', 'XL'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface SimAgent {
  id: number;
  login: string;
  group: string;
  skills: LevelMap;
  languages: LevelMap;
  capacity: number;
}

export interface Scenario {
  name: ScenarioName;
  description: string;
  queues: QueuePolicy[];
  agents: SimAgent[];
  /** Length of the arrival window; the run continues a quarter longer to drain. */
  hours: number;
  /** Conversations already waiting at the start (XL: the Monday-morning backlog). */
  backlog: number;
}

export interface ScenarioOptions {
  seed: number;
  /** Overrides every queue's `routing.policy` (the admin's "try a policy"). */
  policy?: RoutingPolicy;
  /** Shorter runs for `--quick`. */
  quick?: boolean;
}

function queue(name: string, skills: LevelMap, language: string | null, slaMinutes: number, priority: number, routing: Partial<RoutingSpec>): QueuePolicy {
  return { name, skills, language, priority, slaMinutes, routing: { ...ROUTING_DEFAULTS, ...routing } };
}

function agentsOf(group: string, count: number, firstId: number, skills: LevelMap, languages: LevelMap, capacity: number): SimAgent[] {
  return Array.from({ length: count }, (_, i) => ({ id: firstId + i, login: `${group}-${i + 1}`, group, skills, languages, capacity }));
}

/** S: one queue, ten agents, no skills: the single-skill M/G/10 baseline. */
function small(): Omit<Scenario, 'hours'> {
  return {
    name: 'S',
    description: '1 queue, 10 agents (capacity 1), no skills or languages',
    queues: [queue('support', {}, null, 5, 5, {})],
    agents: agentsOf('agent', 10, 1, {}, {}, 1),
    backlog: 0,
  };
}

/**
 * M: two skills in a chain (A-only, A+B, B-only agents), the classic "chaining" design of
 * multi-skill call centers; after 3 min each queue also takes agents qualified for the other.
 */
function medium(): Omit<Scenario, 'hours'> {
  const relax = (other: string) => ({ relax: [{ after_s: 180, add_queues: [other] }] });
  return {
    name: 'M',
    description: '2 queues (skills a, b), 3 chained groups: 8 a-only, 8 a+b, 8 b-only (capacity 1); overflow to the other queue after 3 min',
    queues: [queue('qa', { a: 5 }, null, 5, 6, relax('qb')), queue('qb', { b: 5 }, null, 5, 5, relax('qa'))],
    agents: [...agentsOf('a', 8, 1, { a: 7 }, {}, 1), ...agentsOf('ab', 8, 9, { a: 5, b: 5 }, {}, 1), ...agentsOf('b', 8, 17, { b: 7 }, {}, 1)],
    backlog: 0,
  };
}

/**
 * L: 65 conversation types × 89 agent groups, the size of the real center in Cezik & L'Ecuyer
 * (Management Science 54(2), 2008). Their skill matrix is not public; approximated here by a
 * seeded sparse matrix: each group covers 1–6 types (six generalist groups 8–12), every type at least two qualified
 * groups, group sizes 1–10,
 * levels 3–9 against a minimum of 5 that relaxes to 1 after 2 min, type priorities 3–7.
 */
function large(rng: SeededRandom): Omit<Scenario, 'hours'> {
  const types = Array.from({ length: 65 }, (_, i) => `t${String(i + 1).padStart(2, '0')}`);
  const queues = types.map((t) => queue(t, { [t]: 5 }, null, 5, 3 + rng.int(5), { relax: [{ after_s: 120, skills: { [t]: 1 } }] }));
  const agents: SimAgent[] = [];
  const coverage = new Map<string, number>(types.map((t) => [t, 0]));
  for (let g = 0; g < 89; g++) {
    const n = g < 6 ? 8 + rng.int(5) : 1 + rng.int(6);
    const skills: LevelMap = {};
    // Every type gets at least two qualified groups (so one group's break does not strand it),
    // then the rest of the matrix is drawn at random.
    const thin = types.filter((t) => coverage.get(t)! < 2);
    if (thin.length) skills[rng.pick(thin)] = 5 + rng.int(5);
    while (Object.keys(skills).length < n) skills[rng.pick(types)] = 3 + rng.int(7);
    for (const [t, level] of Object.entries(skills)) if (level >= 5) coverage.set(t, coverage.get(t)! + 1);
    agents.push(...agentsOf(`g${String(g + 1).padStart(2, '0')}`, 1 + rng.int(10), agents.length + 1, skills, {}, 1));
  }
  return { name: 'L', description: `65 types × 89 groups (Cezik & L'Ecuyer size, seeded sparse skill matrix), ${agents.length} agents (capacity 1); skill minimum 5 relaxed to 1 after 2 min`, queues, agents, backlog: 0 };
}

const LANGS = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt', 'pl'];
const LANG_WEIGHTS = [0.4, 0.15, 0.12, 0.1, 0.08, 0.06, 0.05, 0.04];

function pickWeighted(rng: SeededRandom, weights: number[]): number {
  let u = rng.next();
  for (let i = 0; i < weights.length; i++) if ((u -= weights[i]!) < 0) return i;
  return weights.length - 1;
}

/**
 * XL: 1,000 agents (capacity 3), 200 queues over 50 skills and 8 languages, and 10,000
 * conversations already waiting at the start. Each queue is drawn from an agent's profile
 * (1–2 of their skills, their main language) so it has someone qualified; relaxation lowers
 * the skill minimums after 5 min, drops the language after 15, adds the sibling queue after 30.
 */
function extraLarge(rng: SeededRandom): Omit<Scenario, 'hours'> {
  const skillNames = Array.from({ length: 50 }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);
  const agents: SimAgent[] = [];
  for (let i = 0; i < 1000; i++) {
    const skills: LevelMap = {};
    const n = 4 + rng.int(5);
    while (Object.keys(skills).length < n) skills[rng.pick(skillNames)] = 1 + rng.int(9);
    const languages: LevelMap = { [LANGS[pickWeighted(rng, LANG_WEIGHTS)]!]: 10 };
    if (rng.next() < 0.5) languages[LANGS[pickWeighted(rng, LANG_WEIGHTS)]!] = 5 + rng.int(5);
    agents.push({ id: i + 1, login: `agent-${i + 1}`, group: 'xl', skills, languages, capacity: 3 });
  }
  const queues: QueuePolicy[] = [];
  for (let q = 0; q < 200; q++) {
    const model = rng.pick(agents);
    const own = Object.entries(model.skills);
    const skills: LevelMap = {};
    for (let k = 1 + rng.int(2); k > 0 && own.length; k--) {
      const [s, level] = own.splice(rng.int(own.length), 1)[0]!;
      skills[s] = Math.max(1, level - rng.int(3));
    }
    const sibling = `q${String(q % 2 === 0 ? q + 2 : q).padStart(3, '0')}`;
    queues.push(
      queue(`q${String(q + 1).padStart(3, '0')}`, skills, Object.keys(model.languages)[0]!, 30, 1 + rng.int(10), {
        relax: [
          { after_s: 300, skills: Object.fromEntries(Object.keys(skills).map((s) => [s, 1])) },
          { after_s: 900, drop_language: true },
          { after_s: 1800, add_queues: [sibling] },
        ],
      }),
    );
  }
  return { name: 'XL', description: '1,000 agents (capacity 3), 200 queues, 50 skills, 8 languages, 10,000 waiting at start', queues, agents, backlog: 10_000 };
}

/** Builds a scenario deterministically from its name and seed. */
export function buildScenario(name: ScenarioName, opts: ScenarioOptions): Scenario {
  const rng = new SeededRandom(opts.seed * 7919 + name.length);
  const base = name === 'S' ? small() : name === 'M' ? medium() : name === 'L' ? large(rng) : extraLarge(rng);
  const hours = (opts.quick ? { S: 6, M: 6, L: 2, XL: 1 } : { S: 24, M: 24, L: 8, XL: 2 })[name];
  const queues = opts.policy ? base.queues.map((q) => ({ ...q, routing: { ...q.routing, policy: opts.policy! } })) : base.queues;
  return { ...base, queues, hours, backlog: opts.quick ? Math.round(base.backlog / 4) : base.backlog };
}

/**
 * Relative arrival volume per queue: each agent spreads its capacity evenly over the queues it
 * qualifies for at the earliest relaxation step where it qualifies for any (the base
 * requirement for most). A load of ρ < 1 then has a feasible split of work, counting every
 * agent, including those who only help once requirements relax.
 */
export function queueWeights(scenario: Scenario): number[] {
  const lookup = new Map(scenario.queues.map((q) => [q.name, q]));
  const maxSteps = Math.max(...scenario.queues.map((q) => q.routing.relax.length));
  const byStep = Array.from({ length: maxSteps + 1 }, (_, step) =>
    scenario.queues.map((q) => requirementAt(q, q.skills, q.language, Math.min(step, q.routing.relax.length), (n) => lookup.get(n))),
  );
  const weights = scenario.queues.map(() => 0);
  for (const a of scenario.agents) {
    const quals = toQualifications(a.skills, a.languages);
    for (const alts of byStep) {
      const ok = alts.map((r, i) => (checkRequirementSet(quals, r) === null ? i : -1)).filter((i) => i >= 0);
      if (ok.length === 0) continue;
      for (const i of ok) weights[i]! += a.capacity / ok.length;
      break;
    }
  }
  return weights;
}
