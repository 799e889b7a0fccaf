/**
 * Building {@link ParseFailure}s: one place for the wording and hints, so the quarantine list reads
 * the same whether the message failed in-process or in a worker.
 */
import { AppError } from '../domain/errors.js';
import type { ParseFailure, ParseFailureCode } from './parse-types.js';

const HINTS: Record<ParseFailureCode, string> = {
  PARSE_TIMEOUT: 'The message is kept raw in quarantine. Download it to inspect it; release it to route it without parsed content.',
  PARSE_TOO_LARGE: 'Raise max_message_mb of the queue if messages this large are expected, then release the message from quarantine.',
  PARSE_ATTACHMENT_TOO_LARGE: 'An attachment is larger than allowed; the raw message is kept in quarantine for download.',
  PARSE_TOO_DEEP: 'MIME parts nested this deep are a known way to exhaust parsers; the raw message is kept in quarantine.',
  PARSE_TOO_MANY_PARTS: 'The message has more MIME parts than allowed; the raw message is kept in quarantine.',
  PARSE_TOO_MANY_HEADERS: 'The message has more header lines than allowed; the raw message is kept in quarantine.',
  PARSE_HEADER_TOO_LARGE: 'A header block is larger than allowed; the raw message is kept in quarantine.',
  PARSE_TOO_MANY_ATTACHMENTS: 'The message has more attachments than allowed; the raw message is kept in quarantine.',
  PARSE_OUT_OF_MEMORY: 'Parsing needed more memory than a parser worker may use; the raw message is kept in quarantine.',
  PARSE_WORKER_CRASHED: 'The parser worker stopped unexpectedly; the raw message is kept in quarantine. Release it to try again.',
  PARSE_MALFORMED: 'The MIME structure could not be read; the raw message is kept in quarantine for download.',
  ATTACHMENT_SINK_FAILED: 'Storing an attachment failed (see the cause in the log); the message will be parsed again on the next attempt.',
  INPUT_STREAM_FAILED: 'Reading the raw message from its source failed before it was complete; it will be fetched and parsed again.',
  PARSER_POOL_CLOSED: 'The parser pool was shut down while the message waited; it will be parsed again after the restart.',
};

const RETRYABLE: ReadonlySet<ParseFailureCode> = new Set(['ATTACHMENT_SINK_FAILED', 'INPUT_STREAM_FAILED', 'PARSER_POOL_CLOSED']);

/** A typed failure with the standard hint for its code. */
export function parseFailure(code: ParseFailureCode, reason: string): ParseFailure {
  return { code, reason, hint: HINTS[code], retryable: RETRYABLE.has(code) };
}

/**
 * The failure when the time ran out: the parser's own time (PARSE_TIMEOUT, quarantine), or time
 * spent waiting for the caller beyond its allowance (retryable: the caller's sink or stream hung).
 */
export function timeoutFailure(pausedFor: string | null, limitMs: number): ParseFailure {
  if (pausedFor === 'input') return parseFailure('INPUT_STREAM_FAILED', 'The raw message stream stopped delivering data within the time limit');
  if (pausedFor !== null) return parseFailure('ATTACHMENT_SINK_FAILED', 'The attachment sink did not answer within the time limit');
  return parseFailure('PARSE_TIMEOUT', `Parsing took longer than ${Math.round(limitMs / 1000)} s`);
}

/** Thrown inside the parser to stop it with a specific failure; caught at the API edge. */
export class ParseLimitError extends Error {
  constructor(readonly failure: ParseFailure) {
    super(failure.reason);
    this.name = 'ParseLimitError';
  }
}

/**
 * Maps anything thrown while parsing to a failure. mailsplit reports its own limits with
 * `code: 'EMAXLEN'` and a message naming the limit.
 */
export function failureFromError(err: unknown): ParseFailure {
  if (err instanceof ParseLimitError) return err.failure;
  const e = err as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (e?.code === 'EMAXLEN') {
    if (/child nodes/i.test(message)) return parseFailure('PARSE_TOO_MANY_PARTS', `Too many MIME parts (${message})`);
    if (/header/i.test(message)) return parseFailure('PARSE_HEADER_TOO_LARGE', `A MIME header block is too large (${message})`);
  }
  if (err instanceof RangeError && /memory|allocation|buffer/i.test(message)) {
    return parseFailure('PARSE_OUT_OF_MEMORY', `Parsing ran out of memory: ${message}`);
  }
  return parseFailure('PARSE_MALFORMED', `The message could not be parsed: ${message.slice(0, 300)}`);
}

/**
 * The failure as an {@link AppError} (status 422), for a service that prefers to throw. The
 * retryable ones map to 503 so a caller retries them.
 */
export function parseFailureToAppError(failure: ParseFailure): AppError {
  return new AppError(failure.code, failure.reason, { status: failure.retryable ? 503 : 422, hint: failure.hint });
}
