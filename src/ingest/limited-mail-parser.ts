/**
 * mailparser's streaming `MailParser` with the limits mailparser itself lacks (nesting depth and
 * header lines per MIME part), UTF-7 body decoding, and a look at the headers of embedded
 * messages. It hooks two methods mailparser marks `@internal` (`getDecoder`, `processChunk`) and
 * reads its `curnode` field; all exist unchanged since mailparser 3.0, and `mime-parser.test.ts`
 * fails if that changes.
 */
import { MailParser, type MailParserOptions } from 'mailparser';
import type { Transform, Writable } from 'node:stream';
import { createBodyDecodeStream, isUtf7Charset } from './charset-decoder.js';
import type { RawHeaderLine } from './header-fields.js';
import { ParseLimitError, parseFailure } from './parse-failure.js';
import type { ParseLimits } from './parse-types.js';

/** The fields of a mailsplit MIME node this file reads. */
interface SplitterNode {
  type: 'node' | 'body' | 'data';
  root?: boolean;
  contentType?: string | false;
  disposition?: string | false;
  messageNode?: boolean;
  parentNode?: SplitterNode | false;
  headers?: { getList(): RawHeaderLine[] } | false;
  /** For 'body' chunks: the node they belong to, and the bytes. */
  node?: SplitterNode;
  value?: Buffer;
}

type ChunkCallback = (err?: Error | null) => void;

/** Signature of the internal methods hooked here, for the `super` calls. */
interface MailParserInternals {
  processChunk(data: SplitterNode, done: ChunkCallback): void;
}

/** Limits and observations of a {@link LimitedMailParser}. */
export interface LimitedParserState {
  /** Header lines of each `message/rfc822` part opened inline, in order. */
  embeddedHeaderLines: RawHeaderLine[][];
  parts: number;
  maxDepthSeen: number;
  utf7Bodies: number;
  /** Text parts cut at `maxTextBytes`. */
  truncatedTextParts: number;
}

/** Part decoders given an idempotent `end()` (see `endDecoderOnce`). */
const endOnce = new WeakSet<Writable>();

function depthOf(node: SplitterNode): number {
  let depth = 0;
  for (let p = node.parentNode; p; p = p.parentNode) depth++;
  return depth;
}

/**
 * The mailparser options Mailroom parses with: no text-to-HTML or HTML-to-text work in the parser
 * (the HTML is sanitized separately and the text fallback is computed once, bounded), SHA-256
 * checksums for attachments, delivery-status reports kept as parts so they can be read as data.
 */
export function mailParserOptions(limits: ParseLimits): MailParserOptions {
  return {
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    skipImageLinks: true,
    keepDeliveryStatus: true,
    checksumAlgo: 'sha256',
    maxHeadSize: Math.max(1024, limits.maxHeaderBytes),
    maxChildNodes: Math.max(1, limits.maxParts),
  };
}

export class LimitedMailParser extends MailParser {
  readonly state: LimitedParserState = { embeddedHeaderLines: [], parts: 0, maxDepthSeen: 0, utf7Bodies: 0, truncatedTextParts: 0 };
  /** Encoded bytes seen per text part, for maxTextBytes. */
  private readonly textBytes = new WeakMap<SplitterNode, number>();
  private readonly limits: ParseLimits;

  constructor(limits: ParseLimits) {
    super(mailParserOptions(limits));
    this.limits = limits;
    // A hostile part error must not crash the process through an unhandled 'error' event.
    this.on('error', () => undefined);
  }

  /**
   * mailparser calls this from its constructor to get its body charset decoder; libmime refuses
   * UTF-7, this decodes it (see charset-decoder.ts for why that is safe here).
   */
  getDecoder(): { decodeStream(charset: string): Transform } {
    return {
      decodeStream: (charset: string) => {
        // `state` is not initialized yet when the base constructor calls getDecoder, but this
        // closure only runs later, for a text part.
        if (isUtf7Charset(charset)) this.state.utf7Bodies++;
        return createBodyDecodeStream(charset);
      },
    };
  }

  processChunk(data: SplitterNode, done: ChunkCallback): void {
    if (data.type === 'node') {
      const limitErr = this.checkNode(data);
      if (limitErr) {
        done(limitErr);
        return;
      }
    } else if (data.type === 'body' && data.node && data.value && this.isInlineText(data.node)) {
      // mailparser keeps text parts in memory and turns each into one string at the end; a
      // huge one would be a single allocation larger than a worker's heap, which V8 does not
      // survive gracefully. Cut it instead (the raw message keeps everything).
      const seen = this.textBytes.get(data.node) ?? 0;
      if (seen >= this.limits.maxTextBytes) {
        setImmediate(done);
        return;
      }
      this.textBytes.set(data.node, seen + data.value.length);
      if (seen + data.value.length > this.limits.maxTextBytes) {
        this.state.truncatedTextParts++;
        data.value = data.value.subarray(0, this.limits.maxTextBytes - seen);
      }
    }
    (MailParser.prototype as unknown as MailParserInternals).processChunk.call(this, data, done);
    if (data.type === 'node') this.endDecoderOnce();
  }

  /**
   * mailparser ends the current part's decoder again at each boundary after it and at the end of
   * the message; ending an ended stream makes Node build an ERR_STREAM_ALREADY_FINISHED error
   * with its stack trace, which nobody sees (a few per cent of a parse's time on the corpus).
   * The part just created gets an `end()` that does nothing once ended. Reads mailparser's
   * `curnode` field: without it this does nothing, and nothing else changes.
   */
  private endDecoderOnce(): void {
    const node = (this as unknown as { curnode?: { decoder?: Writable } | false }).curnode || undefined;
    const d = node?.decoder;
    if (!d || typeof d.end !== 'function' || endOnce.has(d)) return;
    endOnce.add(d);
    const end = d.end;
    d.end = function (this: Writable, ...args: unknown[]) {
      if (args.length === 0 && this.writableEnded) return this;
      return (end as (...a: unknown[]) => Writable).apply(this, args);
    } as Writable['end'];
  }

  /** Mirrors mailparser's test for a text part shown as the body (not an attachment). */
  private isInlineText(node: SplitterNode): boolean {
    const type = node.contentType || (node.root ? 'text/plain' : '');
    return (type === 'text/plain' || type === 'text/html') && node.disposition !== 'attachment';
  }

  private checkNode(node: SplitterNode): ParseLimitError | null {
    this.state.parts++;
    const depth = depthOf(node);
    this.state.maxDepthSeen = Math.max(this.state.maxDepthSeen, depth);
    if (depth > this.limits.maxDepth) {
      return new ParseLimitError(parseFailure('PARSE_TOO_DEEP', `MIME parts are nested deeper than ${this.limits.maxDepth} levels`));
    }
    const lines = node.headers ? node.headers.getList() : [];
    if (lines.length > this.limits.maxHeaders) {
      return new ParseLimitError(
        parseFailure('PARSE_TOO_MANY_HEADERS', `A MIME part has ${lines.length} header lines, more than the limit of ${this.limits.maxHeaders}`),
      );
    }
    const parent = node.parentNode;
    if (parent && parent.contentType === 'message/rfc822' && parent.messageNode) {
      this.state.embeddedHeaderLines.push(lines);
    }
    return null;
  }
}
