/**
 * Email HTML made safe to show (API.md "Sanitized HTML"), on the server, with DOMPurify over one
 * reused jsdom window (creating a window costs tens of milliseconds; a sanitize call reuses it).
 *
 * The output never has `script`, `iframe`, `object`, `embed`, `form`, `input`, `meta`, `link`,
 * `base` (nor frames, media or SVG/MathML, whose namespaces are where mutation XSS lives), no event
 * handler attributes, no `javascript:`/`vbscript:`/`data:` URLs (except `data:image/{png,gif,jpeg,webp}`
 * in `img`), and no CSS that loads anything (css-sanitizer.ts). Remote images are not loaded:
 * their address moves to `data-mailroom-src` (the web app loads them through
 * `/api/v1/image-proxy` when the agent asks). `cid:` images point at our attachments through the
 * caller's mapping. Links open in a new browsing context without opener or referrer.
 *
 * The result is meant for a sandboxed iframe without `allow-scripts` and with a strict CSP: this
 * is the second wall, not the only one.
 */
import createDOMPurify, { type Config, type DOMPurify, type WindowLike } from 'dompurify';
import { createRequire } from 'node:module';
import type { JSDOM as JSDOMType } from 'jsdom';
import { sanitizeStyleAttribute, sanitizeStylesheet } from './css-sanitizer.js';
import { htmlToPlainText } from './html-text-converter.js';

/** Where the web app finds a blocked remote image's address. */
export const REMOTE_IMAGE_ATTRIBUTE = 'data-mailroom-src';

export interface SanitizeOptions {
  /**
   * Content-ID (without angle brackets, as in `AttachmentMeta.contentId`) → our attachment id,
   * as a map, a record or a function. `cid:` references not found are removed.
   */
  cidToAttachmentId?: ReadonlyMap<string, string | number> | Record<string, string | number> | ((cid: string) => string | number | undefined | null);
  /** The URL of an attachment. Default `/api/v1/attachments/${id}`. Must be same-origin (start with `/`). */
  attachmentUrl?: (attachmentId: string | number) => string;
  /** Keep `data:image/…` images (png, gif, jpeg, webp). Default true: they load nothing. */
  allowDataImages?: boolean;
}

export interface SanitizeResult {
  html: string;
  /** Remote images blocked (their address kept in `data-mailroom-src`): show a "show images" button when > 0. */
  remoteImages: number;
  /** cid: references that were rewritten to attachments. */
  inlineImages: number;
  /** cid: references with no matching attachment (removed). */
  missingInlineImages: number;
}

