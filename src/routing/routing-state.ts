/**
 * The engine's mutable state and the mechanics every event shares: where a conversation sits
 * (waiting in a bucket, waiting for its last agent, or offered), its relaxation step and timers,
 * pending offers and what they hold of an agent's capacity. Decisions (who gets what) live in
 * routing-matcher.ts; the public surface in routing-engine.ts.
 */
import { AppError } from '../domain/errors.js';
import { agentTieBefore } from './agent-order.js';
import { BucketIndex } from './bucket-index.js';
import { checkRequirementSet, nextRelaxAt, relaxStepAt, requirementAt, requirementKey, type RequirementSet } from './requirement-model.js';
import { hashUnit } from './seeded-random.js';
import { conversationBefore, isFree, type AgentNode, type ConversationNode, type OfferNode, type TimerPayload } from './routing-nodes.js';
import type { AgentId, CancelReason, CancelledOffer, ConversationId, QueuePolicy } from './routing-types.js';
import { TimerHeap } from './timer-heap.js';
import { workKey, type WorkWeights } from './work-order.js';

const HOUR = 3_600_000;

export class RoutingState {
  readonly queues = new Map<string, QueuePolicy>();
  readonly agents = new Map<AgentId, AgentNode>();
  readonly convs = new Map<ConversationId, ConversationNode>();
  readonly convsByQueue = new Map<string, Set<ConversationNode>>();
  readonly buckets: BucketIndex;
  readonly timers = new TimerHeap<TimerPayload>();
  /** Offers and assignments made so far; round-robin orders agents by it. */
  offerSeq = 0;
  /** The latest clock value seen; time never goes backwards inside the engine. */
  now = -Infinity;
  private dirtyConvs: ConversationNode[] = [];
  private dirtyAgents: AgentNode[] = [];
  private readonly reqCache = new Map<string, { alts: RequirementSet; key: string }[]>();

  constructor(
    readonly seed: number,
    readonly weights: WorkWeights,
    maxIdleBuckets: number,
  ) {
    this.buckets = new BucketIndex(this.agents, maxIdleBuckets);
  }

  /** Clamps a caller's clock to be monotonic (a wall clock can step back) and records it. */
  tick(now: number): number {
    if (now > this.now) this.now = now;
    return this.now;
  }

  queueOrThrow(name: string): QueuePolicy {
    const q = this.queues.get(name);
    if (!q) {
      throw new AppError('ROUTING_UNKNOWN_QUEUE', `The router has no queue "${name}"`, {
        status: 409,
        hint: 'Apply a config that defines the queue (or call setQueue) before routing conversations to it.',
      });
    }
    return q;
  }

  // ---- dirty sets: what the next decide() must look at --------------------------------------

  markConv(conv: ConversationNode): void {
    if (!conv.dirty) {
      conv.dirty = true;
      this.dirtyConvs.push(conv);
    }
  }

  markAgent(agent: AgentNode): void {
    if (!agent.dirty) {
      agent.dirty = true;
      this.dirtyAgents.push(agent);
    }
  }

  hasDirty(): boolean {
    return this.dirtyConvs.length > 0 || this.dirtyAgents.length > 0;
  }

  /** Dirty conversations still in the engine, in work order. */
  takeDirtyConvs(): ConversationNode[] {
    const list = this.dirtyConvs;
    this.dirtyConvs = [];
    for (const c of list) c.dirty = false;
    return list.filter((c) => !c.removed).sort((a, b) => (conversationBefore(a, b) ? -1 : 1));
  }

  /** Dirty agents still in the engine, longest idle first. */
  takeDirtyAgents(): AgentNode[] {
    const list = this.dirtyAgents;
    this.dirtyAgents = [];
    for (const a of list) a.dirty = false;
    return list.filter((a) => this.agents.get(a.id) === a).sort((a, b) => (agentTieBefore(a, b) ? -1 : 1));
  }

  // ---- agents -------------------------------------------------------------------------------

  /** An offer or an assignment was made to `agent`: its turn in round-robin and its tie-break move on. */
  noteOffered(agent: AgentNode): void {
    agent.lastOfferSeq = this.offerSeq++;
    agent.version++;
    agent.tie = hashUnit(this.seed, agent.id, agent.version);
  }

