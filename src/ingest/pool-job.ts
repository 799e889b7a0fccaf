/**
 * One message's trip through the parser pool, on the main thread: its input window, its time
 * budget, and the relay of the worker's attachment messages to the caller's sink (in order,
 * one at a time, with credits back to the worker), then the final result.
 */
import { parseFailure } from './parse-failure.js';
import { CREDIT_STEP_BYTES, type FromWorker, type ToWorker } from './parser-protocol.js';
import type { AttachmentSink, AttachmentWriter, ParseFailure, ParseLimits, ParseResult, RawMessage } from './parse-types.js';
import type { TimeBudget } from './time-budget.js';

const NULL_SINK: AttachmentSink = { begin: () => ({ write: () => undefined, end: () => undefined }) };

/** The worker messages that concern the sink. */
export type AttachmentMessage = Extract<FromWorker, { type: 'att-begin' | 'att-chunk' | 'att-whole' | 'att-end' | 'att-abort' }>;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class PoolJob {
  budget: TimeBudget | null = null;
  /** Raw bytes sent to the worker, and taken by it. */
  sent = 0;
  acked = 0;
  wakeFeeder: (() => void) | null = null;
  /** Set when the pool terminated the worker for this job (time limit): the job ends with it. */
  killedWith: ParseFailure | null = null;
  finished = false;
  inputError: unknown = null;

  private chain: Promise<void> = Promise.resolve();
  private sinkError: unknown = null;
  private readonly writers = new Map<number, AttachmentWriter>();
  /** Attachment bytes stored but not yet returned to the worker as credit. */
  private credit = 0;
  private sinkExpired: (() => void) | null = null;

  constructor(
    readonly id: number,
    readonly raw: RawMessage,
    readonly limits: ParseLimits,
    readonly sink: AttachmentSink | undefined,
    readonly extraHeaders: string[],
    readonly display: boolean,
    readonly omitHtml: boolean,
    readonly resolve: (r: ParseResult) => void,
  ) {}

  /** Relays an attachment message to the caller's sink, after everything before it. */
  relay(msg: AttachmentMessage, send: (msg: ToWorker) => void): void {
    const sink = this.sink ?? NULL_SINK;
    switch (msg.type) {
      case 'att-begin':
        this.op(send, async () => {
          this.writers.set(msg.meta.index, await sink.begin(msg.meta));
        });
        break;
      case 'att-chunk':
        this.op(send, async () => {
          await this.writers.get(msg.index)?.write(new Uint8Array(msg.data));
          this.giveCredit(send, msg.data.byteLength);
        });
        break;
      case 'att-whole':
        this.op(send, async () => {
          const w = await sink.begin(msg.meta);
          // Registered while in use, so a failure below aborts it in settle().
          this.writers.set(msg.meta.index, w);
          if (msg.data) {
            await w.write(new Uint8Array(msg.data));
            this.giveCredit(send, msg.data.byteLength);
          }
          this.writers.delete(msg.meta.index);
          await w.end(msg.info);
        });
        break;
      case 'att-end':
        this.op(send, async () => {
          const w = this.writers.get(msg.info.index);
          this.writers.delete(msg.info.index);
          await w?.end(msg.info);
        });
        break;
      case 'att-abort': {
        const w = this.writers.get(msg.index);
        this.writers.delete(msg.index);
        this.chain = this.chain.then(() => Promise.resolve(w?.abort?.(msg.failure)).catch(() => undefined));
        break;
      }
    }
  }

  /** Called by the time budget when it runs out after the worker finished (the sink is slow). */
  expireSink(): void {
    this.sinkExpired?.();
  }

  /**
   * The final result: waits for the sink to store what the worker sent (bounded by the time
   * budget: a sink that never answers ends the job), then prefers the caller-side failures
   * (input stream, sink) to the worker's answer. Open writers of a failed job are aborted.
   */
  async settle(workerResult: ParseResult): Promise<ParseResult> {
    this.finished = true;
    this.wakeFeeder?.();
    let sinkHung = false;
    if (!this.killedWith) {
      const expired = new Promise<void>((resolve) => {
        this.sinkExpired = () => {
          sinkHung = true;
          resolve();
        };
      });
      await Promise.race([this.chain, expired]);
    }
    this.budget?.stop();
    let final = workerResult;
    if (!this.killedWith) {
      if (sinkHung) final = { ok: false, failure: parseFailure('ATTACHMENT_SINK_FAILED', 'The attachment sink did not finish within the time limit') };
      else if (this.inputError !== null) final = { ok: false, failure: parseFailure('INPUT_STREAM_FAILED', `Reading the raw message failed: ${message(this.inputError)}`) };
      else if (this.sinkError !== null) final = { ok: false, failure: parseFailure('ATTACHMENT_SINK_FAILED', `Storing an attachment failed: ${message(this.sinkError)}`) };
    }
    if (!final.ok) {
      // Told, not awaited: a sink that hung must not hang the pool.
      for (const w of this.writers.values()) void Promise.resolve(w.abort?.(final.failure)).catch(() => undefined);
    }
    this.writers.clear();
    return final;
  }

  /** Returns stored bytes to the worker's window, in steps (fewer messages). */
  private giveCredit(send: (msg: ToWorker) => void, bytes: number): void {
    this.credit += bytes;
    if (this.credit >= CREDIT_STEP_BYTES) {
      send({ type: 'credit', id: this.id, bytes: this.credit });
      this.credit = 0;
    }
  }

  /** Runs sink work in order, its time excused from the budget; the first failure stops the job. */
  private op(send: (msg: ToWorker) => void, work: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.sinkError !== null || this.killedWith) return;
      try {
        await (this.budget ? this.budget.excused(work) : work());
      } catch (err) {
        this.sinkError = err;
        send({ type: 'abort', id: this.id, reason: 'the attachment sink failed' });
      }
    });
  }
}
