/**
 * All buckets, keyed by policy and requirement, and each agent's membership in them. An agent
 * is checked against a bucket once, when either of them appears or the agent's skills change;
 * after that, state, load and offer changes only move the agent in and out of the free heaps of
 * the buckets it belongs to.
 */
import { policyKey } from './agent-order.js';
import { checkRequirementSet, requirementKey, skillSum, type Qualifications, type RequirementSet } from './requirement-model.js';
import { Bucket } from './routing-bucket.js';
import { statusOf, type AgentNode, type Membership } from './routing-nodes.js';
import type { AgentId, RoutingPolicy } from './routing-types.js';

export class BucketIndex {
  private readonly buckets = new Map<string, Bucket>();
  // Empty, unpinned buckets in the order they became empty: reused if their requirement comes
  // back (common with detected languages), dropped oldest first beyond `maxIdle`.
  private readonly idle = new Set<Bucket>();
  private nextId = 1;

  constructor(
    private readonly agents: ReadonlyMap<AgentId, AgentNode>,
    private readonly maxIdle: number,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  /** Total memberships (agent × bucket pairs): the main memory cost of the index. */
  membershipCount(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.eligibleCount;
    return n;
  }

  /** The bucket for `alts` under `policy`, created (and filled with its agents) if needed; counted as used. */
  acquire(alts: RequirementSet, policy: RoutingPolicy, key = `${policy} ${requirementKey(alts)}`): Bucket {
    let b = this.buckets.get(key);
    if (!b) {
      b = new Bucket(this.nextId++, key, alts, policy);
      this.buckets.set(key, b);
      for (const agent of this.agents.values()) this.classify(agent, b);
    }
    b.refs++;
    this.idle.delete(b);
    return b;
  }

  release(b: Bucket): void {
    b.refs--;
    if (b.refs === 0 && b.pins === 0) this.idle.add(b);
  }

  /** Keeps a queue's configured requirement warm (no agent scan when the first conversation comes). */
  pin(alts: RequirementSet, policy: RoutingPolicy): Bucket {
    const b = this.acquire(alts, policy);
    b.pins++;
    b.refs--;
    return b;
  }

  unpin(b: Bucket): void {
    b.pins--;
    if (b.refs === 0 && b.pins === 0) this.idle.add(b);
  }

  /** Drops the oldest idle buckets beyond the limit. */
  trim(): void {
    for (const b of this.idle) {
      if (this.idle.size <= this.maxIdle) break;
      this.idle.delete(b);
      this.buckets.delete(b.key);
      for (const agent of this.agents.values()) {
        const m = agent.memberships.get(b);
        if (m) agent.memberships.delete(b);
      }
    }
  }

  /** A new agent: checked against every bucket. */
  addAgent(agent: AgentNode): void {
    agent.status = statusOf(agent);
    for (const b of this.buckets.values()) this.classify(agent, b);
  }

  /** The agent leaves every bucket (removal, or before its skills change). */
  removeAgent(agent: AgentNode): void {
    for (const b of this.buckets.values()) {
      const m = agent.memberships.get(b);
      if (m) {
        b.free.remove(m);
        b.statusCounts[agent.status]--;
      } else {
        const why = checkRequirementSet(agent.quals, b.alts);
        if (why !== null) b.countIneligible(why, -1);
      }
    }
    agent.memberships.clear();
  }

  /** New skills or languages: every bucket is checked again. */
  requalify(agent: AgentNode, quals: Qualifications): void {
    this.removeAgent(agent);
    agent.quals = quals;
    this.addAgent(agent);
  }

  /**
   * After any change of state, load, pending offers, idle time or tie-break: moves the agent in
   * or out of the free heaps and re-keys it where it stays. O(memberships × log n) when the
   * agent becomes free or its order changes, O(memberships) when it stops being free, O(1) when
   * nothing that matters changed.
   */
  refresh(agent: AgentNode): void {
    const old = agent.status;
    const status = statusOf(agent);
    agent.status = status;
    if (status === 'free') {
      // Longest idle and the tie-break order every policy; least-busy and round-robin also move
      // with load and turns, so those are recomputed per membership below.
      const moved = old !== 'free' || agent.idleSince !== agent.keyedIdle || agent.tie !== agent.keyedTie;
      agent.keyedIdle = agent.idleSince;
      agent.keyedTie = agent.tie;
      for (const m of agent.memberships.values()) {
        const b = m.bucket;
        if (old !== status) {
          b.statusCounts[old]--;
          b.statusCounts.free++;
        }
        const primary = policyKey(b.policy, m);
        if (m.heapIndex < 0) {
          m.primary = primary;
          b.free.push(m);
        } else if (moved || primary !== m.primary) {
          m.primary = primary;
          b.free.update(m);
        }
      }
    } else if (old !== status) {
      for (const m of agent.memberships.values()) {
        const b = m.bucket;
        b.statusCounts[old]--;
        b.statusCounts[status]++;
        if (m.heapIndex >= 0) b.free.remove(m);
      }
    }
  }

  private classify(agent: AgentNode, b: Bucket): void {
    const why = checkRequirementSet(agent.quals, b.alts);
    if (why !== null) {
      b.countIneligible(why, 1);
      return;
    }
    const m: Membership = { agent, bucket: b, skill: skillSum(agent.quals, b.alts), primary: 0, heapIndex: -1 };
    agent.memberships.set(b, m);
    b.statusCounts[agent.status]++;
    if (agent.status === 'free') {
      m.primary = policyKey(b.policy, m);
      b.free.push(m);
    }
  }
}
