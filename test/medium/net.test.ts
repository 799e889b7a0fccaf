/**
 * The shared network layer (src/connectors/net) against real peers: Dovecot with generated
 * certificates (one instance per certificate case), Dante with and without username auth,
 * and the fault proxy / silent port for timeouts. Each failure must come out with its stable
 * code; each success must have really reached the server (its greeting is read back).
 */
import net from 'node:net';
import { ImapFlow, type ImapTransport } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConnection, upgradeToTls, type ConnectOptions } from '../../src/connectors/net/connect.js';
import type { ConnectionStep } from '../../src/connectors/net/connection-steps.js';
import { parseProxyUrl } from '../../src/connectors/net/proxy-url.js';
import { startTls, type TlsPolicy } from '../../src/connectors/net/tls-policy.js';
import { testCerts, type TestCert, type TestCerts } from '../peers/certs.js';
import { DANTE_TEST_PASSWORD, DANTE_TEST_USER, startDante, type DantePeer } from '../peers/dante.js';
import { startDovecot, type DovecotPeer } from '../peers/dovecot.js';
import { startFaultProxy } from '../peers/fault-proxy.js';
import { getFreePort } from '../peers/ports.js';
import { startSilentPort } from '../peers/silent-port.js';
import { startSmtpSink } from '../peers/smtp-sink.js';
import { isRoot, missingSystemPackages } from '../peers/system-packages.js';
import { onceMoreIfDropped } from '../helpers/peer-flake.js';

const missing = [...missingSystemPackages(['dovecot', 'dante', 'openssl', 'python3']), ...(isRoot() ? [] : ['the peers run as root'])];
if (missing.length > 0) console.warn(`net.test.ts skipped: ${missing.join('; ')}`);

const USER = { user: 'support', password: 'support-pw' };
let certs: TestCerts;
const stops: Array<() => Promise<void>> = [];
const dovecots = {} as Record<'main' | 'selfSigned' | 'wrongName' | 'expired' | 'expiringSoon', DovecotPeer>;
let open: DantePeer;
let withAuth: DantePeer;

beforeAll(async () => {
  if (missing.length > 0) return;
  certs = await testCerts();
  const start = async (key: keyof typeof dovecots, cert: TestCert) => {
    const peer = await startDovecot({ users: [USER], tls: cert });
    stops.push(() => peer.stop());
    dovecots[key] = peer;
  };
  await Promise.all([
    start('main', certs.localhost),
    start('selfSigned', certs.selfSigned),
    start('wrongName', certs.wrongName),
    start('expired', certs.expired),
    start('expiringSoon', certs.expiringSoon),
    startDante({ auth: 'none' }).then((d) => (stops.push(() => d.stop()), (open = d))),
    startDante({ auth: { user: DANTE_TEST_USER, password: DANTE_TEST_PASSWORD } }).then((d) => (stops.push(() => d.stop()), (withAuth = d))),
  ]);
});

afterAll(async () => {
  await Promise.allSettled(stops.map((stop) => stop()));
});

/** Reads until a full line arrived; resolves with the text so far. */
function readLine(socket: net.Socket, re = /\r\n/): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (re.test(text)) {
        socket.off('data', onData);
        socket.pause();
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    // Paused between reads so nothing is lost, and so TLS can take over a quiet socket.
    socket.resume();
  });
}

interface Attempt {
  greeting?: string;
  code?: string;
  hint?: string;
  message?: string;
  steps: ConnectionStep[];
  warnings: string[];
}

/** Opens a connection, reads the server's first line, closes; or reports the failure. */
async function attempt(opts: Omit<ConnectOptions, 'steps'>): Promise<Attempt> {
  const steps: ConnectionStep[] = [];
  try {
    const c = await openConnection({ timeoutMs: 10_000, ...opts, steps });
    const greeting = await readLine(c.socket);
    c.socket.destroy();
    return { greeting, steps, warnings: c.warnings };
  } catch (err) {
    const e = err as { code?: string; hint?: string; message: string };
    return { code: e.code, hint: e.hint, message: e.message, steps, warnings: [] };
  }
}

