/**
 * Reconnect delays: exponential from `baseMs`, capped at `maxMs`, minus a random share
 * (`jitter`, default one half: "equal jitter") so a thousand mailboxes cut by the same outage
 * do not reconnect in step, yet never retry at once. A connection that stayed up for `stableMs` resets the sequence; one
 * that drops sooner (flapping, or a server that accepts then closes) keeps growing the delay.
 * Pure: the clock and the random source are injected.
 */

export interface BackoffOptions {
  /** First delay (the mailbox's `reconnect_s`). */
  baseMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
  /** Random share taken off each delay, 0..1 (default 0.5: a delay in [ceiling/2, ceiling]). */
  jitter?: number;
  /** Up this long counts as stable and resets the delay (default 60 s). */
  stableMs?: number;
  /** Milliseconds since some epoch (default Date.now). */
  now?: () => number;
  /** Uniform in [0, 1) (default Math.random). */
  random?: () => number;
}

/** The delay before retry number `attempt` (0 for the first retry), before jitter. */
export function backoffCeiling(attempt: number, opts: Pick<BackoffOptions, 'baseMs' | 'maxMs' | 'factor'>): number {
  const factor = opts.factor ?? 2;
  // Capped before exponentiation grows past what a double holds exactly.
  const exp = Math.min(attempt, 64);
  return Math.min(opts.maxMs, opts.baseMs * factor ** exp);
}

/** A delay in (ceiling × (1 − jitter), ceiling]. */
export function jittered(ceiling: number, random: () => number, jitter = 0.5): number {
  return Math.round(ceiling * (1 - jitter * random()));
}

export class Backoff {
  private attempt = 0;
  private connectedAt: number | undefined;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly stableMs: number;

  constructor(private readonly opts: BackoffOptions) {
    if (!(opts.baseMs > 0) || !(opts.maxMs >= opts.baseMs)) throw new RangeError('backoff: need 0 < baseMs <= maxMs');
    if (opts.jitter !== undefined && !(opts.jitter >= 0 && opts.jitter <= 1)) throw new RangeError('backoff: jitter is a share from 0 to 1');
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.stableMs = opts.stableMs ?? 60_000;
  }

  /** Call when a connection is established (and working). */
  connected(): void {
    this.connectedAt = this.now();
  }

  /**
   * Call when a connection attempt failed or an established connection dropped; returns the
   * delay before the next attempt.
   */
  failed(): number {
    if (this.connectedAt !== undefined && this.now() - this.connectedAt >= this.stableMs) this.attempt = 0;
    this.connectedAt = undefined;
    const delay = jittered(backoffCeiling(this.attempt, this.opts), this.random, this.opts.jitter);
    this.attempt++;
    return delay;
  }

  /** Failed attempts since the last reset (for the status line: "retry 4"). */
  get failures(): number {
    return this.attempt;
  }

  /** Forget the history (e.g. when the admin changed the settings). */
  reset(): void {
    this.attempt = 0;
    this.connectedAt = undefined;
  }
}
