/**
 * The routing engine: an in-memory, event-driven index of waiting conversations and agents that
 * decides offers in microseconds. Pure: no I/O, no clock (every call takes `now` in epoch ms),
 * no `Math.random` (a seed), so the same calls give the same decisions, in a service, a test or
 * the simulator.
 *
 * How the service drives it: feed every change as it happens (queues, agents, conversations,
 * offer responses), then call `decide(now)` and carry out what it returns; arm one timer for
 * `nextWakeAt()` and call `decide` again when it fires. Event methods return only the offers
 * they withdrew; all new decisions come from `decide`.
 */
import type { AgentState } from '../domain/types.js';
import { runDecide } from './routing-matcher.js';
import { describeRequirement, requirementAt, toQualifications } from './requirement-model.js';
import type { Bucket } from './routing-bucket.js';
import { createAgentNode, createConversationNode, type AgentNode, type ConversationNode } from './routing-nodes.js';
import { RoutingState } from './routing-state.js';
import type {
  AcceptResult,
  AgentId,
  AgentInput,
  AgentView,
  CancelledOffer,
  ConversationId,
  ConversationInput,
  ConversationView,
  DecideResult,
  DeclineResult,
  QueuePolicy,
  RestoredOffer,
  RoutingEngineOptions,
} from './routing-types.js';

export class RoutingEngine {
  private readonly s: RoutingState;
  private readonly auditTop: number;
  private readonly pinned = new Map<string, Bucket[]>();

  constructor(opts: RoutingEngineOptions) {
    this.s = new RoutingState(opts.seed | 0, { priorityWeight: opts.priorityWeight ?? 10, slaWeight: opts.slaWeight ?? 1 }, opts.maxIdleBuckets ?? 256);
    this.auditTop = Math.max(1, opts.auditCandidates ?? 10);
    for (const q of opts.queues) this.s.queues.set(q.name, q);
    for (const q of opts.queues) this.pin(q);
  }

  // ---- queues (config apply) ----------------------------------------------------------------

  /**
   * Adds or replaces a queue (a no-op when nothing changed). Its conversations (and those of
   * queues that add it by relaxation) take the new requirements, priority, SLA and steps at
   * once, keeping their arrival time.
   */
  setQueue(policy: QueuePolicy, now: number): void {
    now = this.s.tick(now);
    const old = this.s.queues.get(policy.name);
    // A config apply re-sends every queue; an unchanged one must not re-sort its conversations.
    if (old && JSON.stringify(old) === JSON.stringify(policy)) return;
    this.s.queues.set(policy.name, policy);
    this.s.clearRequirementCache();
    for (const name of this.dependents(policy.name)) {
      const q = this.s.queues.get(name)!;
      this.pin(q);
      for (const conv of this.s.convsByQueue.get(name) ?? []) this.reconfigure(conv, q, now);
    }
  }

  /**
   * Removes a queue and forgets its conversations (the service moves or closes them); returns
   * their ids and the offers withdrawn.
   */
  removeQueue(name: string, now: number): { removedConversations: ConversationId[]; cancelled: CancelledOffer[] } {
    now = this.s.tick(now);
    const cancelled: CancelledOffer[] = [];
    const removed: ConversationId[] = [];
    for (const conv of [...(this.s.convsByQueue.get(name) ?? [])]) {
      this.s.cancelConvOffers(conv, 'queue-removed', cancelled);
      this.s.destroy(conv);
      removed.push(conv.id);
    }
    const dependents = this.dependents(name).filter((n) => n !== name);
    for (const b of this.pinned.get(name) ?? []) this.s.buckets.unpin(b);
    this.pinned.delete(name);
    this.s.queues.delete(name);
    this.s.convsByQueue.delete(name);
    this.s.clearRequirementCache();
    for (const dep of dependents) {
      const q = this.s.queues.get(dep)!;
      this.pin(q);
      for (const conv of this.s.convsByQueue.get(dep) ?? []) this.reconfigure(conv, q, now);
    }
    return { removedConversations: removed, cancelled };
  }

