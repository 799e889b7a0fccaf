/**
 * The decision step. Only what changed since the last step is looked at:
 *  1. due timers: offer expiries (exclude, count the miss, maybe pause the agent), relaxation
 *     steps (move to a wider bucket), sticky waits that ran out (open to any agent);
 *  2. conversations that became routable, in work order: each takes the best free agents of its
 *     bucket by the queue's policy (a peek, not a scan);
 *  3. agents that gained room: each pulls the best conversation among its buckets' heap tops
 *     (and its sticky waits first), which then goes to the policy's best free agent.
 * After a step no waiting conversation has a free, eligible, non-excluded agent, which is what
 * lets every later event look only at what it changed.
 */
import { bucketAudit, stickyAudit, type Exploration } from './decision-audit.js';
import { checkRequirementSet } from './requirement-model.js';
import { conversationBefore, isFree, type AgentNode, type ConversationNode, type OfferNode } from './routing-nodes.js';
import type { RoutingState } from './routing-state.js';
import type { DecideResult, DecisionAudit } from './routing-types.js';

/** Runs one decision step at `now` (already clamped by the caller). */
export function runDecide(state: RoutingState, now: number, auditTop: number): DecideResult {
  const out: DecideResult = { offers: [], assignments: [], expired: [], pauses: [], cancelled: [] };
  fireTimers(state, now, out);
  for (const conv of state.takeDirtyConvs()) routeConversation(state, conv, now, out, auditTop);
  // Agents that got an offer here but still have room are marked again: take until none is left.
  for (let agents = state.takeDirtyAgents(); agents.length > 0; agents = state.takeDirtyAgents()) {
    for (const agent of agents) {
      while (isFree(agent) && state.agents.get(agent.id) === agent) {
        const conv = bestConversationFor(agent);
        if (!conv) break;
        const before = conv.state;
        routeConversation(state, conv, now, out, auditTop);
        // Defensive: a conversation the agent qualifies for must leave the waiting state here.
        if (conv.state === before && !conv.removed) break;
      }
    }
  }
  state.buckets.trim();
  return out;
}

function fireTimers(state: RoutingState, now: number, out: DecideResult): void {
  for (let t = state.timers.popDue(now); t; t = state.timers.popDue(now)) {
    const p = t.payload;
    if (p.kind === 'relax') {
      p.conv.relaxTimer = null;
      state.applyRequirement(p.conv, now);
      if (p.conv.state === 'waiting') state.markConv(p.conv);
    } else if (p.kind === 'sticky') {
      p.conv.stickyTimer = null;
      state.releaseSticky(p.conv);
    } else {
      p.offer.timer = null;
      expireOffer(state, p.offer, now, out);
    }
  }
}

/** An unanswered offer: like a decline, and one more missed offer in a row for the agent. */
function expireOffer(state: RoutingState, offer: OfferNode, now: number, out: DecideResult): void {
  const { conv, agent } = offer;
  state.dropOffer(offer);
  state.exclude(conv, agent.id);
  agent.missed++;
  out.expired.push({ conversationId: conv.id, agentId: agent.id, expiresAt: offer.expiresAt, missedOffers: agent.missed });
  if (agent.state === 'available' && agent.missed >= conv.queue.routing.max_missed_offers) {
    agent.state = 'paused';
    agent.pauseReason = 'not-responding';
    out.pauses.push({ agentId: agent.id, login: agent.login, reason: 'not-responding', missedOffers: agent.missed, at: now });
    // Nobody is there to answer the other offers either: give them to someone who is.
    state.cancelAgentOffers(agent, 'agent-unavailable', now, out.cancelled);
    state.touchAgent(agent);
  }
  if (conv.offers.length === 0) state.place(conv, now);
}

/** The sticky agent can take the conversation right now. */
function stickyReady(conv: ConversationNode): boolean {
  const s = conv.stickyAgent;
  if (!s || !isFree(s) || conv.excluded?.has(s.id)) return false;
  return conv.queue.routing.sticky.scope !== 'queue' || checkRequirementSet(s.quals, conv.alts) === null;
}

