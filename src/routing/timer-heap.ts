/**
 * The engine's timers: relaxation steps, sticky waits and offer expiries, in one indexed heap
 * ordered by due time. Cancelling is an O(log n) removal, so accepted offers and moved
 * conversations leave no stale entries behind, and `nextAt()` is exact: the service sets a
 * single real timer for it.
 */
import { IndexedHeap, type HeapSlot } from './indexed-heap.js';

/** A scheduled wake-up carrying its payload. `seq` orders timers due at the same millisecond. */
export interface Timer<P> extends HeapSlot {
  at: number;
  seq: number;
  payload: P;
}

export class TimerHeap<P> {
  private readonly heap = new IndexedHeap<Timer<P>>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  private seq = 0;

  get size(): number {
    return this.heap.size;
  }

  /** Schedules `payload` at `at`; keep the returned handle to cancel it. */
  schedule(at: number, payload: P): Timer<P> {
    const t: Timer<P> = { at, seq: this.seq++, payload, heapIndex: -1 };
    this.heap.push(t);
    return t;
  }

  cancel(timer: Timer<P> | null | undefined): void {
    if (timer) this.heap.remove(timer);
  }

  /** The earliest due time, or null when nothing is scheduled. */
  nextAt(): number | null {
    return this.heap.peek()?.at ?? null;
  }

  /** Removes and returns the earliest timer if it is due at `now`. */
  popDue(now: number): Timer<P> | undefined {
    const top = this.heap.peek();
    if (!top || top.at > now) return undefined;
    return this.heap.pop();
  }
}
