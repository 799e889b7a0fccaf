import { describe, expect, it } from 'vitest';
import { ROUTING_DEFAULTS, type RoutingSpec } from '../config/schema.js';
import type { AppError } from '../domain/errors.js';
import { RoutingEngine } from './routing-engine.js';
import type { AgentInput, QueuePolicy } from './routing-types.js';

const MIN = 60_000;

function queue(name: string, over: Partial<Omit<QueuePolicy, 'routing'>> = {}, routing: Partial<RoutingSpec> = {}): QueuePolicy {
  return { name, skills: {}, language: null, priority: 5, slaMinutes: 60, ...over, routing: { ...ROUTING_DEFAULTS, ...routing } };
}
function agent(id: number, over: Partial<AgentInput> = {}): AgentInput {
  return { id, login: `a${id}`, skills: {}, languages: {}, capacity: 1, state: 'available', load: 0, idleSince: 0, ...over };
}
/** The agent each offer or assignment went to, by conversation. */
function routed(r: ReturnType<RoutingEngine['decide']>): Record<number, number[]> {
  const out: Record<number, number[]> = {};
  for (const o of r.offers) out[o.conversationId] = o.agentIds;
  for (const a of r.assignments) out[a.conversationId] = [a.agentId];
  return out;
}

describe('work order', () => {
  it('serves higher priority first, then the longer wait', () => {
    const e = new RoutingEngine({ queues: [queue('q')], seed: 1 });
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0, priority: 5 }, 0);
    e.enqueue({ id: 2, queue: 'q', arrivedAt: 1 * MIN, priority: 8 }, MIN);
    e.enqueue({ id: 3, queue: 'q', arrivedAt: 2 * MIN, priority: 5 }, 2 * MIN);
    expect(e.decide(2 * MIN).offers).toEqual([]);
    const order: number[] = [];
    e.upsertAgent(agent(1, { capacity: 3 }), 3 * MIN);
    for (const o of e.decide(3 * MIN).offers) order.push(o.conversationId);
    expect(order).toEqual([2, 1, 3]);
  });

  it('puts the conversation closest to its SLA due time first', () => {
    const e = new RoutingEngine({ queues: [queue('q')], seed: 1 });
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0, slaDueAt: 240 * MIN }, 0);
    e.enqueue({ id: 2, queue: 'q', arrivedAt: 5 * MIN, slaDueAt: 20 * MIN }, 5 * MIN);
    e.upsertAgent(agent(1), 6 * MIN);
    expect(routed(e.decide(6 * MIN))).toEqual({ 2: [1] });
  });

  it('reports a work score of priority weight × priority + minutes waited + minutes past due', () => {
    const e = new RoutingEngine({ queues: [queue('q')], seed: 1, priorityWeight: 10, slaWeight: 1 });
    e.upsertAgent(agent(1), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0, priority: 3, slaDueAt: 30 * MIN }, 12 * MIN);
    // 10 × 3 + 12 + (12 − 30) = 24
    expect(e.decide(12 * MIN).offers[0]!.audit.workScore).toBe(24);
  });
});

describe('agent order per policy', () => {
  function pick(policy: RoutingSpec['policy'], agents: AgentInput[], seed = 1): number {
    const e = new RoutingEngine({ queues: [queue('q', { skills: { s: 2 } }, { policy })], seed });
    for (const a of agents) e.upsertAgent(a, 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 100);
    return e.decide(100).offers[0]!.agentIds[0]!;
  }
  const skilled = (id: number, s: number, over: Partial<AgentInput> = {}) => agent(id, { skills: { s }, capacity: 4, ...over });

  it('longest-idle takes the agent idle the longest', () => {
    expect(pick('longest-idle', [skilled(1, 5, { idleSince: 50 }), skilled(2, 5, { idleSince: 10 }), skilled(3, 5, { idleSince: 30 })])).toBe(2);
  });
  it('least-busy takes the lowest load ratio', () => {
    expect(pick('least-busy', [skilled(1, 5, { load: 2, idleSince: 0 }), skilled(2, 5, { load: 1, capacity: 4 }), skilled(3, 5, { load: 1, capacity: 2 })])).toBe(2);
  });
  it('most-skilled and least-skilled order by the required skill level', () => {
    const agents = [skilled(1, 5), skilled(2, 9), skilled(3, 2), skilled(4, 1)];
    expect(pick('most-skilled', agents)).toBe(2);
    // Agent 4 does not qualify (s ≥ 2): the least skilled that qualifies is 3.
    expect(pick('least-skilled', agents)).toBe(3);
  });
  it('round-robin rotates over the qualified agents', () => {
    const e = new RoutingEngine({ queues: [queue('q', {}, { policy: 'round-robin', mode: 'assign' })], seed: 3 });
    for (const id of [1, 2, 3]) e.upsertAgent(agent(id, { capacity: 10 }), 0);
    const got: number[] = [];
    for (let i = 0; i < 6; i++) {
      e.enqueue({ id: 100 + i, queue: 'q', arrivedAt: i }, i);
      got.push(e.decide(i).assignments[0]!.agentId);
    }
    expect(new Set(got.slice(0, 3)).size).toBe(3);
    expect(got.slice(3)).toEqual(got.slice(0, 3));
  });
  it('breaks exact ties with the seeded draw: the same seed always, other seeds differently', () => {
    const agents = [1, 2, 3, 4, 5, 6, 7, 8].map((id) => skilled(id, 5, { idleSince: 0 }));
    const bySeed = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => pick('longest-idle', agents, seed));
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((seed) => pick('longest-idle', agents, seed))).toEqual(bySeed);
    expect(new Set(bySeed).size).toBeGreaterThan(1);
  });
});

