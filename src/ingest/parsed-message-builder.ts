/**
 * Turns what the streaming parser collected (raw root header lines, the text content, attachment
 * infos, captured report parts) into a {@link ParsedMessage}.
 */
import {
  collectHeaders,
  first,
  firstAddress,
  parseAddressList,
  parseDateHeader,
  parseMessageIds,
  parseReturnPath,
  parseStructured,
  type RawHeaderLine,
} from './header-fields.js';
import { decodeHeaderText } from './charset-decoder.js';
import { htmlToPlainText } from './html-text-converter.js';
import { CLASSIFICATION_HEADERS, type AttachmentInfo, type EmbeddedMessageInfo, type ParseLimits, type ParsedMessage, type ReportPart } from './parse-types.js';

/** Header fields read into dedicated properties. */
const FIELD_HEADERS = ['message-id', 'in-reply-to', 'references', 'subject', 'date', 'from', 'sender', 'to', 'cc', 'reply-to', 'return-path', 'content-type'];

/** At most this many embedded messages are described (a message of thousands of forwards is not). */
const MAX_EMBEDDED = 50;

export interface CollectedParts {
  rootHeaderLines: readonly RawHeaderLine[];
  embeddedHeaderLines: readonly (readonly RawHeaderLine[])[];
  text: string | undefined;
  html: string | undefined;
  attachments: AttachmentInfo[];
  reportParts: ReportPart[];
  size: number;
  utf7Bodies: number;
  truncatedTextParts: number;
}

function describeEmbedded(lines: readonly RawHeaderLine[]): EmbeddedMessageInfo {
  const h = collectHeaders(lines, new Set(['message-id', 'subject', 'from', 'date']));
  return {
    messageId: parseMessageIds(first(h, 'message-id'))[0] ?? null,
    subject: decodeHeaderText(first(h, 'subject') ?? ''),
    from: firstAddress(h.get('from')),
    date: parseDateHeader(first(h, 'date')),
  };
}

/** Builds the parsed message; pure apart from the bounded HTML-to-text conversion. */
export function buildParsedMessage(parts: CollectedParts, limits: ParseLimits, extraHeaders: readonly string[] = []): ParsedMessage {
  const recorded = new Set<string>([...CLASSIFICATION_HEADERS, ...extraHeaders.map((h) => h.toLowerCase())]);
  // The root's charset, for headers that carry raw 8-bit or UTF-7 text without encoded words.
  const rootCt = collectHeaders(parts.rootHeaderLines, new Set(['content-type']));
  const bodyCharset = parseStructured(first(rootCt, 'content-type'), 'text/plain').params.charset;
  const all = collectHeaders(parts.rootHeaderLines, new Set([...recorded, ...FIELD_HEADERS]), bodyCharset);
  const warnings: string[] = [];

  const dateRaw = first(all, 'date');
  const date = parseDateHeader(dateRaw);
  if (dateRaw !== undefined && date === null) warnings.push(`The Date header "${dateRaw.slice(0, 80)}" could not be read`);

  const subjectRaw = first(all, 'subject') ?? '';
  if (/=\?[^?]*utf-?7\?/i.test(subjectRaw) || (bodyCharset && /utf-?7/i.test(bodyCharset) && /\+[A-Za-z0-9+/]{2,}-?/.test(subjectRaw))) {
    warnings.push('The subject was encoded in UTF-7');
  }
  if (parts.utf7Bodies > 0) warnings.push('A text part was encoded in UTF-7');
  if (parts.truncatedTextParts > 0) warnings.push(`A text part is longer than ${Math.round(limits.maxTextBytes / 2 ** 20)} MB and is cut; the raw message has all of it`);

  const references = parseMessageIds((all.get('references') ?? []).join(' '));
  const ct = parseStructured(first(all, 'content-type'), 'text/plain');

  let text = parts.text !== undefined && parts.text.trim() !== '' ? parts.text : null;
  let textSource: ParsedMessage['textSource'] = text === null ? 'none' : 'text';
  const html = parts.html !== undefined && parts.html.trim() !== '' ? parts.html : null;
  if (text === null && html !== null) {
    if (html.length > limits.maxHtmlToTextChars) warnings.push(`The HTML is longer than ${limits.maxHtmlToTextChars} characters; its text fallback is cut`);
    const converted = htmlToPlainText(html, { maxInputChars: limits.maxHtmlToTextChars });
    if (converted !== '') {
      text = converted;
      textSource = 'html';
    }
  }

  const headers: [string, string[]][] = [];
  for (const name of recorded) {
    const values = all.get(name);
    if (values) headers.push([name, values.map((v) => (v.includes('=?') ? decodeHeaderText(v) : v))]);
  }

  return {
    messageId: parseMessageIds(first(all, 'message-id'))[0] ?? null,
    inReplyTo: parseMessageIds((all.get('in-reply-to') ?? []).join(' ')),
    references: references.slice(Math.max(0, references.length - limits.maxReferences)),
    subject: decodeHeaderText(subjectRaw, bodyCharset).trim(),
    date,
    from: firstAddress(all.get('from')),
    sender: firstAddress(all.get('sender')),
    to: parseAddressList(all.get('to')),
    cc: parseAddressList(all.get('cc')),
    replyTo: parseAddressList(all.get('reply-to')),
    returnPath: parseReturnPath(all.get('return-path')),
    contentType: ct.value,
    contentTypeParams: ct.params,
    // fromEntries defines own properties: a header named __proto__ (extraHeaders) stays data.
    headers: Object.fromEntries(headers),
    text,
    textSource,
    html,
    hasHtml: html !== null,
    attachments: parts.attachments,
    reportParts: parts.reportParts,
    embeddedMessages: parts.embeddedHeaderLines.slice(0, MAX_EMBEDDED).map(describeEmbedded),
    size: parts.size,
    warnings,
  };
}
