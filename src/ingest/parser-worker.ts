/**
 * Entry of a parser worker thread (started by `ParserPool`). One job at a time: raw bytes arrive
 * as transferred ArrayBuffers, the message is parsed with the same core as in-process parsing,
 * attachment bytes go back in batches (transferred, flow-controlled by credits) and the result
 * last. The time and memory limits are enforced from outside: the pool terminates this thread.
 */
import { parentPort } from 'node:worker_threads';
import { failureFromError } from './parse-failure.js';
import { parseCore } from './mime-parser.js';
import {
  ATTACHMENT_BATCH_BYTES,
  ATTACHMENT_WINDOW_BYTES,
  OUTBOX_FLUSH_BYTES,
  type FromWorker,
  type ToWorker,
} from './parser-protocol.js';
import type { AttachmentSink, AttachmentWriter, ParseResult } from './parse-types.js';

const port = parentPort;
if (!port) throw new Error('parser-worker.ts runs as a worker thread of ParserPool, not on its own');

/**
 * Messages to the pool go out in batches: every postMessage wakes the main thread, and on a busy
 * machine that wake-up costs more than the message. Small attachments wait for the result and
 * travel with it; anything the main thread must act on now (a streamed chunk, whose credit the
 * worker may wait for) flushes the batch.
 */
let outbox: FromWorker[] = [];
let outboxTransfer: ArrayBuffer[] = [];
let outboxBytes = 0;

function flushOutbox(): void {
  if (outbox.length === 0) return;
  const msg: FromWorker = outbox.length === 1 ? outbox[0]! : { type: 'batch', messages: outbox };
  port!.postMessage(msg, outboxTransfer);
  outbox = [];
  outboxTransfer = [];
  outboxBytes = 0;
}

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  outbox.push(msg);
  outboxTransfer.push(...transfer);
  for (const t of transfer) outboxBytes += t.byteLength;
  if (msg.type === 'att-whole' && outboxBytes < OUTBOX_FLUSH_BYTES) return;
  if (msg.type === 'att-begin' || msg.type === 'att-end') return;
  flushOutbox();
}

/** Raw input of the running job: chunks pushed by messages, pulled by the parser. */
class InputQueue implements AsyncIterable<Uint8Array> {
  private readonly chunks: Uint8Array[] = [];
  private ended = false;
  private wake: (() => void) | null = null;

  /** `acks`: tell the pool what was taken (not needed when the whole message came at once). */
  constructor(
    private readonly id: number,
    private readonly acks: boolean,
  ) {}

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const next = this.chunks.shift();
      if (next) {
        // Taken: the pool may send more (it keeps at most INPUT_WINDOW_BYTES in flight).
        if (this.acks) post({ type: 'input-ack', id: this.id, bytes: next.length });
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
  }
}

/** Sends attachment bytes to the pool in batches, waiting for credit beyond the window. */
class RemoteSink implements AttachmentSink {
  private outstanding = 0;
  private creditWaiter: (() => void) | null = null;

  constructor(private readonly id: number) {}

  credit(bytes: number): void {
    this.outstanding -= bytes;
    if (this.outstanding < ATTACHMENT_WINDOW_BYTES) {
      this.creditWaiter?.();
      this.creditWaiter = null;
    }
  }

  /** Unblocks a writer waiting for credit (the job is being aborted). */
  release(): void {
    this.creditWaiter?.();
    this.creditWaiter = null;
  }

