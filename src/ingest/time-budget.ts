/**
 * The per-message time limit. It counts the parser's time, not the caller's: while an attachment
 * sink is storing a chunk (a database write), the clock is paused, up to a cap so a sink that
 * never answers still ends the parse. The limit may grow while the message streams in (it
 * depends on the size, which a stream only reveals as it goes).
 */
export interface TimeBudgetOptions {
  /** The current limit in ms (called again whenever the timer fires, so it may grow). */
  limitMs: () => number;
  /** The most paused time that is not counted, ms. */
  maxPausedMs: number;
  onExpire: () => void;
  now?: () => number;
}

export class TimeBudget {
  private readonly started: number;
  private pausedTotal = 0;
  private pausedAt: number | null = null;
  private pauseDepth = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private done = false;
  private readonly now: () => number;

  constructor(private readonly opts: TimeBudgetOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.started = this.now();
    this.schedule();
  }

  /** Parser time used so far, ms. */
  elapsed(): number {
    const pausedNow = this.pausedAt === null ? 0 : this.now() - this.pausedAt;
    const excused = Math.min(this.opts.maxPausedMs, this.pausedTotal + pausedNow);
    return this.now() - this.started - excused;
  }

  private readonly waitingFor = new Map<string, number>();

  /** What the clock is paused for (`sink`, `input`), or null when the parser's time runs. */
  pausedFor(): string | null {
    for (const [what, n] of this.waitingFor) if (n > 0) return what;
    return null;
  }

  /** Stops the clock while the caller works (`what`: the sink, the input stream); calls nest. */
  pause(what = 'sink'): void {
    this.waitingFor.set(what, (this.waitingFor.get(what) ?? 0) + 1);
    if (this.pauseDepth++ === 0) this.pausedAt = this.now();
  }

  resume(what = 'sink'): void {
    if (this.pauseDepth === 0) return;
    this.waitingFor.set(what, Math.max(0, (this.waitingFor.get(what) ?? 0) - 1));
    if (--this.pauseDepth === 0 && this.pausedAt !== null) {
      this.pausedTotal += this.now() - this.pausedAt;
      this.pausedAt = null;
    }
  }

  /** Runs `fn` with the clock paused. */
  async excused<T>(fn: () => T | Promise<T>, what = 'sink'): Promise<T> {
    this.pause(what);
    try {
      return await fn();
    } finally {
      this.resume(what);
    }
  }

  stop(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.done) return;
    const remaining = this.opts.limitMs() - this.elapsed();
    if (remaining <= 0) {
      this.done = true;
      this.opts.onExpire();
      return;
    }
    // +1: never spin on a sub-millisecond remainder.
    this.timer = setTimeout(() => this.schedule(), Math.ceil(remaining) + 1);
  }
}
