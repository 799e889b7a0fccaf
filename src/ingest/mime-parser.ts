/**
 * Parsing raw RFC 5322 bytes into a {@link ParsedMessage} with mailparser's streaming
 * `MailParser`: attachments stream out through the caller's sink (never buffered whole), report
 * parts are captured bounded, and every limit or parse error becomes a typed failure.
 *
 * `parseMessage` runs in the calling thread: a synchronous runaway inside a dependency cannot be
 * interrupted there. For untrusted mail in the server, use `ParserPool` (same API, worker
 * threads, hard time and memory limits).
 */
import type { AttachmentStream, MessageText } from 'mailparser';
import type { Readable } from 'node:stream';
import { LimitedMailParser } from './limited-mail-parser.js';
import { buildParsedMessage } from './parsed-message-builder.js';
import { failureFromError, parseFailure, ParseLimitError, timeoutFailure } from './parse-failure.js';
import {
  resolveLimits,
  timeLimitFor,
  type AttachmentInfo,
  type AttachmentMeta,
  type AttachmentSink,
  type AttachmentWriter,
  type ParseLimits,
  type ParseOptions,
  type ParseResult,
  type ParsedMessage,
  type RawMessage,
  type ReportPart,
} from './parse-types.js';
import { ReportCapture, shouldCapture } from './report-capture.js';
import { TimeBudget } from './time-budget.js';
import { readEach } from './stream-reader.js';
import { prepareDisplay } from './display-prep.js';

/** Input chunk size when the raw message is one buffer (views, not copies). */
const FEED_CHUNK = 256 * 1024;

/** Splits a buffer into views, or passes a stream through. */
export async function* rawChunks(raw: RawMessage): AsyncIterable<Uint8Array> {
  if (raw instanceof Uint8Array) {
    for (let i = 0; i < raw.length; i += FEED_CHUNK) yield raw.subarray(i, Math.min(raw.length, i + FEED_CHUNK));
    return;
  }
  yield* raw;
}

/** What the core needs besides the bytes. */
export interface CoreContext {
  limits: ParseLimits;
  sink: AttachmentSink;
  extraHeaders: readonly string[];
  /** Aborting stops the parse; the abort reason becomes the failure. */
  signal?: AbortSignal;
  /** Told the running byte count, so a caller can grow a size-dependent time limit. */
  onBytes?: (total: number) => void;
  /** Also sanitize the HTML for display (`ParsedMessage.display`). */
  display?: boolean;
  /** Leave the HTML out of the result (`ParseOptions.omitHtml`). */
  omitHtml?: boolean;
}

const NULL_SINK: AttachmentSink = { begin: () => ({ write: () => undefined, end: () => undefined }) };

function sinkFailure(meta: AttachmentMeta, err: unknown): ParseLimitError {
  const msg = err instanceof Error ? err.message : String(err);
  return new ParseLimitError(parseFailure('ATTACHMENT_SINK_FAILED', `Storing attachment #${meta.index} (${meta.filename ?? meta.contentType}) failed: ${msg}`));
}

function attachmentMeta(item: AttachmentStream, index: number): AttachmentMeta {
  return {
    index,
    filename: item.filename ?? null,
    contentType: (item.contentType || 'application/octet-stream').toLowerCase(),
    contentId: item.cid ?? (item.contentId ? item.contentId.replace(/^<|>$/g, '').trim() : null) ?? null,
    disposition: item.contentDisposition === 'inline' ? 'inline' : 'attachment',
    related: item.related === true,
    partId: item.partId ?? null,
  };
}