  /** After any change to an agent: re-key it in its buckets and let the next decide look at it. */
  touchAgent(agent: AgentNode): void {
    this.buckets.refresh(agent);
    if (isFree(agent)) this.markAgent(agent);
  }

  // ---- conversations: requirement, placement, removal ----------------------------------------

  /** Requirement, work-order key and due time from the conversation's own values or its queue's. */
  resolveDefaults(conv: ConversationNode): void {
    const { input, queue } = conv;
    conv.ownSkills = input.skills ?? queue.skills;
    conv.ownLanguage = input.language === undefined ? queue.language : input.language;
    conv.priority = input.priority ?? queue.priority;
    conv.dueAt = input.slaDueAt ?? conv.arrivedAt + queue.slaMinutes * 60_000;
    conv.workKey = workKey(this.weights, conv.priority, conv.arrivedAt, conv.dueAt);
  }

  /**
   * Brings the relaxation step up to `now`: moves the conversation to the bucket of its new
   * requirement (same work key: it keeps its place) and schedules the next step.
   */
  applyRequirement(conv: ConversationNode, now: number): void {
    const q = conv.queue;
    conv.step = relaxStepAt(q, conv.arrivedAt, now);
    const { alts, key } = this.requirementFor(conv);
    if (conv.bucket?.key !== key) {
      const next = this.buckets.acquire(alts, q.routing.policy, key);
      const old = conv.bucket;
      const wasWaiting = old !== null && old.convs.remove(conv);
      if (old) this.buckets.release(old);
      conv.bucket = next;
      if (wasWaiting) next.convs.push(conv);
    }
    // The conversation's own form (the bucket's may name another queue with the same skills).
    conv.alts = alts;
    this.timers.cancel(conv.relaxTimer);
    const at = nextRelaxAt(q, conv.arrivedAt, conv.step);
    conv.relaxTimer = at === null ? null : this.timers.schedule(at, { kind: 'relax', conv });
  }

  /** Forgets the cached requirements: call on any queue change (a queue's steps may name others). */
  clearRequirementCache(): void {
    this.reqCache.clear();
  }

  /**
   * The requirement set and bucket key of a conversation at its current step. Most
   * conversations use their queue's skills, so these are cached per queue, language and step:
   * arrivals and relaxation steps then build no strings.
   */
  private requirementFor(conv: ConversationNode): { alts: RequirementSet; key: string } {
    const q = conv.queue;
    const build = () => {
      const alts = requirementAt(q, conv.ownSkills, conv.ownLanguage, conv.step, (n) => this.queues.get(n));
      return { alts, key: `${q.routing.policy} ${requirementKey(alts)}` };
    };
    if (conv.input.skills !== undefined) return build();
    const cacheKey = `${q.name}\u0000${conv.ownLanguage ?? ''}`;
    let steps = this.reqCache.get(cacheKey);
    if (!steps) this.reqCache.set(cacheKey, (steps = []));
    return (steps[conv.step] ??= build());
  }

  /**
   * Puts a conversation that has no pending offer where it waits: for its last agent (sticky)
   * if that applies, else in its bucket. Either way the next decide looks at it. The last agent
   * stays its preferred agent after the wait too (they take it if they are free first).
   */
  place(conv: ConversationNode, now: number): void {
    const s = this.stickyTarget(conv);
    this.setAffinity(conv, s);
    if (s) {
      const until = conv.arrivedAt + conv.queue.routing.sticky.wait_s * 1000;
      // Wait for a busy or paused last agent, not for one who logged off; take a free one even
      // when the wait is over (a reply after a restart still prefers its agent if they are free).
      if (isFree(s) || (until > now && s.state !== 'offline')) {
        conv.state = 'sticky-wait';
        conv.stickyUntil = until;
        if (until > now) conv.stickyTimer = this.timers.schedule(until, { kind: 'sticky', conv });
        this.markConv(conv);
        return;
      }
    }
    conv.state = 'waiting';
    conv.bucket!.convs.push(conv);
    this.markConv(conv);
  }

