/**
 * A bucket gathers everything that shares one requirement set and one agent policy: the
 * conversations waiting with exactly that requirement (a heap in work order) and the free agents
 * who meet it (a heap in policy order). Matching is then a peek on one side or the other, never
 * a scan. Per-bucket counts of agents by status and of ineligible agents by reason make the
 * decision audit cheap.
 */
import { IndexedHeap } from './indexed-heap.js';
import { membershipBefore } from './agent-order.js';
import type { RequirementSet } from './requirement-model.js';
import { conversationBefore, type AgentStatus, type ConversationNode, type Membership } from './routing-nodes.js';
import type { RoutingPolicy } from './routing-types.js';

export class Bucket {
  /** Waiting conversations (not those in a sticky wait or with pending offers). */
  readonly convs = new IndexedHeap<ConversationNode>(conversationBefore);
  /** Free agents that meet the requirement. */
  readonly free = new IndexedHeap<Membership>(membershipBefore);
  /** Agents that meet the requirement, by status (free agents are also in `free`). */
  readonly statusCounts: Record<AgentStatus, number> = { free: 0, full: 0, paused: 0, offline: 0 };
  /** Agents that do not meet it, by the first check they fail. */
  readonly ineligible = new Map<string, number>();
  /** Conversations whose requirement maps here (waiting, sticky or offered). */
  refs = 0;
  /** Queues whose configured steps map here: kept even when empty. */
  pins = 0;

  constructor(
    readonly id: number,
    readonly key: string,
    readonly alts: RequirementSet,
    readonly policy: RoutingPolicy,
  ) {}

  get eligibleCount(): number {
    const c = this.statusCounts;
    return c.free + c.full + c.paused + c.offline;
  }

  countIneligible(reason: string, delta: 1 | -1): void {
    const n = (this.ineligible.get(reason) ?? 0) + delta;
    if (n > 0) this.ineligible.set(reason, n);
    else this.ineligible.delete(reason);
  }
}
