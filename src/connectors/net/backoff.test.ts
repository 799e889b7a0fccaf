import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff, backoffCeiling, jittered } from './backoff.js';

describe('Backoff', () => {
  it('doubles from the base up to the cap (no jitter when random() is 0)', () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 30_000, random: () => 0, now: () => 0 });
    expect(Array.from({ length: 7 }, () => b.failed())).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(b.failures).toBe(7);
  });

  it('takes up to half off with the default jitter', () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 30_000, random: () => 0.999, now: () => 0 });
    expect(b.failed()).toBe(500);
    expect(new Backoff({ baseMs: 1000, maxMs: 1000, jitter: 0.2, random: () => 1 }).failed()).toBe(800);
  });

  it('resets after a stable connection, but not after a short one (flapping keeps growing)', () => {
    let now = 0;
    const b = new Backoff({ baseMs: 1000, maxMs: 60_000, stableMs: 60_000, random: () => 0, now: () => now });
    b.failed();
    b.failed();
    b.connected();
    now += 5_000; // dropped after 5 s: not stable
    expect(b.failed()).toBe(4000);
    b.connected();
    now += 60_000; // up for a minute: stable
    expect(b.failed()).toBe(1000);
    expect(b.failed()).toBe(2000);
    b.reset();
    expect(b.failed()).toBe(1000);
  });

  it('refuses nonsense settings', () => {
    expect(() => new Backoff({ baseMs: 0, maxMs: 1 })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: 10, maxMs: 5 })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: 1, maxMs: 5, jitter: 2 })).toThrow(RangeError);
  });

  it('every delay lies in (ceiling × (1 − jitter), ceiling] and never above the cap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 200 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (base, capFactor, attempt, r, jitter) => {
          const maxMs = base * capFactor;
          const ceiling = backoffCeiling(attempt, { baseMs: base, maxMs });
          const delay = jittered(ceiling, () => r, jitter);
          expect(ceiling).toBeLessThanOrEqual(maxMs);
          expect(ceiling).toBeGreaterThanOrEqual(base);
          expect(delay).toBeLessThanOrEqual(ceiling);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling * (1 - jitter)));
        },
      ),
    );
  });
});
