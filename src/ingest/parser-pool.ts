/**
 * A pool of parser worker threads with the same API as `parseMessage`, for untrusted mail:
 * - a hard time limit per message (the worker is terminated and replaced, so even a synchronous
 *   runaway inside a dependency cannot stall ingestion),
 * - a memory limit per worker (`resourceLimits`), an out-of-memory worker fails only its message,
 * - one worker per core beyond the first by default (`defaultParserWorkers`): the main thread
 *   needs a core of its own (it stores, files, routes and serves the API), and a worker more than
 *   the cores left only adds its own warm-up and contention (measured on two cores, a cold
 *   backlog: one worker spent ~10 % less CPU a message than two, and the API answered 3-4 times
 *   sooner meanwhile),
 * - a spare worker while every worker is held by a slow parse (longer than `slowParseMs`) and work
 *   waits, so one hostile or huge message never stops the rest (the agent's display of another
 *   message, the next messages of the backlog); it stops once nothing waits,
 * - streaming both ways: raw bytes in 256 KB transferred chunks, attachment bytes back in
 *   256 KB transferred batches, each direction within a 2 MB window, so a 50 MB message never
 *   sits in the pool's memory whole (only the caller's own copy of the raw bytes does),
 * - small messages sent ahead to a busy worker (up to AHEAD_JOBS / AHEAD_BYTES each), so workers
 *   keep parsing while the main thread is busy; a job's time limit starts when it reaches the
 *   head of its worker, and jobs sent ahead to a worker that dies go back to the queue.
 *
 * Lifecycle: `new ParserPool()` starts the workers; `parse()` any time (jobs queue while all are
 * busy); `ready()` waits for the workers to be up (benchmarks); `close()` refuses new work,
 * finishes what it accepted (or, with `{ drain: false }`, fails what still waits), then stops the
 * workers. Idle workers do not keep the process alive.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { parseFailure, timeoutFailure } from './parse-failure.js';
import { AHEAD_BYTES, AHEAD_JOBS, INPUT_CHUNK_BYTES, INPUT_WINDOW_BYTES, type FromWorker, type ToWorker } from './parser-protocol.js';
import { defaultWorkerUrl, startParserWorker } from './parser-worker-launcher.js';
import { PoolJob } from './pool-job.js';
import { resolveLimits, timeLimitFor, type ParseFailure, type ParseLimits, type ParseOptions, type ParseResult, type RawMessage } from './parse-types.js';
import { SpareWorkers } from './spare-workers.js';
import { TimeBudget } from './time-budget.js';

/** Workers for a machine of `cores` cores: one per core beyond the main thread's, at least one. */
export function defaultParserWorkers(cores: number = availableParallelism()): number {
  return Math.max(1, Math.floor(cores) - 1);
}

/** A parse running this long holds its worker: what waits behind it gets a spare worker. */
const SLOW_PARSE_MS = 500;

export interface ParserPoolOptions {
  /** Worker threads kept running; default `defaultParserWorkers()`. */
  size?: number;
  /** Extra workers started while every worker is held by a slow parse and work waits; default 1. */
  spares?: number;
  /** How long a parse runs before its worker counts as held (ms); default 500. */
  slowParseMs?: number;
  /** Defaults for every parse; a parse's own `limits` override them. `workerHeapMb` and `workerYoungMb` are read here only. */
  limits?: Partial<ParseLimits>;
  /**
   * The worker entry module. Default: `parser-worker.js` beside this file, or `parser-worker.ts`
   * (started through tsx's loader) when running from TypeScript sources (tests, tsx).
   */
  workerUrl?: URL;
}