function waitWritable(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

/**
 * The parse itself, shared by `parseMessage` and the pool's worker. Throws a
 * {@link ParseLimitError} (or anything, mapped by `failureFromError`) on failure.
 */
export async function parseCore(input: AsyncIterable<Uint8Array>, ctx: CoreContext): Promise<ParsedMessage> {
  const { limits, sink } = ctx;
  const parser = new LimitedMailParser(limits);
  let failure: unknown = null;
  let current: Readable | null = null;
  let failed: () => void = () => undefined;
  // Settles when the parse fails, so a stalled input stream cannot keep the parse waiting.
  const failedSignal = new Promise<void>((resolve) => {
    failed = resolve;
  });
  const fail = (err: unknown) => {
    if (failure !== null) return;
    failure = err ?? new Error('aborted');
    failed();
    const e = failure instanceof Error ? failure : new Error(String(failure));
    current?.destroy(e);
    parser.destroy(e);
  };
  const onAbort = () => fail(ctx.signal?.reason);
  if (ctx.signal?.aborted) onAbort();
  ctx.signal?.addEventListener('abort', onAbort, { once: true });

  let rootHeaderLines: { key: string; line: string }[] = [];
  parser.once('headerLines', (lines: { key: string; line: string }[]) => {
    rootHeaderLines = lines;
  });

  let size = 0;
  const feeding = (async () => {
    try {
      const it = input[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await it.next();
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err);
          throw new ParseLimitError(parseFailure('INPUT_STREAM_FAILED', `Reading the raw message failed: ${msg}`));
        }
        if (next.done) break;
        const chunk = next.value;
        if (failure !== null) return;
        size += chunk.length;
        ctx.onBytes?.(size);
        if (size > limits.maxMessageBytes) {
          throw new ParseLimitError(parseFailure('PARSE_TOO_LARGE', `The message is larger than ${Math.round(limits.maxMessageBytes / 2 ** 20)} MB`));
        }
        if (chunk.length === 0) continue;
        if (!parser.write(chunk)) await waitWritable(parser);
      }
      if (failure === null) parser.end();
    } catch (err) {
      fail(err);
    }
  })();

  const attachments: AttachmentInfo[] = [];
  const reportParts: ReportPart[] = [];
  let textContent: MessageText | null = null;

  let open: { writer: AttachmentWriter; settled: boolean } | null = null;
  /** Aborts the attachment being written, once. */
  const abortOpen = async (f: ReturnType<typeof failureFromError>) => {
    const entry = open;
    open = null;
    if (!entry || entry.settled) return;
    entry.settled = true;
    try {
      await entry.writer.abort?.(f);
    } catch {
      // The sink failing to clean up does not change the outcome.
    }
  };

  const handleAttachment = async (item: AttachmentStream) => {
    if (attachments.length >= limits.maxAttachments) {
      throw new ParseLimitError(parseFailure('PARSE_TOO_MANY_ATTACHMENTS', `The message has more than ${limits.maxAttachments} attachments`));
    }
    const meta = attachmentMeta(item, attachments.length);
    const capture = shouldCapture(meta.contentType) ? new ReportCapture(item, limits.maxReportPartBytes) : null;
    let writer: AttachmentWriter;
    try {
      writer = await sink.begin(meta);
    } catch (err) {
      throw sinkFailure(meta, err);
    }
    // Until it ends, the writer is aborted if the parse fails, even from outside this function.
    const entry = { writer, settled: false };
    open = entry;
    let bytes = 0;
    current = item.content;
    try {
      if (failure !== null) throw failure;
      await readEach<Buffer>(item.content, (chunk) => {
        bytes += chunk.length;
        if (bytes > limits.maxAttachmentBytes) {
          throw new ParseLimitError(
            parseFailure('PARSE_ATTACHMENT_TOO_LARGE', `Attachment #${meta.index} is larger than ${Math.round(limits.maxAttachmentBytes / 2 ** 20)} MB`),
          );
        }
        capture?.add(chunk);
        let written: void | Promise<void>;
        try {
          written = writer.write(chunk);
        } catch (err) {
          throw sinkFailure(meta, err);
        }
        // Waited for only when the sink is asynchronous (backpressure); a synchronous one costs no promise.
        if (!written) return;
        return written.then(undefined, (err: unknown) => {
          throw sinkFailure(meta, err);
        });
      });
      if (failure !== null) throw failure;
    } catch (err) {
      await abortOpen(failureFromError(failure ?? err));
      throw err;
    } finally {
      current = null;
    }
    const info: AttachmentInfo = { ...meta, size: bytes, sha256: item.checksum ?? '' };
    entry.settled = true;
    open = null;
    try {
      await writer.end(info);
    } catch (err) {
      throw sinkFailure(meta, err);
    }
    attachments.push(info);
    if (capture) reportParts.push(capture.result());
    item.release?.();
  };

  // A failed parse has destroyed the parser, which ends this read with an error: fail() keeps the first.
  const consuming = readEach<AttachmentStream | MessageText>(parser, (item) => {
    if (failure !== null) return;
    if (item.type === 'attachment') return handleAttachment(item);
    textContent = item;
  }).catch(fail);
  // Neither a stalled input stream nor a sink that never answers keeps a failed parse waiting.
  await Promise.race([consuming, failedSignal]);
  await Promise.race([feeding, failedSignal]);
  ctx.signal?.removeEventListener('abort', onAbort);
  if (failure !== null) {
    // A writer abandoned mid-attachment (the sink hung, the time ran out) is told, not awaited.
    void abortOpen(failureFromError(failure));
    throw failure;
  }
  if (textContent === null) throw new ParseLimitError(parseFailure('PARSE_MALFORMED', 'The parser ended without producing the message content'));

  const message = buildParsedMessage(
    {
      rootHeaderLines,
      embeddedHeaderLines: parser.state.embeddedHeaderLines,
      text: (textContent as MessageText).text,
      html: (textContent as MessageText).html,
      attachments,
      reportParts,
      size,
      utf7Bodies: parser.state.utf7Bodies,
      truncatedTextParts: parser.state.truncatedTextParts,
    },
    limits,
    ctx.extraHeaders,
  );
  if (ctx.display) {
    message.display = prepareDisplay(message, limits.maxDisplayHtmlChars);
    if (message.html !== null && message.display.html === null) {
      message.warnings.push(`The HTML (${message.html.length} characters) is longer than ${limits.maxDisplayHtmlChars} and is not shown; the text is shown instead`);
    }
  }
  if (ctx.omitHtml) message.html = null;
  return message;
}

