import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { socks5Connect } from './socks5.js';
import type { ProxyConfig } from './proxy-url.js';

/** A scripted SOCKS5 server: `script` gets a reader of exact byte counts and the socket. */
type Script = (read: (n: number) => Promise<Buffer>, socket: net.Socket) => Promise<void>;
const servers: net.Server[] = [];

async function fakeProxy(script: Script): Promise<ProxyConfig> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    let wake: (() => void) | undefined;
    socket.on('data', (d) => {
      buffered = Buffer.concat([buffered, d]);
      wake?.();
    });
    const read = async (n: number): Promise<Buffer> => {
      while (buffered.length < n) await new Promise<void>((r) => (wake = r));
      const out = buffered.subarray(0, n);
      buffered = buffered.subarray(n);
      return out;
    };
    void script(read, socket).catch(() => socket.destroy());
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { protocol: 'socks5h', host: '127.0.0.1', port: (server.address() as net.AddressInfo).port };
}

afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

const OK_V4 = Buffer.from([5, 0, 0, 1, 10, 0, 0, 7, 0x1f, 0x90]);

/** Reads a CONNECT request; resolves with its ATYP, address bytes and port. */
async function readRequest(read: (n: number) => Promise<Buffer>): Promise<{ atyp: number; addr: Buffer; port: number }> {
  const head = await read(4);
  expect([...head.subarray(0, 3)]).toEqual([5, 1, 0]);
  const atyp = head[3]!;
  const addr = atyp === 1 ? await read(4) : atyp === 4 ? await read(16) : await read((await read(1))[0]!);
  return { atyp, addr, port: (await read(2)).readUInt16BE(0) };
}