const stepNames = (a: Attempt) => a.steps.map((s) => `${s.name}:${s.ok ? 'ok' : s.code}`);

describe.skipIf(missing.length > 0)('direct connections', () => {
  it('plain IMAP and POP3: dns, tcp, the greeting, and a warning about security: none', async () => {
    const imap = await attempt({ host: 'localhost', port: dovecots.main.imapPort, security: 'none' });
    expect(imap.greeting).toMatch(/^\* OK/);
    expect(stepNames(imap)).toEqual(['dns:ok', 'tcp:ok']);
    expect(imap.warnings.join(' ')).toMatch(/security: none/);
    const pop = await attempt({ host: '127.0.0.1', port: dovecots.main.pop3Port, security: 'none' });
    expect(pop.greeting).toMatch(/^\+OK/);
    expect(stepNames(pop)).toEqual(['tcp:ok']);
  });

  it('implicit TLS to imaps and pop3s, with the certificate described in the tls step', async () => {
    for (const port of [dovecots.main.imapsPort!, dovecots.main.pop3sPort!]) {
      const a = await attempt({ host: 'localhost', port, security: 'tls', tls: { verify: 'chain', ca: certs.ca.cert } });
      expect(a.greeting).toMatch(/^(\* OK|\+OK)/);
      expect(stepNames(a)).toEqual(['dns:ok', 'tcp:ok', 'tls:ok']);
      const tlsStep = a.steps[2]!;
      expect(tlsStep.certificate).toMatchObject({
        subject: 'localhost',
        issuer: 'Mailroom Test CA',
        fingerprint: certs.localhost.fingerprint,
        chain: { trusted: true },
        nameMatches: true,
      });
      expect(tlsStep.certificate!.daysLeft).toBeGreaterThan(300);
      expect(tlsStep.detail).toMatch(/verified by its chain/);
    }
  });

  it('STARTTLS on the IMAP port and STLS on the POP3 port, then commands over TLS', async () => {
    const steps: ConnectionStep[] = [];
    const imap = await openConnection({ host: 'localhost', port: dovecots.main.imapPort, security: 'starttls', steps });
    expect(await readLine(imap.socket)).toMatch(/STARTTLS/);
    imap.socket.write('a STARTTLS\r\n');
    expect(await readLine(imap.socket)).toMatch(/^a OK/);
    const up = await upgradeToTls(imap.socket, { host: 'localhost', port: dovecots.main.imapPort, tls: { verify: 'chain', ca: certs.ca.cert }, steps });
    up.socket.write('b CAPABILITY\r\n');
    const caps = await readLine(up.socket, /^b OK/m);
    expect(caps).toMatch(/AUTH=PLAIN/);
    expect(caps).not.toMatch(/STARTTLS/);
    expect(steps.map((s) => s.name)).toEqual(['dns', 'tcp', 'tls']);
    up.socket.destroy();

    const pop = await openConnection({ host: 'localhost', port: dovecots.main.pop3Port, security: 'starttls' });
    await readLine(pop.socket);
    pop.socket.write('STLS\r\n');
    expect(await readLine(pop.socket)).toMatch(/^\+OK/);
    const popTls = await upgradeToTls(pop.socket, { host: 'localhost', port: dovecots.main.pop3Port, tls: { verify: 'chain', ca: certs.ca.cert } });
    popTls.socket.write('CAPA\r\n');
    expect(await readLine(popTls.socket, /^\.\r\n/m)).toMatch(/USER/);
    popTls.socket.destroy();
  });

  it('applies the policy to a STARTTLS upgrade too (self-signed refused under chain)', async () => {
    const imap = await openConnection({ host: 'localhost', port: dovecots.selfSigned.imapPort, security: 'starttls' });
    await readLine(imap.socket);
    imap.socket.write('a STARTTLS\r\n');
    await readLine(imap.socket);
    await expect(upgradeToTls(imap.socket, { host: 'localhost', port: dovecots.selfSigned.imapPort, tls: { verify: 'chain' } })).rejects.toMatchObject({
      code: 'TLS_CERT_UNTRUSTED',
    });
  });
});

