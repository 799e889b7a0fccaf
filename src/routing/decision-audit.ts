/**
 * The "why did this go to Bob?" record of each decision. It stays cheap at 1,000 agents: the
 * named candidates come from the top of the bucket's free-agent heap (bounded), everyone else is
 * counted from the bucket's maintained counters, never by scanning the agents.
 */
import { auditScore, scoreMeaning } from './agent-order.js';
import { describeRequirement, stepLabel } from './requirement-model.js';
import type { AgentNode, ConversationNode, Membership } from './routing-nodes.js';
import type { RoutingState } from './routing-state.js';
import type { AuditCandidate, DecisionAudit } from './routing-types.js';
import { workScore } from './work-order.js';

/** What the matcher saw in the bucket: free eligible agents in policy order, and excluded ones met on the way. */
export interface Exploration {
  ranked: Membership[];
  excludedSeen: Membership[];
}

/** The audit of a decision taken from a bucket (`chosen` are the first of `ex.ranked`). */
export function bucketAudit(
  state: RoutingState,
  conv: ConversationNode,
  now: number,
  outcome: DecisionAudit['outcome'],
  chosen: readonly AgentNode[],
  ex: Exploration,
): DecisionAudit {
  const bucket = conv.bucket!;
  const policy = conv.queue.routing.policy;
  const seq = state.offerSeq;
  const candidates: AuditCandidate[] = ex.ranked.map((m) => ({
    agentId: m.agent.id,
    login: m.agent.login,
    eligible: true,
    reason: null,
    score: auditScore(policy, m, now, seq),
  }));
  for (const m of ex.excludedSeen) {
    candidates.push({ agentId: m.agent.id, login: m.agent.login, eligible: false, reason: 'excluded', score: auditScore(policy, m, now, seq) });
  }
  const filtered: Record<string, number> = {};
  for (const [reason, n] of bucket.ineligible) filtered[reason] = n;
  const c = bucket.statusCounts;
  if (c.paused) filtered.paused = c.paused;
  if (c.offline) filtered.offline = c.offline;
  if (c.full) filtered.full = c.full;
  // Excluded agents that are free sit in the heap; those not met while exploring are counted here.
  let excludedFree = 0;
  if (conv.excluded) {
    for (const id of conv.excluded) {
      const m = state.agents.get(id)?.memberships.get(bucket);
      if (m && m.heapIndex >= 0) excludedFree++;
    }
  }
  const excludedNotListed = excludedFree - ex.excludedSeen.length;
  if (excludedNotListed > 0) filtered.excluded = excludedNotListed;
  const notListed = bucket.free.size - excludedFree - ex.ranked.length;
  if (notListed > 0) filtered['eligible, not listed'] = notListed;
  return {
    at: now,
    conversationId: conv.id,
    queue: conv.queue.name,
    outcome,
    step: conv.step,
    stepLabel: stepLabel(conv.queue, conv.step),
    sticky: false,
    requirement: describeRequirement(conv.alts),
    agentIds: chosen.map((a) => a.id),
    workScore: round3(workScore(state.weights, conv.workKey, now)),
    policy,
    scoreMeaning: scoreMeaning(policy),
    candidates,
    filtered,
    agentsKnown: state.agents.size,
  };
}

/** The audit of a conversation that went back to its last agent. */
export function stickyAudit(state: RoutingState, conv: ConversationNode, now: number, outcome: DecisionAudit['outcome'], agent: AgentNode): DecisionAudit {
  const sticky = conv.queue.routing.sticky;
  return {
    at: now,
    conversationId: conv.id,
    queue: conv.queue.name,
    outcome,
    step: conv.step,
    stepLabel: 'sticky',
    sticky: true,
    requirement: `last agent (scope ${sticky.scope}, within ${sticky.hours} h)`,
    agentIds: [agent.id],
    workScore: round3(workScore(state.weights, conv.workKey, now)),
    policy: conv.queue.routing.policy,
    scoreMeaning: 'none: the customer’s last agent comes first',
    candidates: [{ agentId: agent.id, login: agent.login, eligible: true, reason: null, score: null }],
    filtered: {},
    agentsKnown: state.agents.size,
  };
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;