const FORBID_TAGS = [
  'script', 'noscript', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'param', 'form', 'input', 'button', 'select', 'option',
  'textarea', 'meta', 'link', 'base', 'video', 'audio', 'source', 'track', 'picture', 'portal', 'template', 'dialog', 'svg', 'math', 'title',
];
const FORBID_ATTR = ['srcset', 'ping', 'background', 'poster', 'action', 'formaction', 'lowsrc', 'dynsrc', 'longdesc', 'xmlns', 'autofocus', 'is', 'popover'];
const SAFE_LINK = /^(?:https?:|mailto:|tel:|#)/i;
const DATA_IMAGE = /^data:image\/(?:png|gif|jpe?g|webp|bmp);base64,[a-z0-9+/=\s]*$/i;
const REMOTE = /^(?:https?:)?\/\//i;

interface Context {
  opts: SanitizeOptions;
  result: SanitizeResult;
}

let purifier: DOMPurify | null = null;
let context: Context | null = null;

function resolveCid(cid: string, opts: SanitizeOptions): string | null {
  const m = opts.cidToAttachmentId;
  if (!m) return null;
  let key = cid.trim();
  try {
    key = decodeURIComponent(key);
  } catch {
    // keep as written
  }
  const id = typeof m === 'function' ? m(key) : m instanceof Map ? m.get(key) : Object.hasOwn(m, key) ? (m as Record<string, string | number>)[key] : undefined;
  if (id === undefined || id === null || id === '') return null;
  const url = (opts.attachmentUrl ?? ((a) => `/api/v1/attachments/${encodeURIComponent(String(a))}`))(id);
  // Only same-origin paths: a mapping must not turn into a remote load.
  return /^\/[A-Za-z0-9/_.%-]*$/.test(url) ? url : null;
}

function cssRewrite(ctx: Context): (url: string) => string | null {
  return (url) => {
    if (!/^cid:/i.test(url)) return null;
    const safe = resolveCid(url.slice(4), ctx.opts);
    if (safe) ctx.result.inlineImages++;
    else ctx.result.missingInlineImages++;
    return safe;
  };
}

function setUp(): DOMPurify {
  // jsdom takes about half a second to load: loaded at the first sanitize, not at server start.
  const { JSDOM } = createRequire(import.meta.url)('jsdom') as { JSDOM: typeof JSDOMType };
  const { window } = new JSDOM('<!DOCTYPE html><html><body></body></html>');
  const purify = createDOMPurify(window as unknown as WindowLike);

  purify.addHook('uponSanitizeElement', (node, data) => {
    const ctx = context;
    if (!ctx || data.tagName !== 'style') return;
    node.textContent = sanitizeStylesheet(node.textContent ?? '', { rewriteUrl: cssRewrite(ctx) });
  });

  purify.addHook('uponSanitizeAttribute', (_node, data) => {
    const ctx = context;
    if (!ctx) return;
    if (data.attrName === 'style') {
      data.attrValue = sanitizeStyleAttribute(data.attrValue, { rewriteUrl: cssRewrite(ctx) });
      if (data.attrValue === '') data.keepAttr = false;
    }
  });

  purify.addHook('afterSanitizeAttributes', (node) => {
    const ctx = context;
    if (!ctx) return;
    const tag = node.nodeName.toLowerCase();
    if (tag === 'a' || tag === 'area') {
      const href = (node.getAttribute('href') ?? '').trim();
      if (href && !SAFE_LINK.test(href)) node.removeAttribute('href');
      if (node.hasAttribute('href') && !href.startsWith('#')) {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer');
      } else node.removeAttribute('target');
    } else if (node.hasAttribute('target')) node.removeAttribute('target');
    if (tag === 'img') {
      const src = (node.getAttribute('src') ?? '').trim();
      node.removeAttribute('src');
      if (/^cid:/i.test(src)) {
        const safe = resolveCid(src.slice(4), ctx.opts);
        if (safe) {
          node.setAttribute('src', safe);
          ctx.result.inlineImages++;
        } else ctx.result.missingInlineImages++;
      } else if (REMOTE.test(src)) {
        node.setAttribute(REMOTE_IMAGE_ATTRIBUTE, src.startsWith('//') ? `https:${src}` : src);
        ctx.result.remoteImages++;
      } else if (ctx.opts.allowDataImages !== false && DATA_IMAGE.test(src)) {
        node.setAttribute('src', src);
      }
    }
    // Anything else that names a resource outside `a`/`area`/`img` is not needed in an email.
    for (const attr of ['src', 'href', 'xlink:href', 'data', 'codebase', 'cite']) {
      if (attr === 'href' && (tag === 'a' || tag === 'area')) continue;
      if (attr === 'src' && tag === 'img') continue;
      if (node.hasAttribute(attr)) node.removeAttribute(attr);
    }
  });
  return purify;
}

const CONFIG: Config = {
  USE_PROFILES: { html: true },
  FORBID_TAGS,
  FORBID_ATTR,
  ALLOW_DATA_ATTR: false,
  ALLOW_UNKNOWN_PROTOCOLS: false,
  // Pulls <style> of <head> into the body, where it is kept (sanitized) instead of dropped.
  FORCE_BODY: true,
  KEEP_CONTENT: true,
  WHOLE_DOCUMENT: false,
  RETURN_TRUSTED_TYPE: false,
};

/** Sanitizes email HTML for display. Synchronous, pure apart from the reused jsdom window; never throws. */
export function sanitizeHtml(html: string, opts: SanitizeOptions = {}): SanitizeResult {
  const result: SanitizeResult = { html: '', remoteImages: 0, inlineImages: 0, missingInlineImages: 0 };
  if (!html) return result;
  purifier ??= setUp();
  context = { opts, result };
  try {
    result.html = String(purifier.sanitize(html, CONFIG));
  } catch {
    // DOMPurify does not throw on input; if jsdom ever did, show nothing rather than the raw HTML.
    result.html = '';
  } finally {
    context = null;
  }
  return result;
}

/**
 * The text to show or index when a message has no text part: the HTML's text (html-to-text),
 * links kept as `text [url]`.
 */
export function htmlTextFallback(html: string, maxInputChars = 2_000_000): string {
  return htmlToPlainText(html, { maxInputChars });
}