  /** The last agent this conversation should go back to, if stickiness applies to it now. */
  stickyTarget(conv: ConversationNode): AgentNode | null {
    const sticky = conv.queue.routing.sticky;
    if (sticky.scope === 'off' || conv.lastAgentId === null || conv.lastAgentAt === null) return null;
    // Measured at the customer's message, not at routing time, so a rebuild decides the same.
    if (conv.arrivedAt - conv.lastAgentAt > sticky.hours * HOUR) return null;
    const agent = this.agents.get(conv.lastAgentId);
    if (!agent || conv.excluded?.has(agent.id)) return null;
    if (sticky.scope === 'queue') {
      // "This queue": the last answer was in this queue (when known) and the agent qualifies for it.
      if (conv.lastAgentQueue !== null && conv.lastAgentQueue !== conv.queue.name) return null;
      if (checkRequirementSet(agent.quals, conv.alts) !== null) return null;
    }
    return agent;
  }

  /** Links a conversation to the agent it prefers (or unlinks it with null). */
  setAffinity(conv: ConversationNode, agent: AgentNode | null): void {
    if (conv.stickyAgent === agent) return;
    conv.stickyAgent?.sticky.delete(conv);
    conv.stickyAgent = agent;
    agent?.sticky.add(conv);
  }

  /**
   * Ends a sticky wait: the conversation joins its bucket, in its place, for any agent. `mark`
   * is false when the caller routes it right away.
   */
  releaseSticky(conv: ConversationNode, mark = true): void {
    if (conv.state !== 'sticky-wait') return;
    this.timers.cancel(conv.stickyTimer);
    conv.stickyTimer = null;
    conv.stickyUntil = null;
    conv.state = 'waiting';
    conv.bucket!.convs.push(conv);
    if (mark) this.markConv(conv);
  }

  /** Takes a conversation out of its waiting place (bucket heap or sticky wait). */
  unplace(conv: ConversationNode): void {
    if (conv.state === 'waiting') conv.bucket?.convs.remove(conv);
    if (conv.state === 'sticky-wait') {
      this.timers.cancel(conv.stickyTimer);
      conv.stickyTimer = null;
      conv.stickyUntil = null;
    }
  }

  exclude(conv: ConversationNode, agentId: AgentId): void {
    (conv.excluded ??= new Set()).add(agentId);
  }

  /** Forgets a conversation (assigned, removed, or about to be enqueued again). Offers must be gone. */
  destroy(conv: ConversationNode): void {
    this.unplace(conv);
    this.setAffinity(conv, null);
    this.timers.cancel(conv.relaxTimer);
    conv.relaxTimer = null;
    if (conv.bucket) this.buckets.release(conv.bucket);
    conv.bucket = null;
    conv.removed = true;
    this.convs.delete(conv.id);
    this.convsByQueue.get(conv.queue.name)?.delete(conv);
  }

  // ---- offers --------------------------------------------------------------------------------

  addOffer(conv: ConversationNode, agent: AgentNode, expiresAt: number): OfferNode {
    const offer: OfferNode = { conv, agent, expiresAt, timer: null };
    offer.timer = this.timers.schedule(expiresAt, { kind: 'offer', offer });
    conv.offers.push(offer);
    agent.offers.add(offer);
    agent.pending++;
    return offer;
  }

  /** Removes a pending offer and gives its capacity back to the agent. */
  dropOffer(offer: OfferNode): void {
    const { conv, agent } = offer;
    const i = conv.offers.indexOf(offer);
    if (i >= 0) conv.offers.splice(i, 1);
    agent.offers.delete(offer);
    agent.pending--;
    this.timers.cancel(offer.timer);
    offer.timer = null;
    this.touchAgent(agent);
  }

  /** Withdraws every pending offer of a conversation. */
  cancelConvOffers(conv: ConversationNode, reason: CancelReason, out: CancelledOffer[]): void {
    for (const offer of [...conv.offers]) {
      this.dropOffer(offer);
      out.push({ conversationId: conv.id, agentId: offer.agent.id, reason });
    }
  }

  /** Withdraws every pending offer of an agent; their conversations are routed again. */
  cancelAgentOffers(agent: AgentNode, reason: CancelReason, now: number, out: CancelledOffer[]): void {
    for (const offer of [...agent.offers]) {
      this.dropOffer(offer);
      out.push({ conversationId: offer.conv.id, agentId: agent.id, reason });
      if (offer.conv.offers.length === 0) this.place(offer.conv, now);
    }
  }
}
