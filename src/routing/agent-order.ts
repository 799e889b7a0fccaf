/**
 * The agent order of a queue's routing policy, as a key per bucket membership (lower first);
 * ties go to the longest idle agent, then to a seeded random draw, then to the lower id so the
 * order is total and replayable.
 */
import type { AgentNode, Membership } from './routing-nodes.js';
import type { RoutingPolicy } from './routing-types.js';

/** The policy key of `m` (lower is offered first). */
export function policyKey(policy: RoutingPolicy, m: Membership): number {
  const a = m.agent;
  switch (policy) {
    case 'longest-idle':
      return 0;
    case 'least-busy':
      return (a.load + a.pending) / a.capacity;
    case 'most-skilled':
      return -m.skill;
    case 'least-skilled':
      // Keep experts free: the least qualified agent that still meets the requirement first.
      return m.skill;
    case 'round-robin':
      // The agent whose last offer is oldest: a rotation over everyone who qualifies.
      return a.lastOfferSeq;
  }
}

/** Strict order between two memberships of the same bucket. */
export function membershipBefore(x: Membership, y: Membership): boolean {
  if (x.primary !== y.primary) return x.primary < y.primary;
  return agentTieBefore(x.agent, y.agent);
}

/** The tie-break shared by every policy: longest idle, then the seeded draw, then the id. */
export function agentTieBefore(a: AgentNode, b: AgentNode): boolean {
  if (a.idleSince !== b.idleSince) return a.idleSince < b.idleSince;
  if (a.tie !== b.tie) return a.tie < b.tie;
  return a.id < b.id;
}

/** What `AuditCandidate.score` means for a policy (so a supervisor can read the audit). */
export function scoreMeaning(policy: RoutingPolicy): string {
  switch (policy) {
    case 'longest-idle':
      return 'seconds idle (higher first)';
    case 'least-busy':
      return 'load ratio incl. pending offers (lower first)';
    case 'most-skilled':
      return 'sum of required skill levels (higher first)';
    case 'least-skilled':
      return 'sum of required skill levels (lower first)';
    case 'round-robin':
      return 'offers to others since this agent’s last (higher first)';
  }
}

/** The human-readable policy value of one agent for the audit. */
export function auditScore(policy: RoutingPolicy, m: Membership, now: number, offerSeq: number): number {
  const a = m.agent;
  switch (policy) {
    case 'longest-idle':
      return Math.round((now - a.idleSince) / 1000);
    case 'least-busy':
      return Math.round(((a.load + a.pending) / a.capacity) * 1000) / 1000;
    case 'most-skilled':
    case 'least-skilled':
      return m.skill;
    case 'round-robin':
      return a.lastOfferSeq < 0 ? offerSeq : offerSeq - a.lastOfferSeq - 1;
  }
}
