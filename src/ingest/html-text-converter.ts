/**
 * The text fallback of an HTML-only message (for the agent's preview, language detection and
 * search), with html-to-text. Bounded: very long or very deep HTML is cut rather than converted
 * at any cost, because the input is hostile.
 */
import { compile } from 'html-to-text';

export interface HtmlToTextOptions {
  /** Characters of HTML converted; the rest is ignored. Default 2,000,000. */
  maxInputChars?: number;
  /** Keep link targets as `text [url]`. Default true (an agent needs to see where a link goes). */
  showLinks?: boolean;
}

/** html-to-text compiles its options into a converter; doing that per message costs more than converting. */
const converters = new Map<string, (html: string) => string>();

function converter(maxInputLength: number, showLinks: boolean): (html: string) => string {
  const key = `${maxInputLength}:${showLinks}`;
  let c = converters.get(key);
  if (!c) {
    c = compile({
      wordwrap: false,
      limits: {
        maxInputLength,
        // html-to-text recurses per level; deeper markup is cut instead of overflowing the stack.
        maxDepth: 200,
        maxChildNodes: 20_000,
        ellipsis: '…',
      },
      selectors: [
        { selector: 'img', format: 'skip' },
        { selector: 'style', format: 'skip' },
        { selector: 'script', format: 'skip' },
        { selector: 'head', format: 'skip' },
        { selector: 'a', options: { ignoreHref: !showLinks, hideLinkHrefIfSameAsText: true, noAnchorUrl: true } },
      ],
    });
    if (converters.size > 16) converters.clear();
    converters.set(key, c);
  }
  return c;
}

/** Plain text of an HTML document or fragment; '' for empty input or when conversion fails. */
export function htmlToPlainText(html: string, opts: HtmlToTextOptions = {}): string {
  if (!html) return '';
  try {
    return converter(opts.maxInputChars ?? 2_000_000, opts.showLinks !== false)(html)
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  } catch {
    return '';
  }
}
