/**
 * The display half of a parse: sanitizing the HTML (DOMPurify on jsdom). Run inside the parse
 * (`ParseOptions.display`), so in the pool it takes a worker's time under that worker's limits: a
 * pathological HTML body costs the parse its time limit, never a stalled main thread.
 *
 * The stored attachments' ids are not known inside the parse, so `cid:` references to this
 * message's own parts become placeholders under a random prefix, resolved by
 * `resolveDisplayHtml` once the attachments are stored. The prefix is random per message, so a
 * placeholder written into the email itself never matches.
 */
import { randomBytes } from 'node:crypto';
import { sanitizeHtml } from './html-sanitizer.js';
import type { DisplayPrep, ParsedMessage } from './parse-types.js';

const ATTACHMENT_URL = '/api/v1/attachments/';

/** `maxHtmlChars`: longer HTML is not shown (null), since sanitizing it would take seconds. */
export function prepareDisplay(m: Pick<ParsedMessage, 'html' | 'attachments'>, maxHtmlChars = Infinity): DisplayPrep {
  // No HTML to show: no placeholders either (and no random prefix to draw).
  if (m.html === null || m.html.length > maxHtmlChars) return { html: null, cidPrefix: '' };
  const cidPrefix = `/cid-ref/${randomBytes(12).toString('hex')}/`;
  const own = new Set(m.attachments.map((a) => a.contentId).filter((c): c is string => Boolean(c)));
  const html = sanitizeHtml(m.html, {
    cidToAttachmentId: (cid) => (own.has(cid) ? Buffer.from(cid).toString('hex') : undefined),
    attachmentUrl: (key) => cidPrefix + String(key),
  }).html;
  return { html, cidPrefix };
}

/** The sanitized HTML with each `cid:` placeholder pointing at the stored attachment of that Content-ID. */
export function resolveDisplayHtml(d: DisplayPrep, attachmentIdOf: ReadonlyMap<string, number | string>): string | null {
  if (d.html === null || !d.html.includes(d.cidPrefix)) return d.html;
  // The prefix is [a-z0-9/-] only (made above), so it needs no escaping in a pattern.
  return d.html.replace(new RegExp(`${d.cidPrefix}([0-9a-f]+)`, 'g'), (_m, hex: string) => {
    const id = attachmentIdOf.get(Buffer.from(hex, 'hex').toString());
    // A part the parser saw but the store does not hold: a dead same-origin link, never a remote one.
    return `${ATTACHMENT_URL}${id === undefined ? 'missing' : encodeURIComponent(String(id))}`;
  });
}