  // ---- agents -------------------------------------------------------------------------------

  /**
   * Adds an agent or replaces what is known of one (skills, languages, capacity, state, load).
   * Leaving `available` withdraws the agent's pending offers (returned); going offline also ends
   * the sticky waits for them. Becoming available resets idle time and missed offers.
   */
  upsertAgent(input: AgentInput, now: number): CancelledOffer[] {
    now = this.s.tick(now);
    const s = this.s;
    const existing = s.agents.get(input.id);
    const cancelled: CancelledOffer[] = [];
    if (!existing) {
      const a = createAgentNode(input, now, s.seed);
      s.agents.set(a.id, a);
      s.buckets.addAgent(a);
      s.touchAgent(a);
      return cancelled;
    }
    existing.login = input.login;
    if (!sameLevels(existing.skillsInput, input.skills) || !sameLevels(existing.languagesInput, input.languages)) {
      existing.skillsInput = { ...input.skills };
      existing.languagesInput = { ...input.languages };
      s.buckets.requalify(existing, toQualifications(input.skills, input.languages));
    }
    existing.capacity = input.capacity;
    existing.load = Math.max(0, input.load);
    this.applyState(existing, input.state, input.pauseReason ?? null, now, cancelled);
    if (input.idleSince !== undefined) existing.idleSince = input.idleSince;
    if (input.missedOffers !== undefined) existing.missed = input.missedOffers;
    s.touchAgent(existing);
    return cancelled;
  }

  /** Available, paused (with a reason code) or offline; see `upsertAgent` for the side effects. */
  setAgentState(id: AgentId, state: AgentState, reason: string | null, now: number): CancelledOffer[] {
    now = this.s.tick(now);
    const a = this.s.agents.get(id);
    const cancelled: CancelledOffer[] = [];
    if (a) this.applyState(a, state, reason, now, cancelled);
    return cancelled;
  }

  /**
   * The agent's assigned conversations changed outside the engine (one handled, transferred,
   * or a resync). Absolute. A lower load restarts the agent's idle time.
   */
  setAgentLoad(id: AgentId, load: number, now: number): void {
    now = this.s.tick(now);
    const a = this.s.agents.get(id);
    if (!a) return;
    load = Math.max(0, load);
    if (load < a.load) a.idleSince = now;
    a.load = load;
    this.s.touchAgent(a);
  }

  /** Forgets an agent (deleted user); their pending offers are withdrawn and sticky waits end. */
  removeAgent(id: AgentId, now: number): CancelledOffer[] {
    now = this.s.tick(now);
    const a = this.s.agents.get(id);
    const cancelled: CancelledOffer[] = [];
    if (!a) return cancelled;
    this.s.cancelAgentOffers(a, 'agent-removed', now, cancelled);
    for (const conv of [...a.sticky]) {
      this.s.releaseSticky(conv);
      this.s.setAffinity(conv, null);
    }
    this.s.buckets.removeAgent(a);
    this.s.agents.delete(id);
    return cancelled;
  }

  // ---- conversations ------------------------------------------------------------------------

  /**
   * A conversation needs an agent: new, reopened, or transferred (then give the new queue). If
   * the engine already has it, it starts over (pending offers withdrawn and returned). Throws
   * `ROUTING_UNKNOWN_QUEUE` for a queue the engine was not given.
   */
  enqueue(input: ConversationInput, now: number): CancelledOffer[] {
    now = this.s.tick(now);
    const s = this.s;
    const queue = s.queueOrThrow(input.queue);
    const cancelled: CancelledOffer[] = [];
    const old = s.convs.get(input.id);
    if (old) {
      s.cancelConvOffers(old, 'conversation-requeued', cancelled);
      s.destroy(old);
    }
    const conv = createConversationNode(input, queue);
    s.resolveDefaults(conv);
    s.applyRequirement(conv, now);
    s.convs.set(conv.id, conv);
    let set = s.convsByQueue.get(queue.name);
    if (!set) s.convsByQueue.set(queue.name, (set = new Set()));
    set.add(conv);
    s.place(conv, now);
    return cancelled;
  }

