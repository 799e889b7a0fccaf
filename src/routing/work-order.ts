/**
 * The work order between waiting conversations:
 *
 *   score(t) = priorityWeight × priority + minutes waited + slaWeight × minutes past the SLA due
 *
 * (the SLA term is negative before the due time, so the closer to its due time, the sooner).
 * Every term grows at the same rate with t for every conversation, so the order never changes
 * while they wait: the heap key is the score minus its common time part, computed once at
 * enqueue. A relaxation step moves a conversation to a wider bucket with the same key: it keeps
 * its place.
 */

export interface WorkWeights {
  priorityWeight: number;
  slaWeight: number;
}

const MINUTE = 60_000;

/** The time-invariant key, higher first: `score(t) − (1 + slaWeight) × t / 1 min`. */
export function workKey(w: WorkWeights, priority: number, arrivedAt: number, dueAt: number): number {
  return w.priorityWeight * priority - arrivedAt / MINUTE - (w.slaWeight * dueAt) / MINUTE;
}

/** The score at `now`, as reported in the decision audit. */
export function workScore(w: WorkWeights, key: number, now: number): number {
  return key + ((1 + w.slaWeight) * now) / MINUTE;
}
