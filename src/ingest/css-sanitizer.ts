/**
 * CSS from email, made unable to load anything (API.md "Sanitized HTML": no `@import`, no `url(…)`
 * to a remote host). A loading CSS construct is a tracking pixel or an exfiltration channel
 * (attribute selectors + background URLs read the page out). DOMPurify keeps CSS as is, so this
 * runs on every `style` attribute and `<style>` element.
 *
 * Obfuscation is undone before checking, the way a browser reads CSS (CSS Syntax 3 §4.3):
 * comments (`u/**\/rl(`) are removed and escapes decoded (`\75rl(`, `u\rl(`, `\000075rl(`); what is
 * checked is then exactly what is output (no escapes left, no `<` that could close a `<style>`).
 * A declaration that loads anything is dropped; `url(cid:…)` may be rewritten to our own
 * attachment URL by the caller. As a last line, output that still contains a loading construct
 * is dropped entirely (fail closed).
 */

export interface CssSanitizeOptions {
  /** Maps a `url()` target to a safe URL (e.g. `cid:` → `/api/v1/attachments/7`), or null to drop it. */
  rewriteUrl?: (url: string) => string | null;
}

/** Functions and at-rules that fetch, execute or embed (CSS Images 3/4, legacy IE, Firefox XBL). */
const LOADER = /(?:url|image|image-set|-webkit-image-set|cross-fade|-webkit-cross-fade|element|-moz-element|expression|paint|src)\s*\(|@import|@namespace|-moz-binding|behavior\s*:|-ms-behavior/i;
const DANGEROUS_PROPERTIES = new Set(['behavior', '-ms-behavior', '-moz-binding']);

/** CSS Syntax 3 §4.3.7: consume an escaped code point. */
function decodeEscapes(css: string): string {
  return css.replace(/\\(?:([0-9a-fA-F]{1,6})(?:\r\n|[ \t\r\n\f])?|(\r\n|[\n\r\f])|([\s\S]))/g, (_m, hex: string | undefined, nl: string | undefined, ch: string | undefined) => {
    if (hex !== undefined) {
      const cp = parseInt(hex, 16);
      if (cp === 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return '\ufffd';
      return String.fromCodePoint(cp);
    }
    if (nl !== undefined) return '';
    return ch ?? '';
  });
}

function stripComments(css: string): string {
  return css.replace(/\/\*[\s\S]*?(?:\*\/|$)/g, ' ');
}

/**
 * The CSS as a browser reads it: controls and comments removed, escapes decoded, and every
 * backslash and `<` that decoding could have produced removed, so the result has one meaning.
 */
export function normalizeCss(css: string): string {
  // eslint-disable-next-line no-control-regex
  let s = css.replace(/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/g, '');
  s = stripComments(s);
  s = decodeEscapes(s);
  // eslint-disable-next-line no-control-regex
  s = s.replace(/\\/g, '').replace(/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/g, '');
  s = stripComments(s);
  return s.replace(/</g, '');
}

const URL_FN = /\burl\s*\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)/gi;

/** One declaration (`prop: value`), or '' when it loads anything that is not rewritten. */
function sanitizeDeclaration(decl: string, opts: CssSanitizeOptions, keep: string[]): string {
  const colon = decl.indexOf(':');
  if (colon < 0) return decl.trim() === '' ? '' : '';
  const prop = decl.slice(0, colon).trim().toLowerCase();
  if (DANGEROUS_PROPERTIES.has(prop) || !/^-?-?[a-z][a-z0-9-]*$/.test(prop)) return '';
  let value = decl.slice(colon + 1);
  if (opts.rewriteUrl && /\burl\s*\(/i.test(value)) {
    let dropped = false;
    value = value.replace(URL_FN, (_m, dq: string | undefined, sq: string | undefined, bare: string | undefined) => {
      const target = (dq ?? sq ?? bare ?? '').trim();
      const safe = opts.rewriteUrl!(target);
      if (safe === null || !/^\/[A-Za-z0-9/_.%-]*$/.test(safe)) {
        dropped = true;
        return '';
      }
      // A placeholder keeps the allowed URL out of the loader check below.
      keep.push(safe);
      return `\u0001${keep.length - 1}\u0001`;
    });
    if (dropped) return '';
  }
  if (LOADER.test(value)) return '';
  return `${prop}:${value}`;
}

function restore(css: string, keep: string[]): string {
  // eslint-disable-next-line no-control-regex
  return css.replace(/\u0001(\d+)\u0001/g, (_m, i: string) => `url("${keep[Number(i)] ?? ''}")`);
}

function failClosed(out: string, keep: string[]): string {
  // eslint-disable-next-line no-control-regex
  if (LOADER.test(out.replace(/\u0001\d+\u0001/g, ''))) return '';
  return restore(out, keep).trim();
}

/** A `style` attribute's declarations, without anything that loads. */
export function sanitizeStyleAttribute(style: string, opts: CssSanitizeOptions = {}): string {
  const keep: string[] = [];
  const decls = normalizeCss(style)
    .split(';')
    .map((d) => sanitizeDeclaration(d, opts, keep))
    .filter((d) => d.trim() !== '');
  return failClosed(decls.join(';'), keep);
}

/**
 * A `<style>` element's stylesheet, without anything that loads: `@import`/`@namespace` rules
 * removed, declarations that load dropped, preludes that mention a loader dropped with their block.
 */
export function sanitizeStylesheet(css: string, opts: CssSanitizeOptions = {}): string {
  const keep: string[] = [];
  const s = normalizeCss(css).replace(/@(?:import|namespace|charset)\b[^;{}]*(?:;|$)/gi, '');
  // Segments end at `{`, `}` or `;`; inside a block a segment is a declaration, before `{` a prelude.
  const out: string[] = [];
  let depth = 0;
  let skipDepth = -1;
  for (const m of s.matchAll(/([^{};]*)([{};]|$)/g)) {
    const text = m[1] ?? '';
    const sep = m[2] ?? '';
    if (text === '' && sep === '') break;
    if (sep === '{') {
      if (skipDepth < 0 && LOADER.test(text)) skipDepth = depth;
      depth++;
      if (skipDepth < 0) out.push(`${text.trim()}{`);
      continue;
    }
    if (skipDepth < 0) {
      // A declaration inside a block (`prop: value`) or a nested rule's tail.
      const piece = depth > 0 && text.includes(':') ? sanitizeDeclaration(text, opts, keep) : LOADER.test(text) ? '' : text.trim();
      if (piece !== '') out.push(sep === ';' ? `${piece};` : piece);
    }
    if (sep === '}') {
      depth = Math.max(0, depth - 1);
      if (skipDepth >= 0 && depth <= skipDepth) skipDepth = -1;
      else if (skipDepth < 0) out.push('}');
    }
  }
  return failClosed(out.join(''), keep);
}