describe.skipIf(missing.length > 0)('every TLS mode on imaps and pop3s', () => {
  type Case = [name: string, server: keyof typeof dovecots, policy: () => TlsPolicy, expected: string, check?: (a: Attempt) => void];
  const cases: Case[] = [
    ['chain with the private CA', 'main', () => ({ verify: 'chain', ca: certs.ca.cert }), 'ok'],
    ['chain without the CA', 'main', () => ({ verify: 'chain' }), 'TLS_CERT_UNTRUSTED', (a) => expect(a.message).toMatch(/Mailroom Test CA/)],
    ['chain, self-signed', 'selfSigned', () => ({ verify: 'chain' }), 'TLS_CERT_UNTRUSTED', (a) => expect(a.message).toMatch(/self-signed/)],
    ['peer, pinned self-signed', 'selfSigned', () => ({ verify: 'peer', fingerprint: certs.selfSigned.fingerprint }), 'ok'],
    ['peer-or-chain, pinned self-signed', 'selfSigned', () => ({ verify: 'peer-or-chain', fingerprint: certs.selfSigned.fingerprint }), 'ok'],
    ['peer-or-chain, valid chain, other pin', 'main', () => ({ verify: 'peer-or-chain', fingerprint: certs.selfSigned.fingerprint, ca: certs.ca.cert }), 'ok'],
    ['peer, pin mismatch', 'main', () => ({ verify: 'peer', fingerprint: certs.selfSigned.fingerprint }), 'TLS_PIN_MISMATCH', (a) => expect(a.message).toContain(certs.localhost.fingerprint)],
    [
      'chain, wrong name',
      'wrongName',
      () => ({ verify: 'chain', ca: certs.ca.cert }),
      'TLS_CERT_NAME_MISMATCH',
      (a) => expect(a.hint).toContain('The certificate is for wrong.example, you connected to localhost: use the name wrong.example or pin the certificate'),
    ],
    ['chain, expired', 'expired', () => ({ verify: 'chain', ca: certs.ca.cert }), 'TLS_CERT_EXPIRED', (a) => expect(a.message).toMatch(/expired on 2020-02-01/)],
    ['chain, expiring soon', 'expiringSoon', () => ({ verify: 'chain', ca: certs.ca.cert }), 'ok', (a) => expect(a.warnings.join(' ')).toMatch(/expires in \d+ days?/)],
    ['none, wrong name', 'wrongName', () => ({ verify: 'none' }), 'ok', (a) => expect(a.warnings.join(' ')).toMatch(/verification is off/)],
  ];

  it.each(cases)('%s', async (name, server, policy, expected, check) => {
    for (const port of [dovecots[server].imapsPort!, dovecots[server].pop3sPort!]) {
      const a = await onceMoreIfDropped(
        () => attempt({ host: 'localhost', port, security: 'tls', tls: policy() }),
        (x) => x.code,
        expected === 'ok' ? undefined : expected,
        `${name} on port ${port}`,
        async () => (await dovecots[server].log()).slice(-800),
      );
      if (expected === 'ok') {
        expect(a.code, a.message).toBeUndefined();
        expect(a.greeting).toMatch(/^(\* OK|\+OK)/);
      } else {
        expect(a.code).toBe(expected);
        expect(a.hint).toBeTruthy();
        // The refused certificate is still described for the connection test.
        expect(a.steps.at(-1)).toMatchObject({ name: 'tls', ok: false, code: expected, certificate: expect.objectContaining({ fingerprint: expect.any(String) }) });
      }
      check?.(a);
    }
  });
});

