import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IndexedHeap } from './indexed-heap.js';
import { TimerHeap } from './timer-heap.js';

interface Item {
  key: number;
  id: number;
  heapIndex: number;
}
const before = (a: Item, b: Item) => a.key < b.key || (a.key === b.key && a.id < b.id);
const order = (items: Item[]) => [...items].sort((a, b) => (before(a, b) ? -1 : 1)).map((i) => i.id);

describe('IndexedHeap', () => {
  it('matches a sorted array through pushes, removals and re-keys (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), key: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('rekey' as const), pick: fc.nat(), key: fc.integer({ min: 0, max: 20 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const heap = new IndexedHeap<Item>(before);
        const live: Item[] = [];
        let id = 0;
        for (const o of ops) {
          if (o.kind === 'push') {
            const item = { key: o.key, id: id++, heapIndex: -1 };
            heap.push(item);
            live.push(item);
          } else if (live.length > 0) {
            const item = live[o.pick % live.length]!;
            if (o.kind === 'remove') {
              expect(heap.remove(item)).toBe(true);
              expect(heap.remove(item)).toBe(false);
              live.splice(live.indexOf(item), 1);
            } else {
              item.key = o.key;
              heap.update(item);
            }
          }
          expect(heap.size).toBe(live.length);
          expect(heap.peek()?.id).toBe(order(live)[0]);
        }
        // In-order exploration sees every item in sorted order without changing the heap.
        const seen: number[] = [];
        heap.visitInOrder((i) => {
          seen.push(i.id);
          return false;
        });
        expect(seen).toEqual(order(live));
        expect(heap.size).toBe(live.length);
        const popped: number[] = [];
        for (let i = heap.pop(); i; i = heap.pop()) popped.push(i.id);
        expect(popped).toEqual(order(live));
      }),
    );
  });

  it('stops exploring at the first match and at the limit', () => {
    const heap = new IndexedHeap<Item>(before);
    for (let i = 0; i < 50; i++) heap.push({ key: i, id: i, heapIndex: -1 });
    let visits = 0;
    const found = heap.visitInOrder((i) => {
      visits++;
      return i.key === 3;
    });
    expect(found?.id).toBe(3);
    expect(visits).toBe(4);
    visits = 0;
    expect(heap.visitInOrder(() => (visits++, false), 5)).toBeUndefined();
    expect(visits).toBe(5);
  });
});

describe('TimerHeap', () => {
  it('pops due timers in time order, same-time timers in scheduling order, and forgets cancelled ones', () => {
    const t = new TimerHeap<string>();
    t.schedule(30, 'c');
    const b = t.schedule(20, 'b');
    t.schedule(10, 'a1');
    t.schedule(10, 'a2');
    t.cancel(b);
    expect(t.nextAt()).toBe(10);
    const due: string[] = [];
    for (let x = t.popDue(25); x; x = t.popDue(25)) due.push(x.payload);
    expect(due).toEqual(['a1', 'a2']);
    expect(t.nextAt()).toBe(30);
    expect(t.popDue(29)).toBeUndefined();
  });
});