  /** The conversation no longer needs routing (assigned elsewhere, handled, deleted). */
  remove(id: ConversationId, now: number): CancelledOffer[] {
    this.s.tick(now);
    const conv = this.s.convs.get(id);
    const cancelled: CancelledOffer[] = [];
    if (!conv) return cancelled;
    this.s.cancelConvOffers(conv, 'conversation-removed', cancelled);
    this.s.destroy(conv);
    return cancelled;
  }

  /**
   * Rebuild at start: a pending offer from the store. Enqueue its conversation and upsert its
   * agent first; the offer then holds the agent's capacity and expires at `expiresAt`. Returns
   * false when either is unknown (the service should cancel that offer).
   */
  restoreOffer(offer: RestoredOffer, now: number): boolean {
    this.s.tick(now);
    const conv = this.s.convs.get(offer.conversationId);
    const agent = this.s.agents.get(offer.agentId);
    if (!conv || !agent) return false;
    if (conv.offers.some((o) => o.agent === agent)) return true;
    if (conv.state !== 'offered') {
      this.s.unplace(conv);
      conv.state = 'offered';
    }
    this.s.addOffer(conv, agent, offer.expiresAt);
    this.s.touchAgent(agent);
    return true;
  }

  // ---- offer responses ----------------------------------------------------------------------

  /**
   * The agent accepts. The first accept of a pending, unexpired offer wins: the conversation is
   * assigned (the engine counts it in the agent's load and forgets the conversation), the
   * agent's missed-offer count resets, and the other pending offers of the conversation are
   * withdrawn (returned). Any later accept gets `won: false`.
   */
  accept(conversationId: ConversationId, agentId: AgentId, now: number): AcceptResult {
    now = this.s.tick(now);
    const conv = this.s.convs.get(conversationId);
    const offer = conv?.offers.find((o) => o.agent.id === agentId);
    if (!conv || !offer) return { won: false, reason: 'no-pending-offer', cancelled: [] };
    // Past its expiry the offer is lost even if decide() has not reported it yet.
    if (now >= offer.expiresAt) return { won: false, reason: 'expired', cancelled: [] };
    const a = offer.agent;
    // The offer's slot becomes the assignment's: load up before the drop so the agent never
    // looks free in between.
    a.load++;
    this.s.dropOffer(offer);
    const cancelled: CancelledOffer[] = [];
    this.s.cancelConvOffers(conv, 'accepted-by-other', cancelled);
    a.missed = 0;
    a.idleSince = now;
    this.s.destroy(conv);
    this.s.touchAgent(a);
    return { won: true, cancelled };
  }

  /**
   * The agent declines: excluded for this conversation, which is routed again once none of its
   * offers is pending. Not a missed offer.
   */
  decline(conversationId: ConversationId, agentId: AgentId, now: number): DeclineResult {
    now = this.s.tick(now);
    const conv = this.s.convs.get(conversationId);
    const offer = conv?.offers.find((o) => o.agent.id === agentId);
    if (!conv || !offer) return { declined: false };
    this.s.dropOffer(offer);
    this.s.exclude(conv, agentId);
    if (conv.offers.length === 0) this.s.place(conv, now);
    return { declined: true };
  }

  // ---- stepping -----------------------------------------------------------------------------

  /** Everything to do at `now`: see `DecideResult`. Call after events and when `nextWakeAt` comes. */
  decide(now: number): DecideResult {
    return runDecide(this.s, this.s.tick(now), this.auditTop);
  }

  /**
   * When `decide` next has something to do without a new event (relaxation step, offer expiry,
   * sticky wait end), or the last `now` if events are waiting to be decided; null when idle.
   */
  nextWakeAt(): number | null {
    return this.s.hasDirty() ? this.s.now : this.s.timers.nextAt();
  }

