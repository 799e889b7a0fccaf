/**
 * A binary min-heap whose items remember their own position, so any item can be removed or
 * re-keyed in O(log n) without a search. The router keeps one per bucket for waiting
 * conversations, one per bucket for free agents, and one for timers; an agent sits in many
 * bucket heaps at once through one `HeapSlot` per bucket.
 */

/** Anything stored in an `IndexedHeap`: `heapIndex` is owned by the heap (-1 when outside). */
export interface HeapSlot {
  heapIndex: number;
}

/** `before(a, b)` is true when `a` must come out of the heap before `b` (a strict total order). */
export type Before<T> = (a: T, b: T) => boolean;

/** Min-heap with O(1) peek, O(log n) push / remove / update, and in-order lazy exploration. */
export class IndexedHeap<T extends HeapSlot> {
  private readonly items: T[] = [];
  // Reused by `visitInOrder` so exploring the top few items allocates nothing in steady state.
  private readonly frontier: number[] = [];

  constructor(private readonly before: Before<T>) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  has(item: T): boolean {
    return item.heapIndex >= 0 && this.items[item.heapIndex] === item;
  }

  push(item: T): void {
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  /** Removes `item` if it is in this heap; returns whether it was. */
  remove(item: T): boolean {
    if (!this.has(item)) return false;
    const i = item.heapIndex;
    const last = this.items.pop()!;
    item.heapIndex = -1;
    if (last !== item) {
      this.items[i] = last;
      last.heapIndex = i;
      this.down(i);
      this.up(last.heapIndex);
    }
    return true;
  }

  /** Restores the order after the key of `item` changed (either direction). */
  update(item: T): void {
    if (!this.has(item)) return;
    this.down(item.heapIndex);
    this.up(item.heapIndex);
  }

  /**
   * Calls `visit` on the items in heap order, lazily, until it returns true (then returns that
   * item) or `limit` items were seen. Costs O(k log k) for k visited items, whatever the heap
   * size: a frontier of candidate indices replaces popping and re-pushing.
   */
  visitInOrder(visit: (item: T) => boolean, limit = Infinity): T | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const frontier = this.frontier;
    frontier.length = 0;
    frontier.push(0);
    let seen = 0;
    while (frontier.length > 0 && seen < limit) {
      const i = this.popFrontier();
      const item = items[i]!;
      seen++;
      if (visit(item)) {
        frontier.length = 0;
        return item;
      }
      const l = 2 * i + 1;
      if (l < items.length) this.pushFrontier(l);
      if (l + 1 < items.length) this.pushFrontier(l + 1);
    }
    frontier.length = 0;
    return undefined;
  }

  /** A snapshot of the items, in no particular order (inspection and tests). */
  toArray(): T[] {
    return [...this.items];
  }

  private pushFrontier(index: number): void {
    const f = this.frontier;
    let i = f.length;
    f.push(index);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(this.items[f[i]!]!, this.items[f[p]!]!)) break;
      [f[i], f[p]] = [f[p]!, f[i]!];
      i = p;
    }
  }

  private popFrontier(): number {
    const f = this.frontier;
    const top = f[0]!;
    const last = f.pop()!;
    if (f.length > 0) {
      f[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < f.length && this.before(this.items[f[l]!]!, this.items[f[m]!]!)) m = l;
        if (r < f.length && this.before(this.items[f[r]!]!, this.items[f[m]!]!)) m = r;
        if (m === i) break;
        [f[i], f[m]] = [f[m]!, f[i]!];
        i = m;
      }
    }
    return top;
  }

  private up(i: number): void {
    const items = this.items;
    const item = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (!this.before(item, parent)) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(items[r]!, items[l]!) ? r : l;
      const child = items[c]!;
      if (!this.before(child, item)) break;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}
