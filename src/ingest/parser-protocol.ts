/**
 * Messages between the parser pool (main thread) and a parser worker. Byte payloads travel as
 * transferred ArrayBuffers (moved, not copied); both directions are flow-controlled by byte
 * windows so neither side queues a whole 50 MB message in memory.
 */
import type { AttachmentInfo, AttachmentMeta, ParseFailure, ParseLimits, ParseResult } from './parse-types.js';

/** Raw bytes the pool may have sent that the worker has not yet taken. */
export const INPUT_WINDOW_BYTES = 2 * 2 ** 20;
/** Size of one raw-input message to the worker. */
export const INPUT_CHUNK_BYTES = 256 * 1024;
/** Attachment bytes the worker may have sent that the main thread's sink has not yet stored. */
export const ATTACHMENT_WINDOW_BYTES = 2 * 2 ** 20;
/** The pool returns credit in steps of this size (fewer messages; must stay below the window). */
export const CREDIT_STEP_BYTES = ATTACHMENT_WINDOW_BYTES / 4;
/** Attachment bytes the worker collects before sending them (fewer, larger messages). */
export const ATTACHMENT_BATCH_BYTES = 256 * 1024;

/**
 * Whole small messages the pool may send a busy worker ahead of its current job, per worker: the
 * worker queues them and starts the next as soon as one ends, without waiting for the main thread,
 * which may be busy for tens of milliseconds (an embedded-database statement runs on it).
 */
export const AHEAD_JOBS = 32;
export const AHEAD_BYTES = 4 * 2 ** 20;

export type ToWorker =
  /**
   * Starts a job, or queues it behind the running one (only whole messages are sent ahead);
   * `chunk`/`end` let a small message travel in the same message. Without `attachments` the
   * caller has no sink: the worker only measures and hashes attachment bytes.
   */
  | { type: 'job'; id: number; limits: ParseLimits; extraHeaders: string[]; display: boolean; omitHtml: boolean; chunk: ArrayBuffer | null; end: boolean; attachments: boolean }
  | { type: 'chunk'; id: number; data: ArrayBuffer }
  | { type: 'end'; id: number }
  /** The sink stored `bytes` more attachment bytes: the worker may send that many more. */
  | { type: 'credit'; id: number; bytes: number }
  /** Stop the job (the sink failed); the worker answers with `done`. */
  | { type: 'abort'; id: number; reason: string };

export type FromWorker =
  | { type: 'ready' }
  /** The worker took `bytes` more raw bytes: the pool may send that many more. */
  | { type: 'input-ack'; id: number; bytes: number }
  | { type: 'att-begin'; id: number; meta: AttachmentMeta }
  | { type: 'att-chunk'; id: number; index: number; data: ArrayBuffer }
  | { type: 'att-end'; id: number; info: AttachmentInfo }
  /** A small attachment in one message: begin, its bytes, end. */
  | { type: 'att-whole'; id: number; meta: AttachmentMeta; data: ArrayBuffer | null; info: AttachmentInfo }
  | { type: 'att-abort'; id: number; index: number; failure: ParseFailure }
  | { type: 'done'; id: number; result: ParseResult }
  /** Several of the above in order, in one message (small attachments travel with `done`). */
  | { type: 'batch'; messages: FromWorker[] };

/** Worker messages held back (small attachments) until this many bytes wait, or the job ends. */
export const OUTBOX_FLUSH_BYTES = 1 * 2 ** 20;
