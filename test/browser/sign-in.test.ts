/** Signing in and changing state in the web app, in Debian's Chromium. */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../helpers/api-client.js';
import { launchBrowser } from '../helpers/browser.js';
import { startRuntime, type TestRuntime } from '../helpers/runtime.js';

describe('web app: sign-in and agent state', () => {
  let rt: TestRuntime;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    rt = await startRuntime('pglite', { web: true, env: {} });
    const admin = new ApiClient(rt.url);
    await admin.login('admin', 'admin-password-1');
    await admin.request('PUT', '/api/v1/config', { users: [{ login: 'alice', name: 'Alice Martin', roles: ['agent'], password: 'alice-password-1' }] });
    browser = await launchBrowser();
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await rt?.close();
  });

  it('refuses a wrong password with the reason and what to do', async () => {
    await page.goto(rt.url);
    await page.getByLabel('Login').fill('alice');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('The login or the password is wrong');
  });

  it('signs in, goes live and changes state; the state holds across a reload', async () => {
    await page.getByLabel('Password').fill('alice-password-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('who').waitFor();
    expect(await page.getByTestId('who').textContent()).toContain('Alice Martin');
    await page.locator('.live.on').waitFor();
    await page.getByLabel('Your state').selectOption('paused:lunch');
    await page.locator('.state-paused').waitFor();
    const api = new ApiClient(rt.url);
    await api.login('admin', 'admin-password-1');
    const agents = await api.request('GET', '/api/v1/agents');
    expect(agents.body.items.find((a: { login: string }) => a.login === 'alice')).toMatchObject({ state: 'paused', reason: 'lunch' });
    await page.reload();
    await page.locator('.state-paused').waitFor();
    expect(await page.getByLabel('Your state').inputValue()).toBe('paused:lunch');
  });

  it('serves the app for client-side routes and keeps API 404s as JSON', async () => {
    const res = await page.goto(`${rt.url}/conversations/12`);
    expect(res?.status()).toBe(200);
    expect(await page.content()).toContain('<div id="root">');
    const api = await fetch(`${rt.url}/api/v1/nothing`, { headers: { accept: 'text/html' } });
    expect(api.status).toBe(404);
    expect((await api.json()).error.code).toBe('NOT_FOUND');
  });
});
