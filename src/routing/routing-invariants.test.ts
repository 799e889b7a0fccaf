/**
 * Property tests of the routing invariants (issue 6, "Done when"): random queues, agents and
 * event sequences drive the engine, while an independent shadow model (plain loops, no index)
 * checks every decision: never offered to an ineligible, unavailable, full or excluded agent;
 * never two agents on one conversation; no conversation left waiting while an eligible agent
 * is free; same seed, same decisions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ROUTING_DEFAULTS, type RoutingSpec } from '../config/schema.js';
import { RoutingEngine } from './routing-engine.js';
import type { AgentInput, CancelledOffer, ConversationInput, DecideResult, QueuePolicy } from './routing-types.js';

const SKILLS = ['a', 'b', 'c'];
const LANGS = ['en', 'fr'];

const levels = fc.dictionary(fc.constantFrom(...SKILLS), fc.integer({ min: 1, max: 6 }), { maxKeys: 3 });
const language = fc.option(fc.constantFrom(...LANGS), { nil: null });

const routingArb = (names: string[]) =>
  fc.record({
    mode: fc.constantFrom('offer', 'offer', 'assign') as fc.Arbitrary<RoutingSpec['mode']>,
    policy: fc.constantFrom('longest-idle', 'least-busy', 'most-skilled', 'least-skilled', 'round-robin') as fc.Arbitrary<RoutingSpec['policy']>,
    offer_timeout_s: fc.integer({ min: 5, max: 40 }),
    max_missed_offers: fc.integer({ min: 1, max: 3 }),
    broadcast: fc.integer({ min: 1, max: 3 }),
    sticky: fc.record({ scope: fc.constantFrom('any', 'queue', 'off') as fc.Arbitrary<'any' | 'queue' | 'off'>, hours: fc.integer({ min: 0, max: 2 }), wait_s: fc.integer({ min: 0, max: 30 }) }),
    relax: fc
      .array(
        fc.record({
          gap: fc.integer({ min: 0, max: 40 }),
          skills: fc.option(fc.dictionary(fc.constantFrom(...SKILLS), fc.integer({ min: 1, max: 3 }), { maxKeys: 2 }), { nil: undefined }),
          drop_language: fc.option(fc.boolean(), { nil: undefined }),
          add_queues: fc.option(fc.subarray(names, { maxLength: Math.min(2, names.length) }), { nil: undefined }),
        }),
        { maxLength: 3 },
      )
      .map((steps) => {
        let at = 0;
        return steps.map(({ gap, ...s }) => ({ after_s: (at += gap), ...s }));
      }),
  }) as fc.Arbitrary<RoutingSpec>;

const scenarioArb = fc.integer({ min: 1, max: 3 }).chain((nq) => {
  const names = Array.from({ length: nq }, (_, i) => `q${i}`);
  return fc.record({
    seed: fc.integer(),
    queues: fc.tuple(...names.map((name) => fc.record({ name: fc.constant(name), skills: levels, language, priority: fc.integer({ min: 1, max: 10 }), slaMinutes: fc.integer({ min: 1, max: 10 }), routing: routingArb(names) }))),
    agents: fc.array(
      fc.record({ skills: levels, languages: fc.dictionary(fc.constantFrom(...LANGS), fc.integer({ min: 1, max: 10 }), { maxKeys: 2 }), capacity: fc.integer({ min: 1, max: 3 }), state: fc.constantFrom('available', 'available', 'paused', 'offline') as fc.Arbitrary<AgentInput['state']>, load: fc.integer({ min: 0, max: 1 }) }),
      { minLength: 1, maxLength: 6 },
    ),
    commands: fc.array(
      fc.oneof(
        { weight: 4, arbitrary: fc.record({ t: fc.constant('enqueue' as const), q: fc.nat(), lang: fc.option(language, { nil: undefined }), prio: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }), last: fc.option(fc.record({ agent: fc.nat(), ago: fc.integer({ min: 0, max: 3 * 3600 }), inQueue: fc.option(fc.nat(), { nil: null }) }), { nil: undefined }) }) },
        { weight: 4, arbitrary: fc.record({ t: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 45_000 }) }) },
        { weight: 3, arbitrary: fc.record({ t: fc.constantFrom('accept' as const, 'decline' as const), pick: fc.nat() }) },
        { weight: 2, arbitrary: fc.record({ t: fc.constant('state' as const), agent: fc.nat(), state: fc.constantFrom('available', 'paused', 'offline') as fc.Arbitrary<AgentInput['state']> }) },
        { weight: 2, arbitrary: fc.record({ t: fc.constant('load' as const), agent: fc.nat(), load: fc.integer({ min: 0, max: 2 }) }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant('skills' as const), agent: fc.nat(), skills: levels }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant('remove' as const), pick: fc.nat() }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant('transfer' as const), pick: fc.nat(), q: fc.nat() }) },
      ),
      { minLength: 5, maxLength: 50 },
    ),
  });
});
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

interface ShadowAgent {
  id: number;
  skills: Record<string, number>;
  languages: Record<string, number>;
  capacity: number;
  state: AgentInput['state'];
  load: number;
  pending: Map<number, number>;
}
interface ShadowConv extends ConversationInput {
  excludedSet: Set<number>;
  pending: Map<number, number>;
}

/** Plain re-statement of the relaxation rules, for the shadow's eligibility check. */
function eligible(a: ShadowAgent, c: ShadowConv, q: QueuePolicy, queues: Map<string, QueuePolicy>, now: number): boolean {
  const skills: Record<string, number> = { ...(c.skills ?? q.skills) };
  let lang = c.language === undefined ? q.language : c.language;
  const added: string[] = [];
  for (const step of q.routing.relax) {
    if (c.arrivedAt + step.after_s * 1000 > now) break;
    for (const [s, l] of Object.entries(step.skills ?? {})) if (s in skills && l < skills[s]!) skills[s] = l;
    if (step.drop_language) lang = null;
    added.push(...(step.add_queues ?? []));
  }
  const meets = (req: Record<string, number>) => Object.entries(req).every(([s, l]) => (a.skills[s] ?? 0) >= l) && (lang === null || lang in a.languages);
  return meets(skills) || added.some((n) => n !== q.name && queues.has(n) && meets(queues.get(n)!.skills));
}