export interface ParserPoolStats {
  size: number;
  /** Spare workers running (started while every worker was held by a slow parse). */
  spares: number;
  busy: number;
  /** Waiting: in the pool's queue, or sent ahead to a busy worker (`ahead` of them). */
  queued: number;
  ahead: number;
  /** Of `ahead`, how many each worker holds (the pool spreads them by their bytes). */
  aheadByWorker: number[];
  parsed: number;
  failed: number;
  timeouts: number;
  outOfMemory: number;
  crashes: number;
  /** Workers started to replace one that was terminated or died. */
  restarts: number;
  /** Spare workers started (each time every worker was held by a slow parse while work waited). */
  spareStarts: number;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  dead: boolean;
  /** Started while every worker was held by a slow parse; stopped once nothing waits. */
  spare: boolean;
  /** The job the worker is running (its time limit is running), and since when (performance.now()). */
  job: PoolJob | null;
  since: number;
  /** Whole small messages sent ahead, queued in the worker behind `job`, in order. */
  ahead: PoolJob[];
  lastError: (Error & { code?: string }) | null;
}

/** The answer to a job the pool, shutting down, will not parse. */
const closed = (): ParseResult => ({ ok: false, failure: parseFailure('PARSER_POOL_CLOSED', 'The parser pool was shut down') });

/** A job whose whole message travels in one message (the only kind sent ahead). */
const isWhole = (job: PoolJob): job is PoolJob & { raw: Uint8Array } => job.raw instanceof Uint8Array && job.raw.length <= INPUT_CHUNK_BYTES;

/** Bytes of the messages sent ahead to a worker (at most AHEAD_JOBS of them). */
const aheadBytes = (slot: Slot): number => slot.ahead.reduce((n, j) => n + (j.raw as Uint8Array).length, 0);

export class ParserPool {
  private readonly size: number;
  private readonly spares: SpareWorkers<Slot>;
  private readonly defaults: Partial<ParseLimits>;
  private readonly heapMb: number;
  private readonly youngMb: number;
  private readonly workerUrl: URL;
  private readonly slots: Slot[] = [];
  private readonly queue: PoolJob[] = [];
  private nextId = 1;
  private closing = false;
  private startupFailures = 0;
  private readyWaiters: (() => void)[] = [];
  /** Woken whenever a job ends or a worker exits (close() waits on it). */
  private idleWaiters: (() => void)[] = [];
  /** Jobs whose worker is done, waiting for their sink work (`finish`). */
  private settling = 0;
  private readonly counters = { parsed: 0, failed: 0, timeouts: 0, outOfMemory: 0, crashes: 0, restarts: 0, spareStarts: 0 };

