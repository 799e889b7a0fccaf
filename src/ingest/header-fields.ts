/**
 * Reading the fields Mailroom needs from raw header lines, independently of how mailparser shapes
 * its header map: every occurrence kept, 8-bit headers decoded sensibly, UTF-7 encoded words
 * decoded, Message-IDs as lists, and an unparseable Date left null instead of "now".
 */
import libmime from 'libmime';
import { parseAddressHeader, type EmailAddress } from 'mailparser';
import iconv from 'iconv-lite';
import { normalizeAddress } from './address-normalizer.js';
import { decodeHeaderText, repairEncodedWords } from './charset-decoder.js';
import type { MailAddress } from './parse-types.js';

/** A header line as mailsplit gives it: lower-case key, the raw line read as latin1 ("binary"). */
export interface RawHeaderLine {
  key: string;
  line: string;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * The header's bytes as text. RFC 6532 allows raw UTF-8 in headers; older mail puts raw 8-bit
 * bytes of a legacy charset there (no encoded words): when the bytes are not valid UTF-8 they are
 * read in `fallbackCharset` (the body's, when the caller knows it) or else windows-1252, the
 * charset such messages are most often in, rather than shown as U+FFFD.
 */
export function headerBytesToText(binary: string, fallbackCharset?: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(binary)) return binary;
  const bytes = Buffer.from(binary, 'latin1');
  try {
    return utf8Strict.decode(bytes);
  } catch {
    const cs = fallbackCharset && !/utf-?7/i.test(fallbackCharset) && iconv.encodingExists(fallbackCharset) ? fallbackCharset : 'windows-1252';
    return iconv.decode(bytes, cs);
  }
}

/** Unfolds a raw header line (RFC 5322 §2.2.3) and splits it into lower-case name and value. */
export function splitHeaderLine(raw: RawHeaderLine, fallbackCharset?: string): { key: string; value: string } {
  const text = headerBytesToText(raw.line, fallbackCharset).replace(/\r?\n(?=[ \t])/g, '').replace(/[\r\n]+/g, ' ');
  const colon = text.indexOf(':');
  const value = colon >= 0 ? text.slice(colon + 1) : '';
  return { key: raw.key.toLowerCase(), value: value.trim() };
}

/** Every value of each header, in order; keys lower-case. Only `keep` names when given. */
export function collectHeaders(lines: readonly RawHeaderLine[], keep?: ReadonlySet<string>, fallbackCharset?: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of lines) {
    if (keep && !keep.has(raw.key.toLowerCase())) continue;
    const { key, value } = splitHeaderLine(raw, fallbackCharset);
    const list = out.get(key);
    if (list) list.push(value);
    else out.set(key, [value]);
  }
  return out;
}

/** The first value of a header, or undefined. */
export function first(headers: Map<string, string[]>, key: string): string | undefined {
  return headers.get(key)?.[0];
}

/**
 * Message-IDs of a Message-ID, In-Reply-To or References value, bare (no angle brackets).
 * RFC 5322 §3.6.4 wants `<id-left@id-right>`; real mail also has ids without brackets and
 * comments or phrases between them (old In-Reply-To: `<id> (John's message of …)`), so the
 * bracketed tokens win, and a value without any is split on whitespace and commas.
 */
export function parseMessageIds(value: string | undefined): string[] {
  if (!value) return [];
  let v = value;
  if (/=\?/.test(v)) v = decodeHeaderText(v);
  const bracketed = [...v.matchAll(/<([^<>]*)>/g)].map((m) => m[1]!.trim());
  const tokens = bracketed.length > 0 ? bracketed : v.split(/[\s,]+/);
  const out: string[] = [];
  for (const t of tokens) {
    const id = t.trim().replace(/^<|>$/g, '');
    // A Message-ID is at most a header line long (RFC 5322 §2.1.1) and has no whitespace.
    if (id && id.length <= 998 && !/\s/.test(id)) out.push(id);
  }
  return out;
}

/** Normalizes one Message-ID for comparison and storage: bare, trimmed. */
export function normalizeMessageId(id: string | null | undefined): string {
  return String(id ?? '')
    .trim()
    .replace(/^<+/, '')
    .replace(/>+$/, '')
    .trim();
}

function flatten(list: EmailAddress[], out: MailAddress[]): void {
  for (const a of list) {
    if (a.group) flatten(a.group, out);
    else out.push({ name: (a.name ?? '').trim(), address: normalizeAddress(a.address ?? '') });
  }
}

/** Mailboxes of an address header (groups flattened, RFC 5322 §3.4), names decoded. */
export function parseAddressList(values: readonly string[] | undefined): MailAddress[] {
  if (!values || values.length === 0) return [];
  const out: MailAddress[] = [];
  for (const value of values) {
    try {
      flatten(parseAddressHeader(repairEncodedWords(value)).value, out);
    } catch {
      // An unparseable address header yields no addresses rather than failing the message.
    }
  }
  return out.filter((a) => a.address !== '' || a.name !== '');
}

/** The first mailbox with an address, or null. */
export function firstAddress(values: readonly string[] | undefined): MailAddress | null {
  return parseAddressList(values).find((a) => a.address !== '') ?? null;
}

/**
 * The Return-Path address: '' for the null reverse-path `<>` (RFC 5321 §4.5.5: bounces and
 * auto-replies), null when absent.
 */
export function parseReturnPath(values: readonly string[] | undefined): string | null {
  const v = values?.[0];
  if (v === undefined) return null;
  const inner = /<([^<>]*)>/.exec(v)?.[1] ?? v;
  return normalizeAddress(inner.trim());
}

/** The Date header as a Date, null when absent or unparseable (RFC 5322 §3.3). */
export function parseDateHeader(value: string | undefined): Date | null {
  if (!value) return null;
  // Drop a trailing comment such as "(PDT)" or "(UTC)", which Date.parse may reject.
  const cleaned = value.replace(/\([^)]*\)\s*$/, '').trim();
  const t = Date.parse(cleaned);
  if (Number.isNaN(t)) return null;
  return new Date(t);
}

/** A structured header value (Content-Type): lower-case type, parameters with lower-case names. */
export function parseStructured(value: string | undefined, fallback: string): { value: string; params: Record<string, string> } {
  if (!value) return { value: fallback, params: {} };
  try {
    const parsed = libmime.parseHeaderValue(value, { stripComments: true }) as { value: string; params: Record<string, string> };
    const entries: [string, string][] = [];
    for (const [k, v] of Object.entries(parsed.params ?? {})) {
      let decoded = String(v);
      try {
        decoded = libmime.decodeWords(decoded);
      } catch {
        // keep as is
      }
      entries.push([k.toLowerCase(), decoded]);
    }
    // fromEntries defines own properties, so a parameter named __proto__ cannot touch the prototype.
    const params: Record<string, string> = Object.fromEntries(entries);
    // `multipart/mixed boundary=x` (a missing ";") still names the type before the space.
    const type = (parsed.value || fallback).trim().toLowerCase().split(/[\s;,]/)[0] || fallback;
    return { value: type, params };
  } catch {
    return { value: fallback, params: {} };
  }
}