/** The last agent stickiness sends `c` to, if any (availability aside). */
function stickyAgent(c: ShadowConv, q: QueuePolicy, agents: ShadowAgent[], queues: Map<string, QueuePolicy>, now: number): ShadowAgent | undefined {
  const st = q.routing.sticky;
  if (st.scope === 'off' || c.lastAgentId == null || c.lastAgentAt == null) return undefined;
  if (c.arrivedAt - c.lastAgentAt > st.hours * 3_600_000) return undefined;
  const s = agents.find((a) => a.id === c.lastAgentId);
  if (!s || c.excludedSet.has(s.id)) return undefined;
  if (st.scope === 'queue' && ((c.lastAgentQueue != null && c.lastAgentQueue !== q.name) || !eligible(s, c, q, queues, now))) return undefined;
  return s;
}

/** Runs a scenario, checking every invariant; returns the log of outputs for the determinism check. */
function run(sc: Scenario): unknown[] {
  const queues = new Map<string, QueuePolicy>(sc.queues.map((q) => [q.name, { ...q, routing: { ...ROUTING_DEFAULTS, ...q.routing } }]));
  const qlist = [...queues.values()];
  const e = new RoutingEngine({ queues: qlist, seed: sc.seed });
  let now = 1_000_000;
  const agents: ShadowAgent[] = sc.agents.map((a, i) => ({ id: i + 1, ...a, pending: new Map() }));
  for (const a of agents) e.upsertAgent({ id: a.id, login: `a${a.id}`, skills: a.skills, languages: a.languages, capacity: a.capacity, state: a.state, pauseReason: a.state === 'paused' ? 'break' : null, load: a.load, idleSince: 0 }, now);
  const convs = new Map<number, ShadowConv>();
  const log: unknown[] = [];
  let nextConv = 1;
  const agentOf = (id: number) => agents.find((a) => a.id === id)!;
  const pendingList = () => [...convs.values()].flatMap((c) => [...c.pending.keys()].map((agentId) => ({ c, agentId })));
  const applyCancelled = (list: CancelledOffer[]) => {
    for (const x of list) {
      const c = convs.get(x.conversationId);
      expect(c?.pending.has(x.agentId), `cancelled offer ${x.conversationId}→${x.agentId} was pending`).toBe(true);
      c!.pending.delete(x.agentId);
      agentOf(x.agentId).pending.delete(x.conversationId);
    }
  };
  const take = (c: ShadowConv, agentId: number) => {
    const a = agentOf(agentId);
    expect(a.state, `agent ${agentId} available`).toBe('available');
    expect(c.excludedSet.has(agentId), `agent ${agentId} not excluded from ${c.id}`).toBe(false);
  };

  const check = (r: DecideResult) => {
    log.push(r);
    for (const x of r.expired) {
      const c = convs.get(x.conversationId)!;
      expect(c.pending.get(x.agentId)).toBe(x.expiresAt);
      expect(x.expiresAt).toBeLessThanOrEqual(now);
      c.pending.delete(x.agentId);
      agentOf(x.agentId).pending.delete(c.id);
      c.excludedSet.add(x.agentId);
    }
    for (const p of r.pauses) agentOf(p.agentId).state = 'paused';
    applyCancelled(r.cancelled);
    const touched = new Set<number>();
    const routed = [...r.offers.map((o) => ({ id: o.conversationId, agentIds: o.agentIds, audit: o.audit, expiresAt: o.expiresAt })), ...r.assignments.map((a) => ({ id: a.conversationId, agentIds: [a.agentId], audit: a.audit, expiresAt: -1 }))];
    for (const o of routed) {
      const c = convs.get(o.id);
      expect(c, `conversation ${o.id} is waiting`).toBeDefined();
      const q = queues.get(c!.queue)!;
      expect(c!.pending.size, `no offer pending on ${o.id}`).toBe(0);
      expect(new Set(o.agentIds).size).toBe(o.agentIds.length);
      expect(o.agentIds.length).toBeLessThanOrEqual(q.routing.mode === 'assign' ? 1 : q.routing.broadcast);
      if (!o.audit.sticky) {
        // The audit accounts for every agent once, and its skill/language counts match the shadow.
        const counted = Object.values(o.audit.filtered).reduce((x, y) => x + y, 0);
        expect(o.audit.candidates.length + counted).toBe(agents.length);
        const unqualified = Object.entries(o.audit.filtered).filter(([k]) => k.startsWith('skill ') || k.startsWith('language ')).reduce((x, [, n]) => x + n, 0);
        expect(unqualified).toBe(agents.filter((a) => !eligible(a, c!, q, queues, now)).length);
        expect(o.audit.candidates.slice(0, o.agentIds.length).map((x) => x.agentId)).toEqual(o.agentIds);
      }
      for (const agentId of o.agentIds) {
        const a = agentOf(agentId);
        take(c!, agentId);
        if (o.audit.sticky) expect(stickyAgent(c!, q, agents, queues, now)?.id).toBe(agentId);
        else expect(eligible(a, c!, q, queues, now), `agent ${agentId} eligible for ${o.id}`).toBe(true);
        touched.add(agentId);
        if (o.expiresAt < 0) a.load++;
        else {
          a.pending.set(c!.id, o.expiresAt);
          c!.pending.set(agentId, o.expiresAt);
        }
      }
      if (o.expiresAt < 0) convs.delete(o.id);
    }
    for (const id of touched) {
      const a = agentOf(id);
      expect(a.load + a.pending.size, `agent ${id} within capacity`).toBeLessThanOrEqual(a.capacity);
    }
    // No starvation: nothing waits while a free, eligible, non-excluded agent exists, except
    // during a sticky wait for a last agent who is busy or paused.
    for (const c of convs.values()) {
      if (c.pending.size > 0) continue;
      const q = queues.get(c.queue)!;
      const s = stickyAgent(c, q, agents, queues, now);
      const free = (a: ShadowAgent) => a.state === 'available' && a.load + a.pending.size < a.capacity;
      if (s && free(s)) expect.fail(`conversation ${c.id} waits while its last agent ${s.id} is free`);
      const waitsForSticky = s !== undefined && c.arrivedAt + q.routing.sticky.wait_s * 1000 > now && s.state !== 'offline';
      if (waitsForSticky) continue;
      for (const a of agents) {
        if (free(a) && !c.excludedSet.has(a.id) && eligible(a, c, q, queues, now)) expect.fail(`conversation ${c.id} starves while agent ${a.id} is free and eligible`);
      }
    }
    const wake = e.nextWakeAt();
    if (wake !== null) expect(wake).toBeGreaterThan(now);
  };

  check(e.decide(now));
  for (const cmd of sc.commands) {
    switch (cmd.t) {
      case 'tick':
        now += cmd.dt;
        break;
      case 'enqueue': {
        const q = qlist[cmd.q % qlist.length]!;
        const input: ConversationInput = { id: nextConv++, queue: q.name, arrivedAt: now, ...(cmd.lang !== undefined ? { language: cmd.lang } : {}), ...(cmd.prio ? { priority: cmd.prio } : {}) };
        if (cmd.last) Object.assign(input, { lastAgentId: (cmd.last.agent % agents.length) + 1, lastAgentAt: now - cmd.last.ago * 1000, lastAgentQueue: cmd.last.inQueue === null ? null : qlist[cmd.last.inQueue % qlist.length]!.name });
        e.enqueue(input, now);
        convs.set(input.id, { ...input, excludedSet: new Set(), pending: new Map() });
        break;
      }
      case 'accept':
      case 'decline': {
        const list = pendingList();
        if (list.length === 0) break;
        const { c, agentId } = list[cmd.pick % list.length]!;
        if (cmd.t === 'decline') {
          expect(e.decline(c.id, agentId, now).declined).toBe(true);
          c.pending.delete(agentId);
          agentOf(agentId).pending.delete(c.id);
          c.excludedSet.add(agentId);
        } else {
          const r = e.accept(c.id, agentId, now);
          expect(r.won, 'a pending, unexpired offer wins').toBe(true);
          expect(r.cancelled.map((x) => x.agentId).sort()).toEqual([...c.pending.keys()].filter((id) => id !== agentId).sort());
          // Exactly one: every other accept on this conversation now loses.
          for (const other of c.pending.keys()) if (other !== agentId) expect(e.accept(c.id, other, now).won).toBe(false);
          for (const other of c.pending.keys()) agentOf(other).pending.delete(c.id);
          agentOf(agentId).load++;
          convs.delete(c.id);
        }
        break;
      }
      case 'state': {
        const a = agents[cmd.agent % agents.length]!;
        applyCancelled(e.setAgentState(a.id, cmd.state, cmd.state === 'paused' ? 'break' : null, now));
        a.state = cmd.state;
        if (cmd.state !== 'available') expect(a.pending.size).toBe(0);
        break;
      }
      case 'load': {
        const a = agents[cmd.agent % agents.length]!;
        e.setAgentLoad(a.id, cmd.load, now);
        a.load = cmd.load;
        break;
      }
      case 'skills': {
        const a = agents[cmd.agent % agents.length]!;
        a.skills = cmd.skills;
        applyCancelled(e.upsertAgent({ id: a.id, login: `a${a.id}`, skills: a.skills, languages: a.languages, capacity: a.capacity, state: a.state, pauseReason: a.state === 'paused' ? 'break' : null, load: a.load }, now));
        break;
      }
      case 'remove':
      case 'transfer': {
        const ids = [...convs.keys()];
        if (ids.length === 0) break;
        const c = convs.get(ids[cmd.pick % ids.length]!)!;
        if (cmd.t === 'remove') {
          applyCancelled(e.remove(c.id, now));
          convs.delete(c.id);
        } else {
          const q = qlist[cmd.q % qlist.length]!;
          const input: ConversationInput = { id: c.id, queue: q.name, arrivedAt: c.arrivedAt, excluded: [...c.excludedSet] };
          applyCancelled(e.enqueue(input, now));
          expect(c.pending.size).toBe(0);
          convs.set(c.id, { ...input, excludedSet: new Set(c.excludedSet), pending: new Map() });
        }
        break;
      }
    }
    check(e.decide(now));
  }
  return log;
}

describe('routing invariants (property)', () => {
  it('never offers to an ineligible, unavailable, full or excluded agent, never doubles up, never starves', () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        run(sc);
      }),
      { numRuns: 300 },
    );
  });

  it('same seed and same events give the same decisions', () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        expect(JSON.stringify(run(sc))).toBe(JSON.stringify(run(sc)));
      }),
      { numRuns: 60 },
    );
  });
});