describe.skipIf(missing.length > 0)('through Dante', () => {
  it('without authentication: socks5 (resolved here) and socks5h (resolved by the proxy), TLS and plain', async () => {
    const tls = { verify: 'chain', ca: certs.ca.cert } as const;
    const local = await attempt({ host: 'localhost', port: dovecots.main.imapsPort!, security: 'tls', tls, proxy: parseProxyUrl(open.url) });
    expect(local.greeting).toMatch(/^\* OK/);
    expect(stepNames(local)).toEqual(['dns:ok', 'proxy:ok', 'tls:ok']);
    const remote = await attempt({ host: 'localhost', port: dovecots.main.imapsPort!, security: 'tls', tls, proxy: parseProxyUrl(open.url.replace('socks5:', 'socks5h:')) });
    expect(remote.greeting).toMatch(/^\* OK/);
    expect(stepNames(remote)).toEqual(['proxy:ok', 'tls:ok']);
    expect(remote.steps[0]!.detail).toMatch(/resolved by the proxy/);
    // Plain POP3: the server speaks first, right behind the SOCKS reply; nothing may be lost.
    for (let i = 0; i < 5; i++) {
      const pop = await attempt({ host: '127.0.0.1', port: dovecots.main.pop3Port, security: 'none', proxy: parseProxyUrl(open.url) });
      expect(pop.greeting).toMatch(/^\+OK/);
    }
  });

  it('with username authentication: accepted; wrong or missing credentials named PROXY_AUTH_FAILED', async () => {
    const ok = await attempt({ host: 'localhost', port: dovecots.main.pop3Port, security: 'none', proxy: parseProxyUrl(withAuth.url) });
    expect(ok.greeting).toMatch(/^\+OK/);
    expect(ok.steps.find((s) => s.name === 'proxy')!.detail).toMatch(/user name and password/);
    const wrong = await attempt({
      host: 'localhost',
      port: dovecots.main.pop3Port,
      security: 'none',
      proxy: { ...parseProxyUrl(withAuth.url), password: 'not-the-password' },
    });
    expect(wrong.code).toBe('PROXY_AUTH_FAILED');
    expect(wrong.hint).toMatch(/the proxy refused the user name or password/i);
    expect(wrong.message).not.toContain('not-the-password');
    const none = await attempt({ host: 'localhost', port: dovecots.main.pop3Port, security: 'none', proxy: { protocol: 'socks5', host: withAuth.host, port: withAuth.port } });
    expect(none.code).toBe('PROXY_AUTH_FAILED');
    expect(none.hint).toMatch(/requires a user name and password/);
  });

  it('names a proxy that is down, a silent proxy, and what the proxy could not reach', async () => {
    const down = await attempt({ host: 'localhost', port: dovecots.main.imapPort, security: 'none', proxy: { protocol: 'socks5', host: '127.0.0.1', port: await getFreePort() } });
    expect(down.code).toBe('PROXY_REFUSED');
    expect(stepNames(down)).toEqual(['dns:ok', 'proxy:PROXY_REFUSED']);

    const silent = await startFaultProxy({ host: '127.0.0.1', port: open.port });
    try {
      silent.setMode({ kind: 'blackhole' });
      const slow = await attempt({ host: 'localhost', port: dovecots.main.imapPort, security: 'none', timeoutMs: 300, proxy: { protocol: 'socks5', host: '127.0.0.1', port: silent.port } });
      expect(slow.code).toBe('PROXY_TIMEOUT');
    } finally {
      await silent.stop();
    }

    const refused = await attempt({ host: 'localhost', port: await getFreePort(), security: 'none', proxy: parseProxyUrl(open.url) });
    expect(refused.code).toBe('PROXY_CONNECT_FAILED');
    expect(refused.message).toMatch(/connection refused by destination/);
    const unknown = await attempt({ host: 'nothing.invalid', port: 993, security: 'tls', proxy: parseProxyUrl(open.url.replace('socks5:', 'socks5h:')) });
    expect(unknown.code).toBe('PROXY_CONNECT_FAILED');
    expect(unknown.message).toMatch(/nothing\.invalid/);
    const unknownHere = await attempt({ host: 'nothing.invalid', port: 993, security: 'tls', proxy: parseProxyUrl(open.url) });
    expect(unknownHere.code).toBe('DNS_NOT_FOUND');
  });
});

