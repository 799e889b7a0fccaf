/**
 * Deterministic randomness for the router and the simulator: the same seed gives the same
 * numbers on every machine (no `Math.random`), so a decision can be replayed.
 */

/** A 32-bit integer mix (the finaliser of MurmurHash3): spreads close inputs far apart. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * A stable pseudo-random value in [0, 1) for a tuple of integers: the router's tie-break between
 * agents that are equal on every policy key. Depends only on its inputs, never on call order.
 */
export function hashUnit(seed: number, a: number, b: number): number {
  let h = mix32(seed ^ 0x9e3779b9);
  h = mix32(h ^ Math.imul(a | 0, 0x27d4eb2d) ^ Math.floor(a / 2 ** 32));
  h = mix32(h ^ Math.imul(b | 0, 0x165667b1));
  return h / 2 ** 32;
}

/** A string's 32-bit FNV-1a hash, to fold non-numeric ids into `hashUnit`. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A seeded generator (mulberry32): fast, 2^32 period, good enough for simulation draws. */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = mix32(seed >>> 0 || 1);
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Exponential with the given mean (inter-arrival times of a Poisson process). */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** Standard normal (Box–Muller; one of the pair is dropped to stay stateless). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /**
   * Lognormal with the given mean and coefficient of variation: σ² = ln(1 + cv²) and
   * μ = ln(mean) − σ²/2, so that E[X] = mean and sd/mean = cv.
   */
  lognormal(mean: number, cv: number): number {
    const s2 = Math.log(1 + cv * cv);
    return Math.exp(Math.log(mean) - s2 / 2 + Math.sqrt(s2) * this.normal());
  }

  /** Picks one element (the array must not be empty). */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}