  constructor(opts: ParserPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(opts.size ?? defaultParserWorkers()));
    this.spares = new SpareWorkers<Slot>({
      slowParseMs: opts.slowParseMs ?? SLOW_PARSE_MS,
      max: Math.max(0, Math.floor(opts.spares ?? 1)),
      slots: () => this.slots,
      waiting: () => this.queue.length,
      start: () => {
        // A closing pool drains with the workers it has.
        if (this.closing) return;
        this.counters.spareStarts++;
        this.spawn(true);
      },
      stop: (slot) => {
        slot.ready = false;
        void slot.worker.terminate();
      },
    });
    this.defaults = opts.limits ?? {};
    ({ workerHeapMb: this.heapMb, workerYoungMb: this.youngMb } = resolveLimits(this.defaults));
    this.workerUrl = opts.workerUrl ?? defaultWorkerUrl();
    this.fill();
  }

  /** Resolves once every worker has started (or the pool gave up starting them). */
  ready(): Promise<void> {
    if (this.keptReady()) return Promise.resolve();
    return new Promise((resolve) => {
      this.readyWaiters.push(resolve);
      this.updateRefs();
    });
  }

  stats(): ParserPoolStats {
    const aheadByWorker = this.slots.map((s) => s.ahead.length);
    const ahead = aheadByWorker.reduce((a, b) => a + b, 0);
    return { size: this.size, spares: this.slots.filter((s) => s.spare).length, busy: this.slots.filter((s) => s.job).length, queued: this.queue.length + ahead, ahead, aheadByWorker, ...this.counters };
  }

  /**
   * Parses one message in a worker. Never throws; resolves with the message or a typed failure
   * (`PARSE_TIMEOUT`, `PARSE_OUT_OF_MEMORY`, `PARSE_WORKER_CRASHED`, the limit codes…). The sink
   * is called on this thread, in order, never concurrently.
   */
  parse(raw: RawMessage, options: ParseOptions = {}): Promise<ParseResult> {
    if (this.closing) return Promise.resolve({ ok: false, failure: parseFailure('PARSER_POOL_CLOSED', 'The parser pool is shut down') });
    const limits = resolveLimits({ ...this.defaults, ...options.limits });
    if (raw instanceof Uint8Array && raw.length > limits.maxMessageBytes) {
      return Promise.resolve({ ok: false, failure: parseFailure('PARSE_TOO_LARGE', `The message is larger than ${Math.round(limits.maxMessageBytes / 2 ** 20)} MB`) });
    }
    return new Promise((resolve) => {
      this.queue.push(new PoolJob(this.nextId++, raw, limits, options.sink, [...(options.extraHeaders ?? [])], options.display === true, options.omitHtml === true, resolve));
      this.fill();
      this.dispatch();
      this.spares.startIfHeld();
      this.updateRefs();
    });
  }

  /** The workers the pool keeps running (spares come and go). */
  private kept(): Slot[] {
    return this.slots.filter((s) => !s.spare);
  }

  /** Every kept worker has started. */
  private keptReady(): boolean {
    const kept = this.kept();
    return kept.length > 0 && kept.every((s) => s.ready);
  }

  /** Workers keep the process alive only while there is work (queued or running). */
  private updateRefs(): void {
    const pending = this.queue.length > 0 || this.readyWaiters.length > 0;
    for (const s of this.slots) {
      if (pending || s.job) s.worker.ref();
      else s.worker.unref();
    }
  }

  /**
   * Refuses new work, then stops the workers. With `drain` (the default) every job already
   * accepted (running or queued) finishes first (each has its time limit); without it queued jobs
   * end with PARSER_POOL_CLOSED (retryable) and only running ones finish.
   */
  async close(opts: { drain?: boolean } = {}): Promise<void> {
    this.closing = true;
    this.spares.cancel();
    if (opts.drain === false) {
      for (const job of this.queue.splice(0)) job.resolve(closed());
      // Sent ahead but not started: the worker drops them.
      for (const slot of this.slots) {
        for (const job of slot.ahead.splice(0)) {
          this.send(slot, { type: 'abort', id: job.id, reason: 'the parser pool was shut down' });
          job.resolve(closed());
        }
      }
    }
    while (this.queue.length > 0 || this.settling > 0 || this.slots.some((s) => s.job)) {
      if (this.queue.length > 0 && this.slots.length === 0) {
        // No worker left to run them (they could not start): fail them rather than wait forever.
        for (const job of this.queue.splice(0)) job.resolve(closed());
        break;
      }
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate().catch(() => undefined)));
    this.slots.length = 0;
    for (const w of this.readyWaiters.splice(0)) w();
  }

  private fill(): void {
    // While closing, workers are still replaced as long as accepted work waits (drain).
    while ((!this.closing || this.queue.length > 0) && this.kept().length < this.size) this.spawn(false);
  }

  private wakeIdle(): void {
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private spawn(spare: boolean): void {
    const worker = startParserWorker(this.workerUrl, this.heapMb, this.youngMb);
    worker.unref();
    const slot: Slot = { worker, ready: false, dead: false, spare, job: null, since: 0, ahead: [], lastError: null };
    this.slots.push(slot);
    worker.on('message', (msg: FromWorker) => this.onMessage(slot, msg));
    worker.on('error', (err: Error & { code?: string }) => {
      slot.lastError = err;
    });
    worker.on('exit', (code) => this.onExit(slot, code));
    this.updateRefs();
  }

  private onExit(slot: Slot, code: number): void {
    slot.dead = true;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    const job = slot.job;
    slot.job = null;
    // Sent ahead but never started: they go first to the next worker, in their order.
    this.queue.unshift(...slot.ahead.splice(0));
    if (job && !job.finished) {
      const err = slot.lastError;
      let failure = job.killedWith;
      if (!failure && err?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        this.counters.outOfMemory++;
        failure = parseFailure('PARSE_OUT_OF_MEMORY', `Parsing needed more than the ${this.heapMb} MB a parser worker may use`);
      }
      if (!failure) {
        this.counters.crashes++;
        failure = parseFailure('PARSE_WORKER_CRASHED', `The parser worker stopped (exit code ${code}${err ? `: ${err.message}` : ''})`);
      }
      void this.finish(slot, job, { ok: false, failure });
    }
    this.wakeIdle();
    if (slot.spare) {
      // Stopped because nothing waited, or killed over its job's time limit: never replaced.
      this.dispatch();
      return;
    }
    if (this.closing && this.queue.length === 0) return;
    if (!slot.ready) this.startupFailures++;
    if (this.startupFailures >= 3) {
      // The worker cannot start at all (a broken install): fail what waits instead of spinning.
      this.startupFailures = 0;
      const reason = `The parser worker could not start${slot.lastError ? `: ${slot.lastError.message}` : ''}`;
      for (const j of this.queue.splice(0)) j.resolve({ ok: false, failure: parseFailure('PARSE_WORKER_CRASHED', reason) });
      for (const w of this.readyWaiters.splice(0)) w();
      return;
    }
    this.counters.restarts++;
    this.fill();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) break;
      if (!slot.ready || slot.dead || slot.job) continue;
      this.start(slot, this.queue.shift()!);
    }
    this.spares.retireIdle();
    if (this.queue.length === 0) return;
    const now = performance.now();
    // Every worker busy: send each next whole message ahead to the worker with the least queued
    // (by bytes, a parse's cost), within each one's bounds. Always the first busy worker instead
    // would leave the other idle once its job ended: the queue would be empty, all sent ahead.
    for (;;) {
      const next = this.queue[0];
      if (!next || !isWhole(next)) return;
      let target: Slot | null = null;
      let targetBytes = Infinity;
      for (const slot of this.slots) {
        // Never behind a slow parse (it may run to its time limit), nor to a spare (it stops soon).
        if (!slot.ready || slot.dead || !slot.job || slot.spare || slot.ahead.length >= AHEAD_JOBS || this.spares.held(slot, now)) continue;
        const bytes = aheadBytes(slot);
        if (bytes + next.raw.length <= AHEAD_BYTES && bytes < targetBytes) {
          target = slot;
          targetBytes = bytes;
        }
      }
      if (!target) return;
      this.queue.shift();
      target.ahead.push(next);
      this.sendWhole(target, next);
    }
  }

  private send(slot: Slot, msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (!slot.dead) slot.worker.postMessage(msg, transfer);
  }

  private jobMessage(job: PoolJob): Omit<Extract<ToWorker, { type: 'job' }>, 'chunk' | 'end'> {
    return { type: 'job', id: job.id, limits: job.limits, extraHeaders: job.extraHeaders, display: job.display, omitHtml: job.omitHtml, attachments: job.sink !== undefined };
  }

  /** The whole message in the job message: one copy, transferred. */
  private sendWhole(slot: Slot, job: PoolJob & { raw: Uint8Array }): void {
    const copy = new Uint8Array(job.raw); // a copy (Buffer#slice would be a view: never transfer the caller's memory)
    job.sent = copy.length;
    this.send(slot, { ...this.jobMessage(job), chunk: copy.buffer, end: true }, [copy.buffer]);
  }

  private start(slot: Slot, job: PoolJob): void {
    this.begin(slot, job);
    if (isWhole(job)) {
      this.sendWhole(slot, job);
      return;
    }
    this.send(slot, { ...this.jobMessage(job), chunk: null, end: false });
    void this.feed(slot, job);
  }

  /** `job` is now the one its worker runs: its time limit starts. */
  private begin(slot: Slot, job: PoolJob): void {
    slot.job = job;
    slot.since = performance.now();
    this.spares.arm();
    this.updateRefs();
    const known = job.raw instanceof Uint8Array ? job.raw.length : 0;
    job.budget = new TimeBudget({
      limitMs: () => timeLimitFor(job.limits, Math.max(known, job.sent)),
      maxPausedMs: job.limits.maxSinkWaitMs,
      onExpire: () => {
        // The worker is done but the sink has not finished storing within its allowance.
        if (job.finished) job.expireSink();
        else this.kill(slot, job, timeoutFailure(job.budget?.pausedFor() ?? null, timeLimitFor(job.limits, Math.max(known, job.sent))));
      },
    });
  }

  private async *chunks(job: PoolJob): AsyncIterable<Uint8Array> {
    const raw = job.raw;
    if (raw instanceof Uint8Array) {
      for (let i = 0; i < raw.length; i += INPUT_CHUNK_BYTES) yield raw.subarray(i, Math.min(raw.length, i + INPUT_CHUNK_BYTES));
      return;
    }
    const it = raw[Symbol.asyncIterator]();
    for (;;) {
      // Waiting for the caller's stream (the network) is not parse time.
      const next = await job.budget!.excused(() => it.next(), 'input');
      if (next.done) return;
      for (let i = 0; i < next.value.length; i += INPUT_CHUNK_BYTES) yield next.value.subarray(i, Math.min(next.value.length, i + INPUT_CHUNK_BYTES));
    }
  }

  /** Streams the raw bytes to the worker, at most INPUT_WINDOW_BYTES ahead of what it took. */
  private async feed(slot: Slot, job: PoolJob): Promise<void> {
    try {
      for await (const chunk of this.chunks(job)) {
        while (!job.finished && job.sent - job.acked >= INPUT_WINDOW_BYTES) {
          await new Promise<void>((resolve) => {
            job.wakeFeeder = resolve;
          });
        }
        if (job.finished) return;
        const copy = new Uint8Array(chunk); // a copy, see start()
        job.sent += copy.length;
        this.send(slot, { type: 'chunk', id: job.id, data: copy.buffer }, [copy.buffer]);
        // A stream larger than the limit is cut here; the worker reports PARSE_TOO_LARGE.
        if (job.sent > job.limits.maxMessageBytes) break;
      }
      this.send(slot, { type: 'end', id: job.id });
    } catch (err) {
      // The caller's stream failed: the message is incomplete (retryable).
      job.inputError ??= err;
      this.send(slot, { type: 'abort', id: job.id, reason: 'the raw message stream failed' });
    }
  }

  private kill(slot: Slot, job: PoolJob, failure: ParseFailure): void {
    if (job.finished || slot.job !== job) return;
    job.killedWith = failure;
    // Never give this worker another job: it is going away.
    slot.ready = false;
    if (failure.code === 'PARSE_TIMEOUT') this.counters.timeouts++;
    void slot.worker.terminate();
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    if (msg.type === 'batch') {
      for (const m of msg.messages) this.onMessage(slot, m);
      return;
    }
    if (msg.type === 'ready') {
      slot.ready = true;
      this.startupFailures = 0;
      if (this.keptReady()) for (const w of this.readyWaiters.splice(0)) w();
      this.dispatch();
      this.updateRefs();
      return;
    }
    const job = slot.job;
    // Nothing from a worker that is being terminated counts: its job ends with the kill reason.
    if (!job || job.id !== msg.id || slot.dead || job.killedWith) return;
    switch (msg.type) {
      case 'input-ack':
        job.acked += msg.bytes;
        job.wakeFeeder?.();
        job.wakeFeeder = null;
        break;
      case 'done': {
        // The worker has already started the next job sent ahead (its messages follow this one).
        const next = slot.ahead.shift();
        if (next) this.begin(slot, next);
        else slot.job = null;
        void this.finish(slot, job, msg.result);
        break;
      }
      default:
        job.relay(msg, (m) => this.send(slot, m));
    }
  }

  /** Settles a job (its sink work done), frees its worker, starts the next. */
  private async finish(slot: Slot, job: PoolJob, result: ParseResult): Promise<void> {
    if (job.finished) return;
    // Its worker may already run the next job; close() still waits for this one's sink work.
    this.settling++;
    let final: ParseResult;
    try {
      final = await job.settle(result);
    } finally {
      this.settling--;
    }
    if (final.ok) this.counters.parsed++;
    else this.counters.failed++;
    if (slot.job === job) slot.job = null;
    job.resolve(final);
    this.dispatch();
    this.updateRefs();
    this.wakeIdle();
  }
}