  // ---- views --------------------------------------------------------------------------------

  agent(id: AgentId): AgentView | undefined {
    const a = this.s.agents.get(id);
    if (!a) return undefined;
    return {
      id: a.id,
      login: a.login,
      state: a.state,
      pauseReason: a.pauseReason,
      load: a.load,
      pendingOffers: a.pending,
      capacity: a.capacity,
      idleSince: a.idleSince,
      missedOffers: a.missed,
      free: a.state === 'available' && a.load + a.pending < a.capacity,
    };
  }

  conversation(id: ConversationId): ConversationView | undefined {
    const c = this.s.convs.get(id);
    if (!c) return undefined;
    return {
      id: c.id,
      queue: c.queue.name,
      state: c.state,
      step: c.step,
      requirement: describeRequirement(c.alts),
      arrivedAt: c.arrivedAt,
      pendingAgentIds: c.offers.map((o) => o.agent.id),
      excluded: [...(c.excluded ?? [])],
      stickyAgentId: c.stickyAgent?.id ?? null,
      stickyUntil: c.stickyUntil,
    };
  }

  /** Ids of every agent and conversation the engine holds (supervisor screens, tests). */
  ids(): { agents: AgentId[]; conversations: ConversationId[] } {
    return { agents: [...this.s.agents.keys()], conversations: [...this.s.convs.keys()] };
  }

  /** Counts for metrics: O(1) except `memberships` (O(buckets)). */
  stats(): { agents: number; conversations: number; buckets: number; memberships: number; timers: number } {
    return {
      agents: this.s.agents.size,
      conversations: this.s.convs.size,
      buckets: this.s.buckets.size,
      memberships: this.s.buckets.membershipCount(),
      timers: this.s.timers.size,
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  private applyState(a: AgentNode, state: AgentState, reason: string | null, now: number, out: CancelledOffer[]): void {
    const r = state === 'paused' ? reason : null;
    if (a.state === state && a.pauseReason === r) return;
    const was = a.state;
    a.state = state;
    a.pauseReason = r;
    if (state === 'available') {
      if (was !== 'available') {
        a.idleSince = now;
        a.missed = 0;
      }
    } else {
      this.s.cancelAgentOffers(a, 'agent-unavailable', now, out);
      // Nobody waits for an agent who logged off (they keep the preference if they come back).
      if (state === 'offline') for (const conv of [...a.sticky]) this.s.releaseSticky(conv);
    }
    this.s.touchAgent(a);
  }

  /** The queue itself and every queue whose relaxation adds it. */
  private dependents(name: string): string[] {
    const out = [name];
    for (const q of this.s.queues.values()) {
      if (q.name !== name && q.routing.relax.some((st) => st.add_queues?.includes(name))) out.push(q.name);
    }
    return out.filter((n) => this.s.queues.has(n));
  }

  /** Keeps the buckets of a queue's configured steps warm (re-pinned on every change). */
  private pin(q: QueuePolicy): void {
    for (const b of this.pinned.get(q.name) ?? []) this.s.buckets.unpin(b);
    const list: Bucket[] = [];
    for (let step = 0; step <= q.routing.relax.length; step++) {
      const alts = requirementAt(q, q.skills, q.language, step, (n) => this.s.queues.get(n));
      list.push(this.s.buckets.pin(alts, q.routing.policy));
    }
    this.pinned.set(q.name, list);
  }

  private reconfigure(conv: ConversationNode, q: QueuePolicy, now: number): void {
    const waiting = conv.state === 'waiting';
    if (waiting) conv.bucket!.convs.remove(conv);
    conv.queue = q;
    this.s.resolveDefaults(conv);
    this.s.applyRequirement(conv, now);
    if (waiting) {
      conv.bucket!.convs.push(conv);
      this.s.markConv(conv);
    }
  }
}

function sameLevels(a: Record<string, number>, b: Record<string, number>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => b[k] === a[k]);
}
