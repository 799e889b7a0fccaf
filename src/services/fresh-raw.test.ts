import { describe, expect, it } from 'vitest';
import { FreshRaw } from './fresh-raw.js';

const bytes = (n: number) => new Uint8Array(n);

describe('FreshRaw (just-committed bytes handed to ingest)', () => {
  it('hands each message over once, then the row must be read', () => {
    const fresh = new FreshRaw(100);
    fresh.put(1, bytes(10));
    expect(fresh.take(1)?.length).toBe(10);
    expect(fresh.take(1)).toBeUndefined();
  });

  it('drops the oldest past its byte budget, and never keeps one larger than the budget', () => {
    const fresh = new FreshRaw(100);
    fresh.put(1, bytes(40));
    fresh.put(2, bytes(40));
    fresh.put(3, bytes(40));
    expect(fresh.take(1)).toBeUndefined();
    expect(fresh.take(2)?.length).toBe(40);
    fresh.put(4, bytes(101));
    expect(fresh.take(4)).toBeUndefined();
    // Taking frees its bytes: two more fit beside message 3.
    fresh.put(5, bytes(30));
    fresh.put(6, bytes(30));
    expect([fresh.take(3)?.length, fresh.take(5)?.length, fresh.take(6)?.length]).toEqual([40, 30, 30]);
  });
});
