/**
 * When the parser pool starts and stops a spare worker: while every kept worker is held by a slow
 * parse (one running `slowParseMs` or longer) and work waits, one more worker (up to `max`) takes
 * that work; it stops once nothing waits and no kept worker is held. One timer, armed when a
 * parse begins, finds the moment a running parse becomes slow.
 */
import { performance } from 'node:perf_hooks';

/** What the policy reads of a pool's worker slot. */
export interface WatchedSlot {
  ready: boolean;
  dead: boolean;
  /** Started as a spare (stopped once nothing waits). */
  spare: boolean;
  /** The running job, if any, and since when (performance.now()). */
  job: unknown;
  since: number;
  ahead: readonly unknown[];
}

export interface SpareWorkersOptions<S extends WatchedSlot> {
  slowParseMs: number;
  /** Spares at most at once; 0 turns them off. */
  max: number;
  slots: () => readonly S[];
  /** Jobs waiting in the pool's own queue (not those sent ahead to a worker). */
  waiting: () => number;
  /** Starts a spare worker (the pool spawns a slot with `spare: true`). */
  start: () => void;
  /** Stops an idle spare. */
  stop: (slot: S) => void;
}

export class SpareWorkers<S extends WatchedSlot> {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: SpareWorkersOptions<S>) {}

  /** A parse that has run `slowParseMs` or longer holds its worker. */
  held(slot: S, now = performance.now()): boolean {
    return slot.job !== null && now - slot.since >= this.opts.slowParseMs;
  }

  /** Starts a spare when work waits and every kept worker is held. */
  startIfHeld(): void {
    const { opts } = this;
    if (opts.waiting() === 0) return;
    const slots = opts.slots();
    if (slots.filter((s) => s.spare).length >= opts.max) return;
    const now = performance.now();
    const kept = slots.filter((s) => !s.spare && !s.dead);
    if (kept.length === 0 || !kept.every((s) => this.held(s, now))) return;
    opts.start();
  }

  /** A parse has begun: checks again when the earliest running parse not yet slow becomes slow. */
  arm(): void {
    if (this.timer || this.opts.max === 0) return;
    const now = performance.now();
    let at = Infinity;
    for (const s of this.opts.slots()) if (s.job && !this.held(s, now)) at = Math.min(at, s.since + this.opts.slowParseMs);
    if (at === Infinity) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.startIfHeld();
        this.arm();
      },
      Math.max(1, Math.ceil(at - now)),
    );
    this.timer.unref();
  }

  /** A spare with nothing to do stops, unless a kept worker is still held and work may come. */
  retireIdle(): void {
    if (this.opts.waiting() > 0) return;
    const slots = this.opts.slots();
    const now = performance.now();
    if (slots.some((s) => !s.spare && !s.dead && this.held(s, now))) return;
    for (const s of slots) if (s.spare && s.ready && !s.dead && !s.job && s.ahead.length === 0) this.opts.stop(s);
  }

  /** The pool is closing: no more checks. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