/** Routes one conversation if an agent can take it now; otherwise it keeps waiting. */
function routeConversation(state: RoutingState, conv: ConversationNode, now: number, out: DecideResult, auditTop: number): void {
  if (conv.removed || conv.state === 'offered') return;
  const s = conv.stickyAgent;
  if (s && stickyReady(conv)) {
    commit(state, conv, [s], now, out, (outcome) => stickyAudit(state, conv, now, outcome, s));
    return;
  }
  if (conv.state === 'sticky-wait') {
    const worthWaiting =
      s !== null &&
      conv.stickyUntil! > now &&
      s.state !== 'offline' &&
      !conv.excluded?.has(s.id) &&
      (conv.queue.routing.sticky.scope !== 'queue' || checkRequirementSet(s.quals, conv.alts) === null);
    if (worthWaiting) return;
    state.releaseSticky(conv, false);
  }
  if (conv.state !== 'waiting') return;
  const routing = conv.queue.routing;
  const k = routing.mode === 'assign' ? 1 : routing.broadcast;
  const ex = explore(conv, k, auditTop);
  if (ex.ranked.length === 0) return;
  const chosen = ex.ranked.slice(0, k).map((m) => m.agent);
  commit(state, conv, chosen, now, out, (outcome) => bucketAudit(state, conv, now, outcome, chosen, ex));
}

/** The free agents of the conversation's bucket in policy order, skipping excluded ones (bounded). */
function explore(conv: ConversationNode, k: number, auditTop: number): Exploration {
  const want = Math.max(k, auditTop);
  const ex: Exploration = { ranked: [], excludedSeen: [] };
  const excluded = conv.excluded;
  conv.bucket!.free.visitInOrder((m) => {
    if (excluded?.has(m.agent.id)) {
      if (ex.excludedSeen.length < auditTop) ex.excludedSeen.push(m);
      return false;
    }
    ex.ranked.push(m);
    return ex.ranked.length >= want;
  });
  return ex;
}

/** Makes the offers (or the assignment) and updates every structure they touch. */
function commit(
  state: RoutingState,
  conv: ConversationNode,
  agents: AgentNode[],
  now: number,
  out: DecideResult,
  audit: (outcome: DecisionAudit['outcome']) => DecisionAudit,
): void {
  const routing = conv.queue.routing;
  if (routing.mode === 'assign') {
    const a = agents[0]!;
    const record = audit('assigned');
    state.unplace(conv);
    state.noteOffered(a);
    a.load++;
    a.idleSince = now;
    state.destroy(conv);
    state.touchAgent(a);
    out.assignments.push({ conversationId: conv.id, queue: conv.queue.name, agentId: a.id, audit: record });
    return;
  }
  const record = audit('offered');
  const expiresAt = now + routing.offer_timeout_s * 1000;
  state.unplace(conv);
  conv.state = 'offered';
  for (const a of agents) {
    state.noteOffered(a);
    state.addOffer(conv, a, expiresAt);
    state.touchAgent(a);
  }
  out.offers.push({ conversationId: conv.id, queue: conv.queue.name, agentIds: agents.map((a) => a.id), expiresAt, audit: record });
}

/**
 * The conversation a newly free agent should take: a sticky one waiting for them first, else
 * the best of the heap tops of the buckets they qualify for. A bucket whose top is not better
 * than the best so far is skipped without looking further.
 */
function bestConversationFor(agent: AgentNode): ConversationNode | null {
  let best: ConversationNode | null = null;
  for (const conv of agent.sticky) {
    if (conv.state !== 'offered' && stickyReady(conv) && (!best || conversationBefore(conv, best))) best = conv;
  }
  if (best) return best;
  const id = agent.id;
  for (const bucket of agent.memberships.keys()) {
    const top = bucket.convs.peek();
    if (!top || (best && !conversationBefore(top, best))) continue;
    let cand: ConversationNode | undefined = top;
    if (top.excluded?.has(id)) {
      const limit = best;
      cand = bucket.convs.visitInOrder((c) => !c.excluded?.has(id) || (limit !== null && !conversationBefore(c, limit)));
      if (cand?.excluded?.has(id)) cand = undefined;
    }
    if (cand && (!best || conversationBefore(cand, best))) best = cand;
  }
  return best;
}