describe('socks5Connect', () => {
  it('sends the name for the proxy to resolve (ATYP 3) and keeps server bytes that follow the reply', async () => {
    let request: { atyp: number; addr: Buffer; port: number } | undefined;
    const proxy = await fakeProxy(async (read, socket) => {
      expect([...(await read(3))]).toEqual([5, 1, 0]);
      socket.write(Buffer.from([5, 0]));
      request = await readRequest(read);
      // The reply and the server's greeting in one segment: nothing may be lost.
      socket.write(Buffer.concat([OK_V4, Buffer.from('* OK ready\r\n')]));
    });
    const result = await socks5Connect({ proxy, host: 'imap.example.com', port: 993, timeoutMs: 2000 });
    expect(request).toEqual({ atyp: 3, addr: Buffer.from('imap.example.com'), port: 993 });
    expect(result.method).toBe('none');
    expect(result.bound).toBe('10.0.0.7:8080');
    const greeting = await new Promise<string>((r) => result.socket.once('data', (d) => r(d.toString())));
    expect(greeting).toBe('* OK ready\r\n');
    result.socket.destroy();
  });

  it('sends a locally resolved address as ATYP 1 or 4', async () => {
    const seen: Array<{ atyp: number; addr: Buffer }> = [];
    const proxy = await fakeProxy(async (read, socket) => {
      await read(3);
      socket.write(Buffer.from([5, 0]));
      seen.push(await readRequest(read));
      socket.write(OK_V4);
    });
    for (const address of ['192.0.2.10', '2001:db8::1', '::ffff:192.0.2.1']) {
      const r = await socks5Connect({ proxy, host: 'mail.example', address, port: 143, timeoutMs: 2000 });
      r.socket.destroy();
    }
    expect(seen[0]).toEqual({ atyp: 1, addr: Buffer.from([192, 0, 2, 10]), port: 143 });
    expect(seen[1]!.atyp).toBe(4);
    expect(seen[1]!.addr.toString('hex')).toBe('20010db8000000000000000000000001');
    expect(seen[2]!.addr.toString('hex')).toBe('00000000000000000000ffffc0000201');
  });

  it('authenticates with RFC 1929 and reads a reply that arrives byte by byte', async () => {
    let creds: string | undefined;
    const proxy = await fakeProxy(async (read, socket) => {
      expect([...(await read(4))]).toEqual([5, 2, 0, 2]);
      socket.write(Buffer.from([5, 2]));
      expect((await read(1))[0]).toBe(1);
      const user = (await read((await read(1))[0]!)).toString();
      const pass = (await read((await read(1))[0]!)).toString();
      creds = `${user}/${pass}`;
      socket.write(Buffer.from([1, 0]));
      await readRequest(read);
      const reply = Buffer.from([5, 0, 0, 3, 5, ...Buffer.from('proxy'), 0, 25]);
      for (const byte of reply) {
        socket.write(Buffer.from([byte]));
        await new Promise((r) => setTimeout(r, 2));
      }
    });
    const r = await socks5Connect({ proxy: { ...proxy, username: 'ü-user', password: 'p@ss' }, host: 'h', port: 25, timeoutMs: 2000 });
    expect(creds).toBe('ü-user/p@ss');
    expect(r.method).toBe('username');
    expect(r.bound).toBe('proxy:25');
    r.socket.destroy();
  });

  it('names a refused password, a missing one, and a proxy that hangs up during authentication', async () => {
    const refusing = await fakeProxy(async (read, socket) => {
      await read(4);
      socket.write(Buffer.from([5, 2]));
      await read(1);
      await read((await read(1))[0]!);
      await read((await read(1))[0]!);
      socket.write(Buffer.from([1, 1]));
    });
    await expect(socks5Connect({ proxy: { ...refusing, username: 'u', password: 'bad' }, host: 'h', port: 1, timeoutMs: 2000 })).rejects.toMatchObject({
      code: 'PROXY_AUTH_FAILED',
      hint: expect.stringContaining('refused the user name or password'),
    });
    const wantsAuth = await fakeProxy(async (read, socket) => {
      await read(3);
      socket.write(Buffer.from([5, 0xff]));
    });
    await expect(socks5Connect({ proxy: wantsAuth, host: 'h', port: 1, timeoutMs: 2000 })).rejects.toMatchObject({
      code: 'PROXY_AUTH_FAILED',
      hint: expect.stringContaining('requires a user name and password'),
    });
    const hangsUp = await fakeProxy(async (read, socket) => {
      await read(4);
      socket.write(Buffer.from([5, 2]));
      await read(1);
      socket.end();
    });
    await expect(socks5Connect({ proxy: { ...hangsUp, username: 'u', password: 'p' }, host: 'h', port: 1, timeoutMs: 2000 })).rejects.toMatchObject({
      code: 'PROXY_AUTH_FAILED',
    });
  });

  it('names every RFC 1928 reply code of a failed CONNECT', async () => {
    const meanings = ['general SOCKS server failure', 'not allowed', 'network unreachable', 'host unreachable', 'connection refused by destination', 'TTL expired', 'command not supported', 'address type not supported'];
    for (const [i, meaning] of meanings.entries()) {
      const rep = i + 1;
      const proxy = await fakeProxy(async (read, socket) => {
        await read(3);
        socket.write(Buffer.from([5, 0]));
        await readRequest(read);
        socket.write(Buffer.from([5, rep, 0, 1, 0, 0, 0, 0, 0, 0]));
      });
      const err = await socks5Connect({ proxy, host: 'mail.example', port: 993, timeoutMs: 2000 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PROXY_CONNECT_FAILED', message: expect.stringContaining(meaning) });
      expect((err as { hint?: string }).hint).toBeTruthy();
    }
  });

  it('names a server that is not a SOCKS5 proxy, a silent one, and one that is not there', async () => {
    const http = await fakeProxy(async (read, socket) => {
      await read(3);
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await expect(socks5Connect({ proxy: http, host: 'h', port: 1, timeoutMs: 2000 })).rejects.toMatchObject({ code: 'PROXY_PROTOCOL_ERROR' });
    const silent = await fakeProxy(async (read) => {
      await read(3);
    });
    await expect(socks5Connect({ proxy: silent, host: 'h', port: 1, timeoutMs: 150 })).rejects.toMatchObject({
      code: 'PROXY_TIMEOUT',
      status: 504,
      message: expect.stringContaining('choose an authentication method'),
    });
    const gone = await fakeProxy(async () => undefined);
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 20));
    await expect(socks5Connect({ proxy: gone, host: 'h', port: 1, timeoutMs: 2000 })).rejects.toMatchObject({
      code: 'PROXY_REFUSED',
      message: expect.stringContaining('connection refused'),
    });
  });
});
