import { describe, expect, it } from 'vitest';
import { ROUTING_DEFAULTS, type RoutingSpec } from '../config/schema.js';
import { RoutingEngine } from './routing-engine.js';
import type { AgentInput, QueuePolicy } from './routing-types.js';

const S = 1000;
const H = 3_600_000;

function queue(name: string, over: Partial<Omit<QueuePolicy, 'routing'>> = {}, routing: Partial<RoutingSpec> = {}): QueuePolicy {
  return { name, skills: {}, language: null, priority: 5, slaMinutes: 60, ...over, routing: { ...ROUTING_DEFAULTS, ...routing } };
}
function agent(id: number, over: Partial<AgentInput> = {}): AgentInput {
  return { id, login: `a${id}`, skills: {}, languages: {}, capacity: 1, state: 'available', load: 0, idleSince: id, ...over };
}

describe('offers', () => {
  it('expires an unanswered offer, excludes the agent and offers the next one', () => {
    const e = new RoutingEngine({ queues: [queue('q', {}, { offer_timeout_s: 30 })], seed: 1 });
    e.upsertAgent(agent(1), 0);
    e.upsertAgent(agent(2), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    const first = e.decide(0).offers[0]!;
    expect(first).toMatchObject({ agentIds: [1], expiresAt: 30 * S });
    expect(e.nextWakeAt()).toBe(30 * S);
    expect(e.decide(30 * S - 1).expired).toEqual([]);
    const r = e.decide(30 * S);
    expect(r.expired).toEqual([{ conversationId: 1, agentId: 1, expiresAt: 30 * S, missedOffers: 1 }]);
    expect(r.offers.map((o) => o.agentIds)).toEqual([[2]]);
    expect(e.conversation(1)!.excluded).toEqual([1]);
    expect(e.accept(1, 1, 31 * S)).toEqual({ won: false, reason: 'no-pending-offer', cancelled: [] });
  });

  it('refuses an accept that comes after the expiry time even before decide reports it', () => {
    const e = new RoutingEngine({ queues: [queue('q', {}, { offer_timeout_s: 10 })], seed: 1 });
    e.upsertAgent(agent(1), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    e.decide(0);
    expect(e.accept(1, 1, 10 * S).won).toBe(false);
    expect(e.decide(10 * S).expired).toHaveLength(1);
  });

  it('a decline excludes the agent and re-routes, without counting as missed', () => {
    const e = new RoutingEngine({ queues: [queue('q')], seed: 1 });
    e.upsertAgent(agent(1, { capacity: 2 }), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    e.decide(0);
    expect(e.decline(1, 1, S)).toEqual({ declined: true });
    expect(e.decline(1, 1, S)).toEqual({ declined: false });
    expect(e.decide(S).offers).toEqual([]);
    expect(e.agent(1)).toMatchObject({ missedOffers: 0, pendingOffers: 0, free: true });
    e.upsertAgent(agent(2), 2 * S);
    expect(e.decide(2 * S).offers.map((o) => o.agentIds)).toEqual([[2]]);
  });

  it('pauses an agent as not-responding after max_missed_offers in a row, withdrawing their other offers', () => {
    const e = new RoutingEngine({ queues: [queue('q', {}, { offer_timeout_s: 10, max_missed_offers: 2 })], seed: 1 });
    e.upsertAgent(agent(1, { capacity: 3 }), 0);
    e.upsertAgent(agent(2, { capacity: 1, load: 1 }), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    e.decide(0);
    e.enqueue({ id: 2, queue: 'q', arrivedAt: 5 * S }, 5 * S);
    expect(e.decide(5 * S).offers.map((o) => o.conversationId)).toEqual([2]);
    e.enqueue({ id: 3, queue: 'q', arrivedAt: 6 * S }, 6 * S);
    expect(e.decide(6 * S).offers.map((o) => o.conversationId)).toEqual([3]);
    expect(e.decide(10 * S).expired).toHaveLength(1);
    const r = e.decide(15 * S);
    expect(r.expired.map((x) => [x.conversationId, x.missedOffers])).toEqual([[2, 2]]);
    expect(r.pauses).toEqual([{ agentId: 1, login: 'a1', reason: 'not-responding', missedOffers: 2, at: 15 * S }]);
    expect(r.cancelled).toEqual([{ conversationId: 3, agentId: 1, reason: 'agent-unavailable' }]);
    expect(e.agent(1)).toMatchObject({ state: 'paused', pauseReason: 'not-responding', pendingOffers: 0 });
    // Back to available: the count starts over and conversation 3 (not excluded) is offered again.
    e.setAgentState(1, 'available', null, 20 * S);
    expect(e.agent(1)!.missedOffers).toBe(0);
    expect(e.decide(20 * S).offers.map((o) => [o.conversationId, o.agentIds[0]])).toEqual([[3, 1]]);
  });

  it('an accept assigns, counts the load and resets the missed-offer count', () => {
    const e = new RoutingEngine({ queues: [queue('q', {}, { offer_timeout_s: 10, max_missed_offers: 3 })], seed: 1 });
    e.upsertAgent(agent(1, { capacity: 2, missedOffers: 2 }), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    e.enqueue({ id: 2, queue: 'q', arrivedAt: 1 }, 0);
    e.decide(0);
    expect(e.agent(1)).toMatchObject({ load: 0, pendingOffers: 2, free: false });
    expect(e.accept(1, 1, S)).toEqual({ won: true, cancelled: [] });
    expect(e.agent(1)).toMatchObject({ load: 1, pendingOffers: 1, missedOffers: 0 });
    expect(e.conversation(1)).toBeUndefined();
    expect(e.decide(10 * S).pauses).toEqual([]);
  });

  it('broadcast offers K agents at once and exactly one accept wins', () => {
    const e = new RoutingEngine({ queues: [queue('q', {}, { broadcast: 3 })], seed: 1 });
    for (const id of [1, 2, 3, 4]) e.upsertAgent(agent(id), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    const offer = e.decide(0).offers[0]!;
    expect(offer.agentIds).toEqual([1, 2, 3]);
    const second = e.accept(1, 2, S);
    expect(second.won).toBe(true);
    expect(second.cancelled.map((c) => [c.agentId, c.reason])).toEqual([
      [1, 'accepted-by-other'],
      [3, 'accepted-by-other'],
    ]);
    expect(e.accept(1, 1, S).won).toBe(false);
    expect(e.accept(1, 3, S).won).toBe(false);
    expect([1, 2, 3].map((id) => e.agent(id)!.load)).toEqual([0, 1, 0]);
  });

  it('broadcast re-routes only when every offer of the conversation was declined', () => {
    const e = new RoutingEngine({ queues: [queue('q', {}, { broadcast: 2 })], seed: 1 });
    for (const id of [1, 2, 3]) e.upsertAgent(agent(id), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    e.decide(0);
    e.decline(1, 1, S);
    expect(e.decide(S).offers).toEqual([]);
    e.decline(1, 2, S);
    expect(e.decide(S).offers.map((o) => o.agentIds)).toEqual([[3]]);
  });

  it('mode assign assigns directly and counts the load', () => {
    const e = new RoutingEngine({ queues: [queue('q', {}, { mode: 'assign' })], seed: 1 });
    e.upsertAgent(agent(1), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    e.enqueue({ id: 2, queue: 'q', arrivedAt: 1 }, 0);
    const r = e.decide(0);
    expect(r.assignments.map((a) => [a.conversationId, a.agentId, a.audit.outcome])).toEqual([[1, 1, 'assigned']]);
    expect(e.agent(1)!.load).toBe(1);
    e.setAgentLoad(1, 0, 5);
    expect(e.decide(5).assignments.map((a) => a.conversationId)).toEqual([2]);
  });

  it('pausing an agent withdraws their offer and gives the conversation to someone else', () => {
    const e = new RoutingEngine({ queues: [queue('q')], seed: 1 });
    e.upsertAgent(agent(1), 0);
    e.upsertAgent(agent(2), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    expect(e.decide(0).offers[0]!.agentIds).toEqual([1]);
    expect(e.setAgentState(1, 'paused', 'break', S)).toEqual([{ conversationId: 1, agentId: 1, reason: 'agent-unavailable' }]);
    expect(e.decide(S).offers[0]!.agentIds).toEqual([2]);
    expect(e.conversation(1)!.excluded).toEqual([]);
  });

  it('removing or re-enqueuing a conversation withdraws its offers', () => {
    const e = new RoutingEngine({ queues: [queue('q'), queue('r', { skills: { r: 1 } })], seed: 1 });
    e.upsertAgent(agent(1, { capacity: 2 }), 0);
    e.upsertAgent(agent(2, { skills: { r: 1 } }), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 0);
    e.enqueue({ id: 2, queue: 'q', arrivedAt: 0 }, 0);
    e.decide(0);
    expect(e.remove(1, S).map((c) => c.reason)).toEqual(['conversation-removed']);
    // Transfer: conversation 2 moves to queue r, which agent 1 lacks.
    expect(e.enqueue({ id: 2, queue: 'r', arrivedAt: 0 }, S).map((c) => [c.agentId, c.reason])).toEqual([[1, 'conversation-requeued']]);
    expect(e.decide(S).offers.map((o) => [o.conversationId, o.agentIds[0]])).toEqual([[2, 2]]);
    expect(e.agent(1)!.pendingOffers).toBe(0);
  });
});

describe('rebuild from the store', () => {
  it('restored pending offers hold capacity, are not offered twice and expire at their time', () => {
    const e = new RoutingEngine({ queues: [queue('q')], seed: 1 });
    e.upsertAgent(agent(1), 0);
    e.upsertAgent(agent(2), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0 }, 100 * S);
    e.enqueue({ id: 2, queue: 'q', arrivedAt: 0 }, 100 * S);
    expect(e.restoreOffer({ conversationId: 1, agentId: 1, expiresAt: 110 * S }, 100 * S)).toBe(true);
    expect(e.restoreOffer({ conversationId: 9, agentId: 1, expiresAt: 110 * S }, 100 * S)).toBe(false);
    expect(e.decide(100 * S).offers.map((o) => [o.conversationId, o.agentIds[0]])).toEqual([[2, 2]]);
    expect(e.nextWakeAt()).toBe(110 * S);
    const r = e.decide(110 * S);
    expect(r.expired.map((x) => [x.conversationId, x.agentId])).toEqual([[1, 1]]);
    expect(r.offers).toEqual([]);
    expect(e.accept(2, 2, 111 * S).won).toBe(true);
  });
});

describe('stickiness', () => {
  const sticky = (over: Partial<RoutingSpec['sticky']> = {}) => ({ sticky: { scope: 'any' as const, hours: 72, wait_s: 60, ...over } });

  it('sends a reply back to the last agent when free, even past better-placed agents', () => {
    const e = new RoutingEngine({ queues: [queue('q', {}, sticky())], seed: 1 });
    e.upsertAgent(agent(1, { idleSince: 0 }), 0);
    e.upsertAgent(agent(2, { idleSince: 500 * S }), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 1000 * S, lastAgentId: 2, lastAgentAt: 900 * S }, 1000 * S);
    const o = e.decide(1000 * S).offers[0]!;
    expect(o.agentIds).toEqual([2]);
    expect(o.audit).toMatchObject({ sticky: true, stepLabel: 'sticky' });
  });

  it('waits up to wait_s for a busy last agent, takes them if they free up, else anyone', () => {
    for (const freed of [true, false]) {
      const e = new RoutingEngine({ queues: [queue('q', {}, sticky({ wait_s: 60 }))], seed: 1 });
      e.upsertAgent(agent(1), 0);
      e.upsertAgent(agent(2, { load: 1 }), 0);
      e.enqueue({ id: 1, queue: 'q', arrivedAt: 0, lastAgentId: 2, lastAgentAt: -H }, 0);
      expect(e.decide(0).offers).toEqual([]);
      expect(e.conversation(1)).toMatchObject({ state: 'sticky-wait', stickyAgentId: 2, stickyUntil: 60 * S });
      expect(e.nextWakeAt()).toBe(60 * S);
      if (freed) {
        e.setAgentLoad(2, 0, 30 * S);
        expect(e.decide(30 * S).offers[0]!.agentIds).toEqual([2]);
      } else {
        expect(e.decide(60 * S).offers[0]!.agentIds).toEqual([1]);
      }
    }
  });

  it('does not wait for an agent who is offline, nor past sticky hours, nor with scope off', () => {
    const cases: [Partial<RoutingSpec['sticky']>, Partial<AgentInput>, number][] = [
      [{}, { state: 'offline' }, -H],
      [{ hours: 1 }, { load: 1 }, -2 * H],
      [{ scope: 'off' }, { load: 1 }, -H],
    ];
    for (const [opts, last, lastAt] of cases) {
      const e = new RoutingEngine({ queues: [queue('q', {}, sticky(opts))], seed: 1 });
      e.upsertAgent(agent(1), 0);
      e.upsertAgent(agent(2, last), 0);
      e.enqueue({ id: 1, queue: 'q', arrivedAt: 0, lastAgentId: 2, lastAgentAt: lastAt }, 0);
      expect(e.decide(0).offers[0]!.agentIds).toEqual([1]);
    }
  });

  it('scope queue needs the last agent to qualify for this queue (and to have answered in it); scope any does not', () => {
    const run = (scope: 'any' | 'queue', lastAgentQueue: string | null) => {
      const e = new RoutingEngine({ queues: [queue('q', { skills: { x: 5 } }, sticky({ scope }))], seed: 1 });
      e.upsertAgent(agent(1, { skills: { x: 5 }, capacity: 2 }), 0);
      e.upsertAgent(agent(2, { skills: { x: 1 }, idleSince: 999 * S }), 0);
      e.upsertAgent(agent(3, { skills: { x: 9 }, idleSince: 999 * S }), 0);
      e.enqueue({ id: 1, queue: 'q', arrivedAt: 1000 * S, lastAgentId: 2, lastAgentAt: 0, lastAgentQueue }, 1000 * S);
      e.enqueue({ id: 2, queue: 'q', arrivedAt: 1000 * S, lastAgentId: 3, lastAgentAt: 0, lastAgentQueue }, 1000 * S);
      const r = e.decide(1000 * S);
      return Object.fromEntries(r.offers.map((o) => [o.conversationId, o.agentIds[0]]));
    };
    expect(run('any', null)).toEqual({ 1: 2, 2: 3 });
    expect(run('queue', null)).toEqual({ 1: 1, 2: 3 });
    // Answered in another queue: no stickiness, both go by policy to the longest idle agent.
    expect(run('queue', 'other')).toEqual({ 1: 1, 2: 1 });
  });

  it('a declined sticky offer goes to anyone', () => {
    const e = new RoutingEngine({ queues: [queue('q', {}, sticky())], seed: 1 });
    e.upsertAgent(agent(1), 0);
    e.upsertAgent(agent(2), 0);
    e.enqueue({ id: 1, queue: 'q', arrivedAt: 0, lastAgentId: 2, lastAgentAt: 0 }, 0);
    expect(e.decide(0).offers[0]!.agentIds).toEqual([2]);
    e.decline(1, 2, S);
    expect(e.decide(S).offers[0]!.agentIds).toEqual([1]);
  });
});
