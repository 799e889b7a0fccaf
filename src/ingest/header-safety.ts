/**
 * Strings on their way into outgoing headers, and names shown to agents.
 *
 * Header injection: a CR or LF in a subject or display name would end the header and start a new
 * one (`Bcc:`) or the body (RFC 5322 §2.2: a header field is one line; folding is the only line
 * break allowed). NUL and other controls are not allowed in headers either (RFC 5322 §3.2.3,
 * RFC 6532 §3.2), and U+2028/U+2029/U+0085 are line breaks to some parsers. All of them become a
 * space, so the words around them stay apart.
 *
 * Bidi spoofing: U+202E in a file name makes `invoice‮fdp.exe` display as `invoiceexe.pdf`
 * (CVE-2021-42574-style "Trojan Source" tricks). Bidi controls in names are shown escaped.
 */

// C0 controls (TAB included: it only folds), DEL, C1 controls, the Unicode line/paragraph separators.
// eslint-disable-next-line no-control-regex
const HEADER_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Bidi embedding/override/isolate controls and marks (Unicode UAX #9). */
const BIDI = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

/** Zero-width and invisible characters that hide text in names (shown escaped too). */
const INVISIBLE = /[\u200b-\u200d\u2060\ufeff]/g;

/**
 * A value safe for an outgoing header: line breaks and controls become spaces, runs of spaces
 * collapse, the ends are trimmed, and it is cut to `maxLength` characters (default 998, RFC 5322
 * §2.1.1's line limit; the mail library folds and encodes what remains).
 */
export function sanitizeHeaderValue(value: string | null | undefined, maxLength = 998): string {
  const s = String(value ?? '')
    .replace(HEADER_UNSAFE, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  return [...s].slice(0, maxLength).join('').trim();
}

/** True when the value would be changed by {@link sanitizeHeaderValue} (for logging injection attempts). */
export function hasHeaderUnsafeCharacters(value: string): boolean {
  return new RegExp(HEADER_UNSAFE.source).test(value);
}

function escapeChar(ch: string): string {
  return `[U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`;
}

/**
 * A display name or file name for showing to an agent: controls removed as for headers, bidi
 * controls and invisible characters shown as `[U+202E]`, so the text reads in its real order.
 */
export function escapeForDisplay(value: string | null | undefined): string {
  return sanitizeHeaderValue(value, 10_000).replace(BIDI, escapeChar).replace(INVISIBLE, escapeChar);
}

/** True when the text holds bidi controls (show a warning next to a file name). */
export function hasBidiControls(value: string): boolean {
  return new RegExp(BIDI.source).test(value);
}

/**
 * A file name safe to offer for download and to put in `Content-Disposition`: no path, no
 * controls, bidi controls escaped, no leading dots (hidden files), at most 200 characters
 * keeping the extension; `fallback` when nothing is left.
 */
export function safeFilename(name: string | null | undefined, fallback = 'attachment'): string {
  let s = escapeForDisplay(name ?? '')
    .replace(/^.*[\\/]/, '') // a path (C:\TEMP\x.png, ../../etc/passwd) keeps its last segment
    .replace(/["*:<>?|]/g, '_')
    .replace(/^[.\s]+/, '')
    .trim();
  if (s.length > 200) {
    const dot = s.lastIndexOf('.');
    const ext = dot > 0 && s.length - dot <= 16 ? s.slice(dot) : '';
    s = s.slice(0, 200 - ext.length) + ext;
  }
  return s || fallback;
}

/** A display name for an outgoing `From`/`To` (the mail library quotes and encodes it). */
export function safeDisplayName(name: string | null | undefined): string {
  // Bidi controls are dropped rather than escaped here: the recipient's client shows the name.
  return sanitizeHeaderValue(name, 200).replace(BIDI, '').replace(INVISIBLE, '').trim();
}

/**
 * An address for an outgoing header or envelope, or '' when it is not a single plain address
 * (a value with a line break, a comma, angle brackets or a space is never passed through).
 */
export function safeHeaderAddress(address: string | null | undefined): string {
  const s = String(address ?? '').trim();
  // eslint-disable-next-line no-control-regex
  if (!s || /[\u0000-\u0020\u007f-\u009f\u2028\u2029,;<>()[\]"\\]/.test(s)) return '';
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1 || s.indexOf('@') !== at) return '';
  return `${s.slice(0, at)}@${s.slice(at + 1).toLowerCase()}`;
}
