/**
 * The document a message's sanitized HTML is shown in (API.md "Sanitized HTML"): the server's
 * HTML unchanged, under a Content-Security-Policy of its own that lets it load nothing but our
 * inline (`cid:`) attachments, and our image proxy once the agent asked to see remote images.
 */

const ATTACHMENTS = '/api/v1/attachments/';
const IMAGE_PROXY = '/api/v1/image-proxy';
/** Where the sanitizer keeps a blocked remote image's address. */
const REMOTE_SRC = 'data-mailroom-src';

/** A <template> parses without loading images or running anything, in our own document. */
function parse(html: string): HTMLTemplateElement {
  const t = document.createElement('template');
  t.innerHTML = html;
  return t;
}

/** How many remote images the sanitizer blocked ("Show images (N)"). */
export function countBlockedImages(html: string | null): number {
  if (!html || !html.includes(REMOTE_SRC)) return 0;
  return parse(html).content.querySelectorAll(`img[${REMOTE_SRC}]`).length;
}

/** The HTML with every blocked remote image pointed at our image proxy (never at the remote host). */
export function withProxiedImages(html: string): string {
  const t = parse(html);
  for (const img of t.content.querySelectorAll<HTMLImageElement>(`img[${REMOTE_SRC}]`)) {
    const remote = img.getAttribute(REMOTE_SRC) ?? '';
    img.removeAttribute(REMOTE_SRC);
    if (/^https?:\/\//i.test(remote)) img.setAttribute('src', `${IMAGE_PROXY}?url=${encodeURIComponent(remote)}`);
  }
  return t.innerHTML;
}

/**
 * The policy inside the frame. Sources are absolute paths on our origin rather than `'self'`:
 * the frame's own origin is the sandbox's business, and a path keeps even our own API out of
 * reach except for the two routes an email may show. No fonts, media, frames, forms or fetches.
 */
export function emailCsp(origin: string, images: boolean): string {
  const img = [`data:`, `${origin}${ATTACHMENTS}`, ...(images ? [`${origin}${IMAGE_PROXY}`] : [])].join(' ');
  return `default-src 'none'; img-src ${img}; style-src 'unsafe-inline'; font-src 'none'; media-src 'none'; frame-src 'none'; form-action 'none'; base-uri 'none'`;
}

/** Calm defaults; the email's own styles come after and win where they say something. */
const BASE_CSS = `
html { margin: 0; padding: 0; background: #fff; }
body { margin: 0; padding: 2px 2px 4px; font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1d2330; overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; }
img[${REMOTE_SRC}] { display: inline-block; min-width: 1.2em; min-height: 1.2em; outline: 1px dashed #c4cad4; }
pre { white-space: pre-wrap; }
blockquote { margin: 0.5em 0; padding-left: 0.8em; border-left: 3px solid #d6dae1; color: #4a5262; }
a { color: #2456d6; }
`;

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The `srcdoc` of the frame: policy first (a meta CSP governs only what follows it), then the email. */
export function emailDocument(html: string, opts: { origin: string; images: boolean }): string {
  const body = opts.images ? withProxiedImages(html) : html;
  return (
    '<!doctype html><html><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="${escapeAttr(emailCsp(opts.origin, opts.images))}">` +
    '<meta name="referrer" content="no-referrer">' +
    `<style>${BASE_CSS}</style></head><body>${body}</body></html>`
  );
}