describe('hard filter', () => {
  it('offers only to available agents with room, the skills and the language', () => {
    const e = new RoutingEngine({ queues: [queue('q', { skills: { billing: 3 }, language: 'fr' })], seed: 1 });
    e.upsertAgent(agent(1, { skills: { billing: 9 }, languages: { fr: 5 }, state: 'paused', pauseReason: 'lunch' }), 0);
    e.upsertAgent(agent(2, { skills: { billing: 9 }, languages: { fr: 5 }, load: 1 }), 0);
    e.upsertAgent(agent(3, { skills: { billing: 2 }, languages: { fr: 5 } }), 0);
    e.upsertAgent(agent(4, { skills: { billing: 9 }, languages: { en: 5 } }), 0);
    e.upsertAgent(agent(5, { skills: { billing: 9 }, languages: { fr: 5 }, state: 'offline' }), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    expect(e.decide(0).offers).toEqual([]);
    e.upsertAgent(agent(6, { skills: { billing: 3 }, languages: { 'fr-CA': 2 } }), 1);
    const offer = e.decide(1).offers[0]!;
    expect(offer.agentIds).toEqual([6]);
    expect(offer.audit.filtered).toEqual({ paused: 1, full: 1, offline: 1, 'skill billing below 3': 1, 'language fr': 1 });
  });

  it('routes to a waiting conversation as soon as an agent frees up, becomes available or gains the skill', () => {
    const e = new RoutingEngine({ queues: [queue('q', { skills: { x: 1 } })], seed: 1 });
    e.upsertAgent(agent(1, { skills: { x: 1 }, load: 1 }), 0);
    e.upsertAgent(agent(2, { skills: { x: 1 }, state: 'paused', pauseReason: 'break' }), 0);
    e.upsertAgent(agent(3), 0);
    for (const id of [1, 2, 3]) e.enqueue({ id, queue: 'q', arrivedAt: id }, 5);
    expect(e.decide(5).offers).toEqual([]);
    e.setAgentLoad(1, 0, 10);
    expect(routed(e.decide(10))).toEqual({ 1: [1] });
    e.setAgentState(2, 'available', null, 20);
    expect(routed(e.decide(20))).toEqual({ 2: [2] });
    e.upsertAgent(agent(3, { skills: { x: 4 } }), 30);
    expect(routed(e.decide(30))).toEqual({ 3: [3] });
  });
});

describe('relaxation', () => {
  const routing: Partial<RoutingSpec> = {
    relax: [
      { after_s: 120, skills: { billing: 1 } },
      { after_s: 300, drop_language: true },
      { after_s: 600, add_queues: ['general'] },
    ],
  };
  function setup() {
    const e = new RoutingEngine({ queues: [queue('billing', { skills: { billing: 5 }, language: 'de' }, routing), queue('general', { skills: { tech: 3 } })], seed: 1 });
    e.upsertAgent(agent(1, { skills: { billing: 2 }, languages: { de: 5 } }), 0);
    e.upsertAgent(agent(2, { skills: { billing: 9 }, languages: { en: 5 } }), 0);
    e.upsertAgent(agent(3, { skills: { tech: 3 }, languages: { en: 5 } }), 0);
    return e;
  }

  it('widens the requirement at each step and says which step was in force', () => {
    for (const [at, expected, label] of [
      [119_000, undefined, ''],
      [120_000, 1, 'relax 1 (after 120 s)'],
      [300_000, 2, 'relax 2 (after 300 s)'],
    ] as const) {
      const e = setup();
      if (at >= 300_000) e.setAgentState(1, 'offline', null, 0);
      e.enqueue({ id: 1, queue: 'billing', arrivedAt: 0 }, 0);
      e.decide(0);
      const r = e.decide(at);
      expect(r.offers[0]?.agentIds[0]).toBe(expected);
      if (expected) expect(r.offers[0]!.audit.stepLabel).toBe(label);
    }
    const e = setup();
    e.setAgentState(1, 'offline', null, 0);
    e.setAgentState(2, 'offline', null, 0);
    e.enqueue({ id: 1, queue: 'billing', arrivedAt: 0 }, 0);
    expect(e.nextWakeAt()).toBe(0);
    e.decide(0);
    expect(e.nextWakeAt()).toBe(120_000);
    expect(e.decide(599_999).offers).toEqual([]);
    const r = e.decide(600_000);
    expect(r.offers[0]!.agentIds).toEqual([3]);
    expect(r.offers[0]!.audit.requirement).toBe('billing≥1 | queue general (tech≥3)');
    expect(e.nextWakeAt()).toBe(600_000 + 120_000);
  });

  it('keeps the conversation’s place: an older relaxed conversation goes before a newer one', () => {
    const e = setup();
    e.setAgentState(2, 'offline', null, 0);
    e.upsertAgent(agent(1, { skills: { billing: 2 }, languages: { de: 5 }, load: 1 }), 0);
    e.enqueue({ id: 1, queue: 'billing', arrivedAt: 0 }, 0);
    e.enqueue({ id: 2, queue: 'billing', arrivedAt: 100_000 }, 100_000);
    e.decide(300_000);
    e.setAgentLoad(1, 0, 300_000);
    expect(routed(e.decide(300_000))).toEqual({ 1: [1] });
  });
});

describe('queues at runtime', () => {
  it('applies a changed requirement to waiting conversations and refuses unknown queues', () => {
    const e = new RoutingEngine({ queues: [queue('q', { skills: { x: 5 } })], seed: 1 });
    e.upsertAgent(agent(1, { skills: { x: 3 } }), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    expect(e.decide(0).offers).toEqual([]);
    e.setQueue(queue('q', { skills: { x: 3 } }), 10);
    expect(routed(e.decide(10))).toEqual({ 1: [1] });
    expect(() => e.enqueue({ id: 2, queue: 'nope', arrivedAt: 0 }, 10)).toThrow(expect.objectContaining({ code: 'ROUTING_UNKNOWN_QUEUE' }) as unknown as AppError);
  });

  it('removing a queue forgets its conversations and withdraws their offers', () => {
    const e = new RoutingEngine({ queues: [queue('q'), queue('r')], seed: 1 });
    e.upsertAgent(agent(1), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    e.enqueue({ id: 2, queue: 'q', arrivedAt: 1 }, 0);
    e.decide(0);
    const r = e.removeQueue('q', 5);
    expect(r.removedConversations.sort()).toEqual([1, 2]);
    expect(r.cancelled).toEqual([{ conversationId: 1, agentId: 1, reason: 'queue-removed' }]);
    expect(e.agent(1)!.free).toBe(true);
    expect(e.conversation(2)).toBeUndefined();
  });
});

describe('agents and queues at runtime', () => {
  it('removing an agent withdraws their offers and routes the conversation to someone else', () => {
    const e = new RoutingEngine({ queues: [queue('q')], seed: 1 });
    e.upsertAgent(agent(1), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    e.decide(0);
    e.upsertAgent(agent(2), 1);
    expect(e.removeAgent(1, 2)).toEqual([{ conversationId: 1, agentId: 1, reason: 'agent-removed' }]);
    expect(routed(e.decide(2))).toEqual({ 1: [2] });
    expect(e.agent(1)).toBeUndefined();
    expect(e.nextWakeAt()).toBe(2 + 120_000);
    e.accept(1, 2, 3);
    expect(e.nextWakeAt()).toBeNull();
  });

  it('a change to a queue that another queue adds by relaxation reaches that queue’s conversations', () => {
    const e = new RoutingEngine({ queues: [queue('billing', { skills: { billing: 5 } }, { relax: [{ after_s: 0, add_queues: ['general'] }] }), queue('general', { skills: { tech: 5 } })], seed: 1 });
    e.upsertAgent(agent(1, { skills: { tech: 3 } }), 0);
    e.enqueue({ id: 1, queue: 'billing', arrivedAt: 0 }, 0);
    expect(e.decide(0).offers).toEqual([]);
    e.setQueue(queue('general', { skills: { tech: 3 } }), 1);
    const r = e.decide(1);
    expect(routed(r)).toEqual({ 1: [1] });
    expect(r.offers[0]!.audit.requirement).toBe('billing≥5 | queue general (tech≥3)');
  });
});

describe('decision audit', () => {
  it('lists the chosen agent first, the next eligible in policy order up to the bound, excluded ones, and counts the rest', () => {
    const e = new RoutingEngine({ queues: [queue('q', { skills: { s: 1 } })], seed: 1, auditCandidates: 3 });
    for (let id = 1; id <= 8; id++) e.upsertAgent(agent(id, { skills: { s: 1 }, idleSince: id * 1000 }), 0);
    e.upsertAgent(agent(9), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0, excluded: [2] }, 10_000);
    const audit = e.decide(10_000).offers[0]!.audit;
    expect(audit.agentIds).toEqual([1]);
    expect(audit.candidates.map((c) => [c.agentId, c.eligible, c.reason])).toEqual([
      [1, true, null],
      [3, true, null],
      [4, true, null],
      [2, false, 'excluded'],
    ]);
    expect(audit.candidates[0]!.score).toBe(9);
    expect(audit.filtered).toEqual({ 'skill s missing': 1, 'eligible, not listed': 4 });
    expect(audit.agentsKnown).toBe(9);
    expect(audit.candidates.length + Object.values(audit.filtered).reduce((a, b) => a + b, 0)).toBe(audit.agentsKnown);
  });
});