class TimeoutAbort extends ParseLimitError {}

/** Waiting for the caller's stream (the network) is not parse time. */
async function* excusedInput(input: AsyncIterable<Uint8Array>, budget: TimeBudget): AsyncIterable<Uint8Array> {
  const it = input[Symbol.asyncIterator]();
  for (;;) {
    const next = await budget.excused(() => it.next(), 'input');
    if (next.done) return;
    yield next.value;
  }
}

/**
 * Parses one message in the calling thread. Never throws: every problem is a
 * `{ ok: false, failure }` with a stable code and a reason for the quarantine list.
 *
 * The time limit (`limits.timeoutMs` + `timeoutMsPerMb`) stops a parse that stalls between
 * events; it cannot interrupt a synchronous loop inside a dependency: the pool can.
 */
export async function parseMessage(raw: RawMessage, options: ParseOptions = {}): Promise<ParseResult> {
  const limits = resolveLimits(options.limits);
  if (raw instanceof Uint8Array && raw.length > limits.maxMessageBytes) {
    return { ok: false, failure: parseFailure('PARSE_TOO_LARGE', `The message is larger than ${Math.round(limits.maxMessageBytes / 2 ** 20)} MB`) };
  }
  const controller = new AbortController();
  let bytes = raw instanceof Uint8Array ? raw.length : 0;
  const budget = new TimeBudget({
    limitMs: () => timeLimitFor(limits, bytes),
    maxPausedMs: limits.maxSinkWaitMs,
    onExpire: () => controller.abort(new TimeoutAbort(timeoutFailure(budget.pausedFor(), timeLimitFor(limits, bytes)))),
  });
  const userSink = options.sink ?? NULL_SINK;
  // The sink's time is the caller's (storage), not the parser's: the clock stops meanwhile.
  const sink: AttachmentSink = {
    begin: async (meta) => {
      const w = await budget.excused(() => userSink.begin(meta));
      return {
        write: (chunk) => budget.excused(() => w.write(chunk)),
        end: (info) => budget.excused(() => w.end(info)),
        abort: (f) => budget.excused(() => w.abort?.(f)),
      };
    },
  };
  try {
    const message = await parseCore(excusedInput(rawChunks(raw), budget), {
      limits,
      sink,
      extraHeaders: options.extraHeaders ?? [],
      signal: controller.signal,
      display: options.display === true,
      omitHtml: options.omitHtml === true,
      onBytes: (n) => {
        bytes = Math.max(bytes, n);
      },
    });
    return { ok: true, message };
  } catch (err) {
    return { ok: false, failure: failureFromError(controller.signal.aborted ? controller.signal.reason : err) };
  } finally {
    budget.stop();
  }
}