describe.skipIf(missing.length > 0)('failures before TLS', () => {
  it('nothing listening, wrong port for TLS, a name that does not resolve', async () => {
    const refused = await attempt({ host: 'localhost', port: await getFreePort(), security: 'tls' });
    expect(refused.code).toBe('TCP_REFUSED');
    expect(stepNames(refused)).toEqual(['dns:ok', 'tcp:TCP_REFUSED']);
    const wrongPort = await attempt({ host: 'localhost', port: dovecots.main.imapPort, security: 'tls' });
    expect(wrongPort.code).toBe('TLS_HANDSHAKE_FAILED');
    expect(wrongPort.hint).toMatch(/starttls/);
    const dns = await attempt({ host: 'mail.nothing.invalid', port: 993, security: 'tls' });
    expect(dns.code).toBe('DNS_NOT_FOUND');
    expect(stepNames(dns)).toEqual(['dns:DNS_NOT_FOUND']);
  });

  it('a port that never answers (TCP_TIMEOUT) and a server that never speaks TLS (TLS_TIMEOUT)', async () => {
    const silent = await startSilentPort();
    try {
      const a = await attempt({ host: '127.0.0.1', port: silent.port, security: 'tls', timeoutMs: 300 });
      expect(a.code).toBe('TCP_TIMEOUT');
    } finally {
      await silent.stop();
    }
    const hole = await startFaultProxy({ host: '127.0.0.1', port: dovecots.main.imapsPort! });
    try {
      hole.setMode({ kind: 'blackhole' });
      const b = await attempt({ host: '127.0.0.1', port: hole.port, security: 'tls', timeoutMs: 300 });
      expect(b.code).toBe('TLS_TIMEOUT');
      expect(stepNames(b)).toEqual(['tcp:ok', 'tls:TLS_TIMEOUT']);
    } finally {
      await hole.stop();
    }
  });
});

/**
 * How IMAP and SMTP will use this layer: imapflow takes our socket through its `transport`
 * option (and our startTls for STARTTLS); nodemailer through `getSocket`.
 */
