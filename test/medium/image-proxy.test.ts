/** The image proxy: real images pass, private and loopback addresses never, whatever the spelling. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safeFetch } from '../../src/connectors/net/safe-fetch.js';

// A 1×1 PNG.
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');

describe('safe fetch (image proxy)', () => {
  let server: http.Server;
  let base: string;
  const hits: string[] = [];
  const defaults = { maxBytes: 1024 * 1024, timeoutMs: 3000, maxRedirects: 3 };
  const loopbackAllowed = { ...defaults, allowAddress: () => true };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/img.png') return void res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
      if (req.url === '/big') return void res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(2 * 1024 * 1024));
      if (req.url === '/to-metadata') return void res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      if (req.url === '/slow') return; // never answers
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it.each(['http://127.0.0.1/x.png', 'http://[::1]/x.png', 'http://[::ffff:127.0.0.1]/x.png', 'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/a.png', 'http://172.16.0.1/a.png', 'http://192.168.1.1/a.png', 'http://0.0.0.0/a.png', 'http://2130706433/a.png', 'http://0x7f.1/a.png'])(
    'refuses %s without connecting',
    async (url) => {
      await expect(safeFetch(url, defaults)).rejects.toMatchObject({ code: 'ADDRESS_FORBIDDEN', status: 403 });
    },
  );

  it('refuses a name that resolves to a loopback or private address', async () => {
    await expect(safeFetch(`http://localhost:${new URL(base).port}/img.png`, defaults)).rejects.toMatchObject({ code: 'ADDRESS_FORBIDDEN' });
    const lookup = async () => [{ address: '10.1.2.3', family: 4 }];
    await expect(safeFetch('http://images.example/a.png', { ...defaults, lookup })).rejects.toMatchObject({ code: 'ADDRESS_FORBIDDEN' });
  });

  it('refuses a name that resolves to a public and a private address (rebinding)', async () => {
    const lookup = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    await expect(safeFetch('http://rebind.example/a.png', { ...defaults, lookup })).rejects.toMatchObject({ code: 'ADDRESS_FORBIDDEN' });
  });

  it('connects to the address it checked, not to a second resolution', async () => {
    // The lookup answers the test server's address once; had it been resolved again, the name would not exist.
    let calls = 0;
    const lookup = async () => {
      calls++;
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const r = await safeFetch(`http://only-once.example:${new URL(base).port}/img.png`, { ...loopbackAllowed, lookup });
    expect(r.body.equals(PNG)).toBe(true);
    expect(calls).toBe(1);
  });

  it('fetches an image when the address is allowed, and re-checks redirects', async () => {
    const r = await safeFetch(`${base}/img.png`, loopbackAllowed);
    expect(r).toMatchObject({ status: 200, contentType: 'image/png' });
    const onlyLoopback = { ...defaults, allowAddress: (a: string) => a === '127.0.0.1' };
    await expect(safeFetch(`${base}/to-metadata`, onlyLoopback)).rejects.toMatchObject({ code: 'ADDRESS_FORBIDDEN' });
  });

  it('bounds size and time, and refuses non-http schemes', async () => {
    await expect(safeFetch(`${base}/big`, loopbackAllowed)).rejects.toMatchObject({ code: 'TOO_LARGE', status: 413 });
    await expect(safeFetch(`${base}/slow`, { ...loopbackAllowed, timeoutMs: 300 })).rejects.toMatchObject({ code: 'FETCH_TIMEOUT' });
    for (const url of ['file:///etc/passwd', 'ftp://example.com/a', 'javascript:alert(1)', 'http://user:pw@example.com/a']) {
      await expect(safeFetch(url, defaults)).rejects.toMatchObject({ code: 'URL_INVALID', status: 400 });
    }
  });
});