  begin(meta: Parameters<AttachmentSink['begin']>[0]): AttachmentWriter {
    // Chunks are held (not copied) until a batch is full, then copied once into a buffer of
    // exactly the batch's size, which is transferred (moved, not copied again) to the main
    // thread. An attachment that fits one batch travels as one message (begin, bytes, end).
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let started = false;
    const take = (): ArrayBuffer | null => {
      if (pendingBytes === 0) return null;
      const data = new Uint8Array(pendingBytes);
      let at = 0;
      for (const c of pending) {
        data.set(c, at);
        at += c.length;
      }
      this.outstanding += pendingBytes;
      pending = [];
      pendingBytes = 0;
      return data.buffer;
    };
    const flush = async () => {
      if (!started) {
        post({ type: 'att-begin', id: this.id, meta });
        started = true;
      }
      const data = take();
      if (!data) return;
      post({ type: 'att-chunk', id: this.id, index: meta.index, data }, [data]);
      if (this.outstanding >= ATTACHMENT_WINDOW_BYTES) {
        await new Promise<void>((resolve) => {
          this.creditWaiter = resolve;
        });
      }
    };
    return {
      // Synchronous until a batch is full: the parse waits (a promise) only when bytes go out.
      write: (chunk) => {
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= ATTACHMENT_BATCH_BYTES) return flush();
      },
      end: async (info) => {
        if (!started) {
          const data = take();
          post({ type: 'att-whole', id: this.id, meta, data, info }, data ? [data] : []);
          return;
        }
        await flush();
        post({ type: 'att-end', id: this.id, info });
      },
      abort: (failure) => {
        pending = [];
        // The main thread only knows attachments it was told about.
        if (started) post({ type: 'att-abort', id: this.id, index: meta.index, failure });
      },
    };
  }
}

/** Used when the caller gave no sink: the core still measures and hashes every attachment. */
const LOCAL_NULL_SINK: AttachmentSink = { begin: () => ({ write: () => undefined, end: () => undefined }) };

interface Job {
  id: number;
  input: InputQueue;
  sink: RemoteSink | null;
  controller: AbortController;
}

let current: Job | null = null;
/** Jobs the pool sent ahead (whole messages), started in order as soon as the running one ends. */
const queued: Extract<ToWorker, { type: 'job' }>[] = [];

async function run(msg: Extract<ToWorker, { type: 'job' }>): Promise<void> {
  const job: Job = { id: msg.id, input: new InputQueue(msg.id, !msg.end), sink: msg.attachments ? new RemoteSink(msg.id) : null, controller: new AbortController() };
  current = job;
  if (msg.chunk) job.input.push(new Uint8Array(msg.chunk));
  if (msg.end) job.input.end();
  let result: ParseResult;
  try {
    const message = await parseCore(job.input, { limits: msg.limits, sink: job.sink ?? LOCAL_NULL_SINK, extraHeaders: msg.extraHeaders, display: msg.display, omitHtml: msg.omitHtml, signal: job.controller.signal });
    result = { ok: true, message };
  } catch (err) {
    result = { ok: false, failure: failureFromError(job.controller.signal.aborted ? job.controller.signal.reason : err) };
  }
  current = null;
  try {
    post({ type: 'done', id: msg.id, result });
  } catch (err) {
    // A result that cannot be cloned (never expected) must still answer the job.
    outbox = [];
    outboxTransfer = [];
    outboxBytes = 0;
    post({ type: 'done', id: msg.id, result: { ok: false, failure: failureFromError(err) } });
  }
  const next = queued.shift();
  if (next) void run(next);
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'job') {
    if (current) queued.push(msg);
    else void run(msg);
    return;
  }
  const job = current;
  if (msg.type === 'abort' && job?.id !== msg.id) {
    // A job sent ahead that the pool no longer wants (closed without draining).
    const i = queued.findIndex((q) => q.id === msg.id);
    if (i >= 0) queued.splice(i, 1);
    return;
  }
  if (!job || job.id !== msg.id) return; // a late message for a finished job
  switch (msg.type) {
    case 'chunk':
      job.input.push(new Uint8Array(msg.data));
      break;
    case 'end':
      job.input.end();
      break;
    case 'credit':
      job.sink?.credit(msg.bytes);
      break;
    case 'abort':
      job.controller.abort(new Error(msg.reason));
      job.sink?.release();
      job.input.end();
      break;
  }
});

post({ type: 'ready' });