describe.skipIf(missing.length > 0)('feeding imapflow and nodemailer', () => {
  const auth = { user: USER.user, pass: USER.password };

  it('imapflow: implicit TLS opened by us through Dante, pinned certificate', async () => {
    const pin = { verify: 'peer', fingerprint: certs.selfSigned.fingerprint } as const;
    const conn = await openConnection({ host: 'localhost', port: dovecots.selfSigned.imapsPort!, security: 'tls', tls: pin, proxy: parseProxyUrl(open.url) });
    // imapflow's `transport`: connect() returns our already open socket and reports it open.
    const transport: ImapTransport = {
      connect: (_o, onConnect) => {
        setImmediate(onConnect);
        return conn.socket;
      },
    };
    const client = new ImapFlow({ host: 'localhost', port: dovecots.selfSigned.imapsPort!, secure: true, auth, logger: false, transport });
    client.on('error', () => undefined);
    await client.connect();
    expect(client.authenticated).toBe(true);
    await client.logout();
  });

  it('imapflow: STARTTLS through our startTls; a refused certificate stops it before LOGIN', async () => {
    const peer = dovecots.selfSigned;
    const run = async (policy: TlsPolicy) => {
      const conn = await openConnection({ host: 'localhost', port: peer.imapPort, security: 'starttls' });
      const transport: ImapTransport = {
        connect: (_o, onConnect) => {
          setImmediate(onConnect);
          return conn.socket;
        },
        // onSecure only after our policy accepted the certificate; a refusal is an `error`.
        upgrade: (socket, _o, onSecure) => startTls(socket as net.Socket, 'localhost', peer.imapPort, policy, () => onSecure()),
      };
      const client = new ImapFlow({ host: 'localhost', port: peer.imapPort, secure: false, doSTARTTLS: true, auth, logger: false, transport });
      client.on('error', () => undefined);
      await client.connect();
      const ok = client.authenticated;
      await client.logout();
      return ok;
    };
    expect(await run({ verify: 'peer', fingerprint: certs.selfSigned.fingerprint })).toBe(true);
    const logins = (await peer.log()).match(/Login: user=<support>/g)?.length ?? 0;
    await expect(run({ verify: 'chain' })).rejects.toMatchObject({ code: 'TLS_CERT_UNTRUSTED' });
    expect((await peer.log()).match(/Login: user=<support>/g)?.length ?? 0).toBe(logins);
  });

  it('nodemailer: implicit TLS via getSocket, and STARTTLS done by us with the greeting replayed', async () => {
    const pin = { verify: 'peer', fingerprint: certs.selfSigned.fingerprint } as const;
    const users = [{ user: 'sender', password: 'sender-pw' }];
    const implicit = await startSmtpSink({ tls: 'implicit', cert: certs.selfSigned, auth: { users, required: true } });
    const starttls = await startSmtpSink({ tls: 'starttls', cert: certs.selfSigned, auth: { users, required: true } });
    try {
      const viaSocket = nodemailer.createTransport({
        host: 'localhost',
        port: implicit.port,
        secure: true,
        auth: { user: 'sender', pass: 'sender-pw' },
        getSocket: (_o: unknown, cb: (err: Error | null, s?: { connection: net.Socket; secured: boolean }) => void) => {
          openConnection({ host: 'localhost', port: implicit.port, security: 'tls', tls: pin, proxy: parseProxyUrl(open.url) }).then(
            (c) => cb(null, { connection: c.socket, secured: true }),
            (err: Error) => cb(err),
          );
        },
      } as Parameters<typeof nodemailer.createTransport>[0]);
      await viaSocket.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'implicit', text: 'x' });
      expect(await implicit.waitFor()).toMatchObject({ secure: true, user: 'sender' });
      viaSocket.close();

      // Our code speaks SMTP up to STARTTLS (RFC 3207), applies the policy, then hands the TLS
      // socket over with a synthetic 220 in front: nodemailer sends EHLO again over TLS.
      const smtpStarttls = async (): Promise<net.Socket> => {
        const c = await openConnection({ host: 'localhost', port: starttls.port, security: 'starttls' });
        await readLine(c.socket, /^220 /m);
        c.socket.write('EHLO mailroom.test\r\n');
        expect(await readLine(c.socket, /^250 /m)).toMatch(/STARTTLS/);
        c.socket.write('STARTTLS\r\n');
        await readLine(c.socket, /^220 /m);
        const up = await upgradeToTls(c.socket, { host: 'localhost', port: starttls.port, tls: pin });
        up.socket.unshift(Buffer.from('220 mailroom replayed greeting\r\n'));
        return up.socket;
      };
      const viaStarttls = nodemailer.createTransport({
        host: 'localhost',
        port: starttls.port,
        secure: false,
        ignoreTLS: true,
        auth: { user: 'sender', pass: 'sender-pw' },
        getSocket: (_o: unknown, cb: (err: Error | null, s?: { connection: net.Socket; secured: boolean }) => void) => {
          smtpStarttls().then(
            (s) => cb(null, { connection: s, secured: true }),
            (err: Error) => cb(err),
          );
        },
      } as Parameters<typeof nodemailer.createTransport>[0]);
      await viaStarttls.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'starttls', text: 'y' });
      expect(await starttls.waitFor()).toMatchObject({ secure: true, user: 'sender' });
      viaStarttls.close();
    } finally {
      await Promise.all([implicit.stop(), starttls.stop()]);
    }
  });
});
