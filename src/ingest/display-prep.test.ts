import { describe, expect, it } from 'vitest';
import { prepareDisplay, resolveDisplayHtml } from './display-prep.js';
import { rawMessage } from './fixtures/test-messages.js';
import { parseMessage } from './mime-parser.js';
import type { AttachmentInfo } from './parse-types.js';

const part = (contentId: string | null, index: number): AttachmentInfo =>
  ({ index, filename: `p${index}.png`, contentType: 'image/png', contentId, disposition: 'inline', related: true, partId: null, size: 1, sha256: 'x' }) as AttachmentInfo;

describe('display preparation (sanitize inside the parse, attachment ids after)', () => {
  it('points cid: images and CSS urls of the message own parts at the stored attachments', () => {
    const d = prepareDisplay({
      html: '<p style="background:url(cid:bg@x)">Hi <img src="cid:logo@x"> <img src="cid:other@x"></p>',
      attachments: [part('logo@x', 0), part('bg@x', 1)],
    });
    expect(d.html).toContain(d.cidPrefix);
    const html = resolveDisplayHtml(d, new Map([['logo@x', 41], ['bg@x', 42]]))!;
    expect(html).toContain('src="/api/v1/attachments/41"');
    expect(html).toContain('/api/v1/attachments/42');
    // A cid: with no part of this message is removed, as sanitizeHtml does.
    expect(html).not.toContain('other@x');
    expect(html).not.toContain(d.cidPrefix);
  });

  it('a placeholder written into the email does not resolve: the prefix is random per message', () => {
    const first = prepareDisplay({ html: '<img src="cid:a@x">', attachments: [part('a@x', 0)] });
    const forged = prepareDisplay({ html: `<a href="${first.cidPrefix}614078">x</a><img src="cid:a@x">`, attachments: [part('a@x', 0)] });
    expect(forged.cidPrefix).not.toBe(first.cidPrefix);
    const html = resolveDisplayHtml(forged, new Map([['a@x', 7]]))!;
    expect(html).toContain('src="/api/v1/attachments/7"');
    expect(html.match(/\/api\/v1\/attachments\//g)).toHaveLength(1);
  });

  it('a part the store does not hold becomes a dead same-origin link, never the placeholder', () => {
    const d = prepareDisplay({ html: '<img src="cid:gone@x">', attachments: [part('gone@x', 0)] });
    expect(resolveDisplayHtml(d, new Map())).toBe('<img src="/api/v1/attachments/missing">');
  });

  it('keeps a message without HTML as null', () => {
    const d = prepareDisplay({ html: null, attachments: [] });
    expect(d).toEqual({ html: null, cidPrefix: '' });
    expect(resolveDisplayHtml(d, new Map())).toBeNull();
  });

  it('HTML too long to sanitize in time is not shown: the agent gets the text and a warning', async () => {
    const html = `<p>${'Your order has shipped. '.repeat(400)}</p>`;
    const r = await parseMessage(rawMessage({ From: 'a@example.com', 'Content-Type': 'text/html; charset=utf-8' }, html), { display: true, limits: { maxDisplayHtmlChars: 5000 } });
    if (!r.ok) throw new Error(r.failure.reason);
    expect(r.message.html!.length).toBeGreaterThan(5000);
    expect(r.message.display!.html).toBeNull();
    expect(r.message.text).toContain('Your order has shipped.');
    expect(r.message.warnings.some((w) => /is not shown; the text is shown instead/.test(w))).toBe(true);
    // Under the limit it is shown.
    const shown = await parseMessage(rawMessage({ From: 'a@example.com', 'Content-Type': 'text/html; charset=utf-8' }, html), { display: true });
    expect(shown.ok && shown.message.display!.html).toContain('Your order has shipped.');
  });

  it('is prepared only when asked for: ingest leaves the HTML for the first display', async () => {
    const raw = rawMessage({ From: 'a@example.com', 'Content-Type': 'text/html; charset=utf-8' }, '<p>Bonjour, je voudrais savoir où en est ma commande, merci beaucoup.</p><script>x()</script>');
    const ingest = await parseMessage(raw, { omitHtml: true });
    if (!ingest.ok) throw new Error(ingest.failure.reason);
    expect(ingest.message.display).toBeUndefined();
    // Ingest does not carry the HTML itself back from the worker, only that there is some.
    expect(ingest.message).toMatchObject({ html: null, hasHtml: true });
    const shown = await parseMessage(raw, { display: true });
    if (!shown.ok) throw new Error(shown.failure.reason);
    expect(shown.message.hasHtml && shown.message.html).toContain('<script>');
    expect(shown.message.display!.html).toContain('Bonjour');
    expect(shown.message.display!.html).not.toContain('script');
  });
});
