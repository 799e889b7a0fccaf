/**
 * Captures, bounded, the content of the parts classification reads as data while they stream to
 * the sink: delivery and feedback reports, the returned message's headers, calendar objects.
 */
import iconv from 'iconv-lite';
import type { AttachmentStream } from 'mailparser';
import { headerBytesToText } from './header-fields.js';
import type { ReportPart } from './parse-types.js';

const CAPTURED = new Set([
  'message/delivery-status', // RFC 3464 §2
  'message/global-delivery-status', // RFC 6533 §6.1
  'message/feedback-report', // RFC 5965 §3
  'message/disposition-notification', // RFC 8098 §3
  'message/global-disposition-notification',
  'text/rfc822-headers', // RFC 6522 §4
  'message/rfc822',
  'message/global', // RFC 6532 §3.7
  'message/global-headers', // RFC 6533 §6.3
  'text/calendar', // RFC 5545 / iMIP RFC 6047
  'application/ics',
]);

/** Parts of which only the header block matters (the original message of a bounce). */
const HEADERS_ONLY = new Set(['message/rfc822', 'message/global', 'text/rfc822-headers', 'message/global-headers']);

export function shouldCapture(contentType: string): boolean {
  return CAPTURED.has(contentType);
}

function structured(item: AttachmentStream): { params: Record<string, string>; charset: string } {
  const ct = item.headers.get('content-type') as { params?: Record<string, string> } | undefined;
  const entries = Object.entries(ct?.params ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)] as [string, string]);
  const params: Record<string, string> = Object.fromEntries(entries);
  return { params, charset: (params.charset ?? '').trim() };
}

export class ReportCapture {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private truncated = false;
  private full = false;
  private readonly headersOnly: boolean;
  private readonly contentType: string;
  private readonly params: Record<string, string>;
  private readonly charset: string;

  constructor(
    item: AttachmentStream,
    private readonly limit: number,
  ) {
    this.contentType = (item.contentType || '').toLowerCase();
    this.headersOnly = HEADERS_ONLY.has(this.contentType);
    const s = structured(item);
    this.params = s.params;
    this.charset = s.charset;
  }

  add(chunk: Buffer): void {
    if (this.full) return;
    const room = this.limit - this.bytes;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    // Copy: the chunk's memory belongs to the stream (and, in a worker, is transferred away).
    this.chunks.push(Buffer.from(part));
    this.bytes += part.length;
    if (chunk.length > room) {
      this.truncated = true;
      this.full = true;
    }
    if (this.headersOnly && /\r?\n\r?\n/.test(part.toString('latin1'))) this.full = true;
  }

  result(): ReportPart {
    const buf = Buffer.concat(this.chunks, this.bytes);
    let text: string;
    if (this.charset && !/^(us-?ascii|utf-?8)$/i.test(this.charset) && iconv.encodingExists(this.charset)) {
      text = iconv.decode(buf, this.charset);
    } else {
      text = headerBytesToText(buf.toString('latin1'));
    }
    if (this.headersOnly) {
      const end = text.search(/\r?\n\r?\n/);
      if (end >= 0) text = text.slice(0, end);
    }
    return { contentType: this.contentType, params: this.params, text, truncated: this.truncated };
  }
}
