/**
 * planBatches: the batches of a backlog, planned a window of sizes at a time. The batches must be
 * exactly those of planning the whole backlog at once, and a window's sizes are asked for only
 * when the batches before it are handed out.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planBatches, type PlannedBatch } from './imap-source.js';

/** The reference: every size known up front, one pass (the plan before windows). */
function wholePlan(todo: [number, number][], maxMessages: number, maxBytes: number): number[][] {
  const out: number[][] = [];
  let bytes = 0;
  for (const [uid, size] of todo) {
    const open = out.at(-1);
    if (!open || open.length >= maxMessages || bytes + size > maxBytes) {
      out.push([uid]);
      bytes = size;
    } else {
      open.push(uid);
      bytes += size;
    }
  }
  return out;
}

async function collect(gen: AsyncGenerator<PlannedBatch>): Promise<PlannedBatch[]> {
  const out: PlannedBatch[] = [];
  for await (const b of gen) out.push(b);
  return out;
}

describe('planBatches', () => {
  it('plans the batches of the whole backlog, whatever the window, and marks only the final one last', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ size: fc.integer({ min: 0, max: 120 }), committed: fc.boolean() }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 300 }),
        async (mail, size, maxMessages, maxBytes) => {
          const uids = mail.map((_, i) => 10 + i * 3);
          const sizeOf = new Map(uids.map((u, i) => [u, mail[i]!.size]));
          const todo = uids.filter((_, i) => !mail[i]!.committed).map((u): [number, number] => [u, sizeOf.get(u)!]);
          const window = async (part: number[]) => part.filter((u) => todo.some(([t]) => t === u)).map((u): [number, number] => [u, sizeOf.get(u)!]);
          const got = await collect(planBatches(uids, size, window, maxMessages, maxBytes));
          expect(got.map((b) => b.uids)).toEqual(wholePlan(todo, maxMessages, maxBytes));
          expect(got.map((b) => b.last)).toEqual(got.map((_, i) => i === got.length - 1));
        },
      ),
    );
  });

  it('asks for one window of sizes before the first batch, and for the next only when it needs it', async () => {
    const uids = Array.from({ length: 10_000 }, (_, i) => i + 1);
    const asked: number[][] = [];
    const window = async (part: number[]) => {
      asked.push(part);
      return part.map((u): [number, number] => [u, 3000]);
    };
    const plan = planBatches(uids, 1000, window, 250, 16 * 1024 * 1024);
    const first = await plan.next();
    expect(first.value).toEqual({ uids: uids.slice(0, 250), last: false });
    expect(asked).toEqual([uids.slice(0, 1000)]);
    // The fourth batch closes when the next UID does not fit: that one is in the second window.
    for (let i = 0; i < 3; i++) await plan.next();
    expect(asked.map((a) => a[0])).toEqual([1, 1001]);
    const rest = await collect(plan);
    expect(rest).toHaveLength(36);
    expect(rest.at(-1)).toEqual({ uids: uids.slice(9750), last: true });
    expect(asked).toHaveLength(10);
  });

  it('skips windows with nothing to download, and plans nothing when every message is committed', async () => {
    const uids = [1, 2, 3, 4, 5, 6, 7];
    const none = await collect(planBatches(uids, 2, async () => [], 5, 1000));
    expect(none).toEqual([]);
    const some = await collect(planBatches(uids, 2, async (part) => part.filter((u) => u === 2 || u === 7).map((u): [number, number] => [u, 10]), 5, 1000));
    expect(some).toEqual([{ uids: [2, 7], last: true }]);
  });

  it('puts a message larger than the byte bound in a batch of its own', async () => {
    const sizes = new Map([
      [1, 10],
      [2, 500],
      [3, 10],
      [4, 10],
    ]);
    const got = await collect(planBatches([1, 2, 3, 4], 3, async (part) => part.map((u): [number, number] => [u, sizes.get(u)!]), 10, 100));
    expect(got.map((b) => b.uids)).toEqual([[1], [2], [3, 4]]);
  });

  it('passes a failure of the window on to the one who asks for the batch', async () => {
    const boom = new Error('database unavailable');
    const plan = planBatches([1, 2, 3], 2, async (part) => (part[0] === 3 ? Promise.reject(boom) : part.map((u): [number, number] => [u, 1])), 1, 100);
    expect((await plan.next()).value).toEqual({ uids: [1], last: false });
    // The second batch closes only once the next UID is seen: in the failing window.
    await expect(plan.next()).rejects.toBe(boom);
  });
});
