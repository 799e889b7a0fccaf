/** The admin's view in Debian's Chromium: mailbox health, the connection test, the quarantine. */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../helpers/api-client.js';
import { launchBrowser, signIn } from '../helpers/browser.js';
import { eventually, rawMail } from '../helpers/mail.js';
import { ADMIN_PASSWORD, startRuntime, type TestRuntime } from '../helpers/runtime.js';

describe('admin view', () => {
  let rt: TestRuntime;
  let browser: Browser;
  let page: Page;
  let mailboxId: number;

  const quarantine = async (subject: string) => {
    const { store } = rt.runtime.core;
    const key = `q:${subject}`;
    await store.transaction((r) => r.inbound.commitBatch(mailboxId, { messages: [{ key, raw: rawMail({ subject, headers: { 'Auto-Submitted': 'auto-replied' } }), internalDate: null }], position: { uidvalidity: 1, lastUid: 1, highestModseq: null, cursor: null }, reset: false }));
    rt.runtime.mail.ingest.kick();
    return eventually(() => store.db.selectFrom('messages').select('id').where('source_key', '=', key).where('ingest_state', '=', 'quarantined').executeTakeFirst(), 15_000, 'quarantined');
  };

  beforeAll(async () => {
    rt = await startRuntime('pglite', { web: true });
    const admin = new ApiClient(rt.url);
    await admin.login('admin', ADMIN_PASSWORD);
    await admin.request('PUT', '/api/v1/config', {
      senders: [{ name: 'out', type: 'smtp', host: '127.0.0.1', port: 1, security: 'none', from: 'support@example.com' }],
      queues: [{ name: 'support', sender: 'out' }],
      mailboxes: [{ name: 'broken-inbox', protocol: 'imap', host: '127.0.0.1', port: 1, security: 'none', auth: { user: 'support@example.com', password: 'x' }, queue: 'support', liveness: { reconnect_s: 3600 } }],
    });
    mailboxId = (await admin.request('GET', '/api/v1/mailboxes')).body.items[0].id;
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('dialog', (d) => void d.accept());
    await signIn(page, rt.url, 'admin', ADMIN_PASSWORD);
  });
  afterAll(async () => {
    await browser?.close();
    await rt?.close();
  });

  it('shows a failing mailbox with its error, and the connection test names the failing step and the fix', async () => {
    await page.goto(`${rt.url}/admin`);
    const row = page.getByTestId('mailbox').filter({ hasText: 'broken-inbox' });
    await row.locator('.mailbox-error').waitFor();
    await expect(row.textContent()).resolves.toContain('TCP_REFUSED');
    await row.getByRole('button', { name: 'Test broken-inbox' }).click();
    const failed = row.getByTestId('test-step').filter({ hasText: 'TCP_REFUSED' });
    await failed.waitFor();
    await expect(failed.textContent()).resolves.toMatch(/What to do: .+/);
  });

  it('lists quarantined mail; release routes it, delete removes it', async () => {
    const released = await quarantine('Out of office one');
    const deleted = await quarantine('Out of office two');
    await page.goto(`${rt.url}/admin`);
    const rows = page.getByTestId('quarantined');
    await rows.filter({ hasText: 'Out of office two' }).waitFor();
    await expect(rows.filter({ hasText: 'Out of office one' }).textContent()).resolves.toMatch(/auto-reply: kept, not routed/);
    expect(await rows.filter({ hasText: 'Out of office one' }).getByRole('link', { name: 'Download' }).getAttribute('href')).toBe(`/api/v1/messages/${released.id}/raw`);
    await page.getByRole('button', { name: 'Release Out of office one' }).click();
    await rows.filter({ hasText: 'Out of office one' }).waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Delete Out of office two' }).click();
    await rows.filter({ hasText: 'Out of office two' }).waitFor({ state: 'detached' });
    const { store } = rt.runtime.core;
    await eventually(async () => (await store.db.selectFrom('messages').select('conversation_id').where('id', '=', released.id).executeTakeFirst())?.conversation_id !== null, 15_000, 'released into a conversation');
    expect(await store.db.selectFrom('messages').select('id').where('id', '=', deleted.id).executeTakeFirst()).toBeUndefined();
  });
});
