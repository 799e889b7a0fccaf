import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionStep } from './connection-steps.js';
import { openConnection, upgradeToTls, type LookupFn } from './connect.js';

let server: net.Server;
let port: number;
let closedPort: number;

beforeAll(async () => {
  server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.end('+OK hello\r\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as net.AddressInfo).port;
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
});
afterAll(() => {
  server.close();
});

const lookupTo = (addresses: string[]): LookupFn => async () => addresses;
const failingLookup = (code: string): LookupFn => async () => {
  throw Object.assign(new Error(`getaddrinfo ${code} x`), { code });
};

describe('openConnection', () => {
  it('records dns and tcp, warns about security: none, and hands over an unread socket', async () => {
    const steps: ConnectionStep[] = [];
    const c = await openConnection({ host: 'pop.example', port, security: 'none', lookup: lookupTo(['127.0.0.1']), steps });
    expect(steps.map((s) => [s.name, s.ok])).toEqual([
      ['dns', true],
      ['tcp', true],
    ]);
    expect(steps[0]!.detail).toBe('pop.example → 127.0.0.1');
    expect(steps[1]!.warnings[0]).toMatch(/security: none/);
    expect(c.warnings).toEqual(steps[1]!.warnings);
    expect(c).toMatchObject({ secure: false, via: 'direct', address: '127.0.0.1' });
    expect(await new Promise((r) => c.socket.once('data', (d) => r(d.toString())))).toBe('+OK hello\r\n');
    c.socket.destroy();
  });

  it('skips the lookup for an IP literal and tries the next address when one refuses', async () => {
    const steps: ConnectionStep[] = [];
    const c = await openConnection({ host: '127.0.0.1', port, security: 'starttls', steps });
    expect(steps.map((s) => s.name)).toEqual(['tcp']);
    expect(steps[0]!.warnings).toEqual([]);
    c.socket.destroy();
    // 127.0.0.2 has nothing on that port (refused), 127.0.0.1 answers.
    const fallback = await openConnection({ host: 'multi.example', port, security: 'starttls', lookup: lookupTo(['127.0.0.2', '127.0.0.1']) });
    expect(fallback.address).toBe('127.0.0.1');
    fallback.socket.destroy();
  });

  it('names DNS failures: no such name, and a resolver that fails or hangs', async () => {
    const steps: ConnectionStep[] = [];
    await expect(openConnection({ host: 'nothing.invalid', port, security: 'tls', lookup: failingLookup('ENOTFOUND'), steps })).rejects.toMatchObject({ code: 'DNS_NOT_FOUND' });
    expect(steps).toEqual([expect.objectContaining({ name: 'dns', ok: false, code: 'DNS_NOT_FOUND', hint: expect.stringContaining('spelling') })]);
    await expect(openConnection({ host: 'x.example', port, security: 'tls', lookup: failingLookup('EAI_AGAIN') })).rejects.toMatchObject({
      code: 'DNS_FAILED',
      message: expect.stringContaining('temporary failure'),
    });
    await expect(openConnection({ host: 'x.example', port, security: 'tls', lookup: () => new Promise(() => undefined), timeoutMs: 50 })).rejects.toMatchObject({
      code: 'DNS_FAILED',
    });
    await expect(openConnection({ host: 'x.example', port, security: 'tls', lookup: lookupTo([]) })).rejects.toMatchObject({ code: 'DNS_NOT_FOUND' });
  });

  it('names a refused port with the name the user configured', async () => {
    const steps: ConnectionStep[] = [];
    const err = await openConnection({ host: 'imap.example', port: closedPort, security: 'tls', lookup: lookupTo(['127.0.0.1']), steps }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TCP_REFUSED', status: 502, message: expect.stringContaining(`imap.example:${closedPort}`) });
    expect(steps.map((s) => [s.name, s.ok, s.code])).toEqual([
      ['dns', true, undefined],
      ['tcp', false, 'TCP_REFUSED'],
    ]);
  });

  it('with socks5h, leaves the name to the proxy (no dns step) and names a proxy that is down', async () => {
    const steps: ConnectionStep[] = [];
    let looked = false;
    const err = await openConnection({
      host: 'only-the-proxy-knows.example',
      port: 993,
      security: 'tls',
      proxy: { protocol: 'socks5h', host: '127.0.0.1', port: closedPort },
      lookup: async () => {
        looked = true;
        return [];
      },
      steps,
    }).catch((e: unknown) => e);
    expect(looked).toBe(false);
    expect(err).toMatchObject({ code: 'PROXY_REFUSED' });
    expect(steps.map((s) => s.name)).toEqual(['proxy']);
  });
});

describe('upgradeToTls', () => {
  it('refuses a socket that is already closed', async () => {
    const s = net.connect(port, '127.0.0.1');
    s.resume();
    await new Promise((r) => s.once('close', r));
    await expect(upgradeToTls(s, { host: 'localhost', port })).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
  });

  it('names a server that closes during the handshake', async () => {
    const steps: ConnectionStep[] = [];
    const c = await openConnection({ host: '127.0.0.1', port, security: 'starttls' });
    // The server sends its greeting and closes: no TLS will ever come.
    await expect(upgradeToTls(c.socket, { host: '127.0.0.1', port, tls: { verify: 'none' }, steps })).rejects.toMatchObject({ code: 'TLS_HANDSHAKE_FAILED' });
    expect(steps).toEqual([expect.objectContaining({ name: 'tls', ok: false, code: 'TLS_HANDSHAKE_FAILED' })]);
  });
});
