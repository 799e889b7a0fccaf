/**
 * The agent's part of the email path, through the web page in Debian's Chromium, on the real
 * stack (Dovecot, the SMTP sink, a Mailroom serving dist/web): an offer arrives live, is
 * accepted, read, answered (the sink gets the reply with In-Reply-To) and marked handled. Then a
 * hostile HTML email: shown in the sandboxed frame, its script never runs, and nothing leaves
 * for a remote host until "Show images", which goes through our image proxy only.
 */
import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../helpers/api-client.js';
import { launchBrowser } from '../helpers/browser.js';
import { rawHtmlMail } from '../helpers/html-mail.js';
import { rawMail } from '../helpers/mail.js';
import { ADMIN_PASSWORD, startRuntime, type TestRuntime } from '../helpers/runtime.js';
import { startDovecot, type DovecotPeer } from '../peers/dovecot.js';
import { startSmtpSink, type SmtpSink } from '../peers/smtp-sink.js';

const WAIT = { timeout: 20_000 };
const RLO = '\u202e';
/** A 1×1 PNG, shown inline by cid:. */
const PIXEL = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

describe('web app: the agent workspace on the real stack', () => {
  let dovecot: DovecotPeer;
  let sink: SmtpSink;
  let rt: TestRuntime;
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];

  /** Requests the page made to any host but Mailroom's own (data: and about: load nothing). */
  const foreign = () => requests.filter((u) => !u.startsWith(`${rt.url}/`) && !/^(data|about|blob):/.test(u));

  beforeAll(async () => {
    [dovecot, sink] = await Promise.all([
      startDovecot({ users: [{ user: 'support', password: 'support-pw' }, { user: 'quick', password: 'quick-pw' }] }),
      startSmtpSink({ tls: 'none' }),
    ]);
    rt = await startRuntime('pglite', { web: true });
    const admin = new ApiClient(rt.url);
    await admin.login('admin', ADMIN_PASSWORD);
    const applied = await admin.request(
      'PUT',
      '/api/v1/config',
      `
senders:
  - { name: out, type: smtp, host: 127.0.0.1, port: ${sink.port}, security: none, from: "Example Support <support@example.com>" }
queues:
  - { name: support, sender: out, skills: { billing: 3 }, routing: { mode: offer, offer_timeout_s: 300 } }
  - { name: quick, sender: out, routing: { mode: offer, offer_timeout_s: 5, max_missed_offers: 1 } }
mailboxes:
  - { name: inbox, protocol: imap, host: 127.0.0.1, port: ${dovecot.imapPort}, security: none, auth: { user: support, password: support-pw }, queue: support }
  - { name: quick-inbox, protocol: imap, host: 127.0.0.1, port: ${dovecot.imapPort}, security: none, auth: { user: quick, password: quick-pw }, queue: quick }
users:
  - { login: alice, name: Alice Martin, roles: [agent], password: alice-password-1, skills: { billing: 7 }, languages: { en: 10 } }
`,
      { 'content-type': 'application/yaml' },
    );
    expect(applied.status).toBe(200);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('request', (r: Request) => requests.push(r.url()));
    // Anything the email manages to post to the page is recorded (it must stay empty).
    await page.addInitScript(() => {
      (window as any).__posted = [];
      window.addEventListener('message', (e) => (window as any).__posted.push(String(e.data)));
    });
  });
  afterAll(async () => {
    await browser?.close();
    await rt?.close();
    await Promise.all([dovecot?.stop(), sink?.stop()]);
  });

  it('signs in and sets Available', async () => {
    await page.goto(rt.url);
    await page.getByLabel('Login').fill('alice');
    await page.getByLabel('Password').fill('alice-password-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.live.on').waitFor(WAIT);
    await page.getByLabel('Your state').selectOption('available');
    await page.locator('.state-toggle.state-available').waitFor();
    await page.getByText('You are available').waitFor();
  });

  it('an email becomes an offer on the page without a reload; accepting opens it', async () => {
    // Marks this document: a reload would lose it.
    await page.evaluate(() => ((window as any).__sameDocument = true));
    const customerMessageId = 'browser-question@customer.example';
    await dovecot.append('support', 'INBOX', rawMail({ messageId: customerMessageId, subject: 'Charged twice', body: 'Hello,\nI was charged twice for invoice 4711.\nCould you refund one payment?' }));
    const offer = page.getByTestId('offer').filter({ hasText: 'Charged twice' });
    await offer.waitFor(WAIT);
    expect(await offer.textContent()).toContain('carla@customer.example');
    expect(await offer.textContent()).toContain('queue support');
    expect(await offer.getByRole('timer').textContent()).toMatch(/^[0-5]:\d\d$/);
    expect(await page.title()).toBe('(1) Offer — Mailroom');
    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);

    await offer.getByRole('button', { name: 'Accept' }).click();
    await page.waitForURL(/\/conversations\/\d+$/);
    await page.getByRole('heading', { level: 1, name: 'Charged twice' }).waitFor();
    await page.getByTestId('offer').waitFor({ state: 'detached' });
    const message = page.getByTestId('message').first();
    expect(await message.textContent()).toContain('I was charged twice for invoice 4711.');
    expect(await page.getByTestId('conversation-state').textContent()).toBe('Open');
    // The conversation is in my list, marked as the one open.
    await page.locator('.conv-row.current').filter({ hasText: 'Charged twice' }).waitFor();
    // An agent cannot list queues (403): no transfer control.
    await page.getByRole('button', { name: 'Mark handled' }).waitFor();
    expect(await page.getByLabel('Transfer to').count()).toBe(0);
  });

  it('the reply is sent with In-Reply-To, shows as sent, and the conversation is marked handled', async () => {
    await page.getByLabel('Your reply').fill('Hello Carla,\nwe have refunded the second payment.');
    await page.getByRole('button', { name: 'Send reply' }).click();
    const got = await sink.waitFor((m) => m.raw.includes('refunded the second payment'), 20_000);
    const headers = got.raw.toString().replace(/\r\n[ \t]+/g, ' ');
    expect(headers).toMatch(/^In-Reply-To: <browser-question@customer\.example>/m);
    expect(got.to).toEqual(['carla@customer.example']);

    const reply = page.getByTestId('message').filter({ hasText: 'refunded the second payment' });
    await reply.getByTestId('delivery').filter({ hasText: 'Sent' }).waitFor(WAIT);
    expect(await page.getByLabel('Your reply').inputValue()).toBe('');
    await page.getByTestId('conversation-state').filter({ hasText: 'Waiting for customer' }).waitFor();

    await page.getByRole('button', { name: 'Mark handled' }).click();
    await page.getByTestId('conversation-state').filter({ hasText: 'Handled' }).waitFor();
    await page.locator('.conv-row.state-handled').filter({ hasText: 'Charged twice' }).waitFor();
  });

  it('shows a hostile HTML email sandboxed: no script runs, nothing remote loads until "Show images", then only through the proxy', async () => {
    const before = requests.length;
    await dovecot.append(
      'support',
      'INBOX',
      rawHtmlMail({
        fromName: `Mallory ${RLO}gnp.exe`,
        fromAddress: 'mallory@customer.example',
        subject: 'Newsletter with pictures',
        html: [
          '<p id="greeting">Hello from <b>HTML</b></p>',
          '<img src="http://tracker.remote.example/pixel.png" alt="tracker">',
          `<script>parent.postMessage('script-ran', '*'); top.document.title = 'PWNED'; new Image().src = 'http://exfil.remote.example/s';</script>`,
          `<img src="x" onerror="parent.postMessage('onerror-ran', '*')">`,
          `<a id="js-link" href="javascript:parent.postMessage('link-ran', '*')">a link</a>`,
          '<div style="background: url(http://css.remote.example/bg.png)">styled</div>',
          '<img id="inline-logo" src="cid:logo@customer.example" alt="logo">',
          '<p style="margin-top: 600px" id="bottom">the end</p>',
        ].join('\n'),
        attachments: [{ filename: `invoice${RLO}fdp.exe`, contentType: 'application/octet-stream', content: Buffer.from('MZ not really') }],
        inline: [{ cid: 'logo@customer.example', contentType: 'image/png', content: PIXEL }],
      }),
    );
    const offer = page.getByTestId('offer').filter({ hasText: 'Newsletter with pictures' });
    await offer.getByRole('button', { name: 'Accept' }).click(WAIT);
    await page.getByRole('heading', { level: 1, name: 'Newsletter with pictures' }).waitFor();

    const frameElement = page.locator('iframe.email-frame');
    await frameElement.waitFor();
    const body = page.frameLocator('iframe.email-frame');
    await body.locator('#greeting').waitFor();
    expect(await body.locator('#greeting').textContent()).toBe('Hello from HTML');
    // The sandbox: no allow-scripts, whatever else; a policy of its own inside.
    const sandbox = (await frameElement.getAttribute('sandbox')) ?? '';
    expect(sandbox.split(/\s+/)).not.toContain('allow-scripts');
    expect(sandbox).toBe('allow-same-origin');
    expect(await frameElement.getAttribute('srcdoc')).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/attachments\/;/);
    // Sized to its content from the parent (no script inside): the 600 px gap is not cut off.
    await expect.poll(async () => (await frameElement.boundingBox())?.height ?? 0).toBeGreaterThan(600);
    // The inline image loads from our attachments (the frame sends the session cookie).
    await expect.poll(() => body.locator('#inline-logo').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(1);
    expect(await body.locator('#inline-logo').getAttribute('src')).toMatch(/^\/api\/v1\/attachments\/\d+$/);
    // Clicking the javascript: link does nothing either (the sanitizer dropped its href).
    await body.locator('#js-link').click();

    expect(await page.evaluate(() => (window as any).__posted)).toEqual([]);
    expect(await page.title()).not.toContain('PWNED');
    expect(foreign()).toEqual([]);
    expect(requests.slice(before).filter((u) => u.includes('/api/v1/image-proxy'))).toEqual([]);

    // Names with bidi controls read in their real order, the control shown escaped.
    expect(await page.locator('.message-from').last().textContent()).toContain('Mallory [U+202E]gnp.exe');
    expect(await page.getByTestId('attachment').last().textContent()).toContain('invoice[U+202E]fdp.exe');
    expect(await page.getByTestId('message').filter({ hasText: 'invoice' }).textContent()).toContain('suspicious name');

    const proxied = page.waitForRequest((r) => r.url().startsWith(`${rt.url}/api/v1/image-proxy?`));
    await page.getByRole('button', { name: 'Show images (1)' }).click();
    const proxyRequest = await proxied;
    expect(new URL(proxyRequest.url()).searchParams.get('url')).toBe('http://tracker.remote.example/pixel.png');
    await page.getByRole('button', { name: /Show images/ }).waitFor({ state: 'detached' });
    expect(await frameElement.getAttribute('srcdoc')).toContain(`${rt.url}/api/v1/image-proxy;`);
    // Still nothing went anywhere else, and still no script ran.
    expect(foreign()).toEqual([]);
    expect(await page.evaluate(() => (window as any).__posted)).toEqual([]);
  });

  it('an offer that expires disappears with a note', async () => {
    await dovecot.append('quick', 'INBOX', rawMail({ subject: 'Nobody takes this in time' }));
    const offer = page.getByTestId('offer').filter({ hasText: 'Nobody takes this in time' });
    await offer.waitFor(WAIT);
    await offer.waitFor({ state: 'detached', timeout: 20_000 });
    await page.getByRole('status').filter({ hasText: /Nobody takes this in time.*expired/ }).waitFor();
    // max_missed_offers: 1 — the router paused the agent, and the page shows it live.
    await page.locator('.state-toggle.state-paused').waitFor(WAIT);
  });
});
