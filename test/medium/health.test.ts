/**
 * A database that goes away: /health says 503 with status degraded, requests that need the
 * database fail with a clear error, the server keeps running, and it recovers on its own.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../helpers/api-client.js';
import { createPgDatabase } from '../helpers/databases.js';
import { eventually } from '../helpers/mail.js';
import { ADMIN_PASSWORD, startRuntime, type TestRuntime } from '../helpers/runtime.js';
import { startFaultProxy, type FaultProxy } from '../peers/fault-proxy.js';

describe('the database goes down and comes back', () => {
  let proxy: FaultProxy;
  let rt: TestRuntime;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const created = await createPgDatabase();
    drop = created.drop;
    const url = new URL(created.url);
    proxy = await startFaultProxy({ host: url.hostname, port: Number(url.port) });
    url.host = `${proxy.host}:${proxy.port}`;
    rt = await startRuntime('postgres', { reuse: { dataDir: '', databaseUrl: url.href, secretKey: randomBytes(32).toString('base64') } });
  });
  afterAll(async () => {
    await rt?.runtime.close().catch(() => undefined);
    await proxy?.stop();
    await drop?.();
  });

  it('answers 503 degraded while the database is unreachable, keeps serving, and recovers', async () => {
    const c = new ApiClient(rt.url);
    expect((await c.request('GET', '/api/v1/health')).status).toBe(200);
    expect((await c.login('admin', ADMIN_PASSWORD)).status).toBe(200);

    // Down: existing connections die, new ones are swallowed without an answer.
    proxy.setMode({ kind: 'blackhole' }, { existing: true });
    proxy.resetAll();
    const down = await c.request('GET', '/api/v1/health');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'degraded', db: 'unreachable' });
    const me = await c.request('GET', '/api/v1/me');
    expect(me.status).toBeGreaterThanOrEqual(500);
    expect(me.body.error).toMatchObject({ code: expect.any(String), hint: expect.any(String) });
    expect(me.text).not.toMatch(/ECONN|stack|at .*\.js/);

    // Back: the server never stopped; the pool reconnects on its own.
    proxy.setMode({ kind: 'pass' });
    proxy.acceptNew();
    await eventually(async () => (await c.request('GET', '/api/v1/health')).status === 200, 30_000, 'health back to ok');
    await eventually(async () => (await c.request('GET', '/api/v1/me')).status === 200, 30_000, 'requests work again');
  });
});
