import { describe, expect, it } from 'vitest';
import { BACKGROUND_PATIENCE, ConnectionQueue, type Priority } from './connection-queue.js';

/** A new queue, and `take`, which borrows its connection for `name` and records in `order` who got it when. */
function borrowers() {
  const queue = new ConnectionQueue();
  const order: string[] = [];
  const take = async (name: string, priority: Priority): Promise<() => void> => {
    const release = await queue.acquire(priority);
    order.push(name);
    return release;
  };
  return { queue, order, take };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('ConnectionQueue', () => {
  it('hands the connection to one borrower at a time, first come first served within a line', async () => {
    const { queue, order, take } = borrowers();
    const first = await take('a', 'background');
    const waiting = [take('b', 'background'), take('c', 'background')];
    await settle();
    expect(order).toEqual(['a']);
    expect(queue.waiting).toEqual({ interactive: 0, background: 2 });
    first();
    (await waiting[0]!)();
    (await waiting[1]!)();
    expect(order).toEqual(['a', 'b', 'c']);
    // Free again: the next borrower gets it at once.
    (await take('d', 'interactive'))();
    expect(order).toEqual(['a', 'b', 'c', 'd']);
  });

  it('serves a waiting interactive borrower before background ones that came earlier', async () => {
    const { order, take } = borrowers();
    const filing = await take('filing', 'background');
    const commit = take('commit', 'background');
    const moreFiling = take('more filing', 'background');
    const api = take('api', 'interactive');
    await settle();
    filing();
    (await api)();
    (await commit)();
    (await moreFiling)();
    expect(order).toEqual(['filing', 'api', 'commit', 'more filing']);
  });

  it('lets the event loop run between two borrowers: a request that arrives meanwhile goes before waiting background work', async () => {
    const { order, take } = borrowers();
    const filing = await take('filing', 'background');
    const commit = take('commit', 'background');
    await settle();
    // A request's first query, from an I/O callback that runs after the filing gave the connection back.
    let api!: Promise<() => void>;
    setImmediate(() => (api = take('api', 'interactive')));
    filing();
    await settle();
    await settle();
    (await api)();
    (await commit)();
    expect(order).toEqual(['filing', 'api', 'commit']);
  });

  it(`passes a background borrower over at most ${BACKGROUND_PATIENCE} times in a row`, async () => {
    const { order, take } = borrowers();
    const first = await take('api 0', 'interactive');
    const mail = take('mail', 'background');
    // A busy API: more interactive borrowers waiting than the background one's patience.
    const apis = Array.from({ length: BACKGROUND_PATIENCE + 1 }, (_, i) => take(`api ${i + 1}`, 'interactive'));
    await settle();
    first();
    for (let i = 0; i < BACKGROUND_PATIENCE; i++) (await apis[i]!)();
    (await mail)();
    (await apis[BACKGROUND_PATIENCE]!)();
    const served = Array.from({ length: BACKGROUND_PATIENCE + 1 }, (_, i) => `api ${i}`);
    expect(order).toEqual([...served, 'mail', `api ${BACKGROUND_PATIENCE + 1}`]);
  });

  it('gives the connection back once, however often release is called', async () => {
    const { order, take } = borrowers();
    const a = await take('a', 'interactive');
    const b = take('b', 'interactive');
    const c = take('c', 'interactive');
    await settle();
    a();
    a();
    await settle();
    expect(order).toEqual(['a', 'b']);
    (await b)();
    (await c)();
    expect(order).toEqual(['a', 'b', 'c']);
  });
});
