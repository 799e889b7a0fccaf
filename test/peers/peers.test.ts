/**
 * The test peers themselves: each starts, answers like the real thing, and stops. Checked with
 * third-party clients (imapflow, nodemailer, raw sockets), not with Mailroom's own net code,
 * so a bug there cannot hide a broken peer.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCerts, type TestCerts } from './certs.js';
import { DANTE_TEST_PASSWORD, DANTE_TEST_USER, startDante } from './dante.js';
import { startDovecot, type DovecotPeer } from './dovecot.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { getFreePort } from './ports.js';
import { startSilentPort } from './silent-port.js';
import { startSmtpSink } from './smtp-sink.js';
import { isRoot, missingSystemPackages } from './system-packages.js';

const missing = [...missingSystemPackages(['dovecot', 'dante', 'openssl', 'python3']), ...(isRoot() ? [] : ['the peers run as root'])];
if (missing.length > 0) console.warn(`peers.test.ts skipped: ${missing.join('; ')}`);
const skip = missing.length > 0;

/** Reads from a socket until `re` matches what arrived; resolves with all of it. */
function readUntil(socket: net.Socket, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (re.test(text)) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed before ${re}; got ${JSON.stringify(text)}`)));
  });
}

/** A TCP echo server (the target behind the fault proxy). */
async function startEcho(): Promise<{ port: number; server: net.Server; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    s.on('data', (d) => {
      const text = d.toString();
      // "SEND n" makes the server push n bytes ("x" then "0123456789" repeated), for cuts.
      const m = /^SEND (\d+)/.exec(text);
      if (m) s.write(Buffer.from('0123456789'.repeat(Math.ceil(Number(m[1]) / 10)).slice(0, Number(m[1]))));
      else s.write(d);
    });
  });
  const port = await getFreePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { port, server, sockets };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with everything received until the socket closes, and how it closed. */
function collect(socket: net.Socket): Promise<{ data: string; error: string | undefined }> {
  return new Promise((resolve) => {
    let data = '';
    let error: string | undefined;
    socket.on('data', (d) => (data += d.toString()));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
    socket.once('close', () => resolve({ data, error }));
  });
}

describe.skipIf(skip)('certificates', () => {
  it('makes a CA and five leaf certificates with the schema fingerprint format', async () => {
    const certs = await testCerts();
    const now = Date.now();
    for (const c of [certs.ca, certs.localhost, certs.selfSigned, certs.wrongName, certs.expired, certs.expiringSoon]) {
      expect(c.fingerprint).toMatch(/^sha256:([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      expect(c.cert).toContain('-----BEGIN CERTIFICATE-----');
      expect(c.key).toContain('PRIVATE KEY-----');
    }
    const ca = new X509Certificate(certs.ca.cert);
    const leaf = new X509Certificate(certs.localhost.cert);
    expect(ca.ca).toBe(true);
    expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toContain('DNS:localhost');
    expect(leaf.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(new X509Certificate(certs.wrongName.cert).subjectAltName).toBe('DNS:wrong.example');
    expect(new X509Certificate(certs.wrongName.cert).verify(ca.publicKey)).toBe(true);
    expect(new X509Certificate(certs.selfSigned.cert).verify(new X509Certificate(certs.selfSigned.cert).publicKey)).toBe(true);
    expect(new Date(new X509Certificate(certs.expired.cert).validTo).getTime()).toBeLessThan(now);
    const soon = new Date(new X509Certificate(certs.expiringSoon.cert).validTo).getTime();
    expect(soon).toBeGreaterThan(now);
    expect(soon - now).toBeLessThan(30 * 86_400_000);
    expect(await testCerts()).toBe(certs);
  });
});

describe.skipIf(skip)('dovecot', () => {
  let certs: TestCerts;
  let dovecot: DovecotPeer;
  beforeAll(async () => {
    certs = await testCerts();
    dovecot = await startDovecot({
      users: [
        { user: 'alice', password: 'alice-pw' },
        { user: 'bob', password: 'bob-pw' },
      ],
      tls: certs.localhost,
      maxUserIpConnections: 2,
    });
  });
  afterAll(async () => {
    await dovecot?.stop();
  });

  const client = (user: string, pass: string, extra: Record<string, unknown> = {}) => {
    const c = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, tls: { ca: certs.ca.cert }, auth: { user, pass }, logger: false, ...extra });
    c.on('error', () => undefined);
    return c;
  };

  it('serves IMAP with STARTTLS and imaps with the given certificate', async () => {
    const plain = await connect(dovecot.imapPort);
    expect(await readUntil(plain, /\r\n/)).toMatch(/^\* OK .*STARTTLS/);
    plain.destroy();
    const secure = tls.connect({ host: '127.0.0.1', port: dovecot.imapsPort!, ca: certs.ca.cert, servername: 'localhost' });
    expect(await readUntil(secure, /\r\n/)).toMatch(/^\* OK/);
    expect(`sha256:${secure.getPeerCertificate().fingerprint256}`).toBe(certs.localhost.fingerprint);
    secure.destroy();
  });

  it('appends over IMAP, delivers into the maildir, and both are visible over IMAP and POP3', async () => {
    const uids = await dovecot.append('alice', 'INBOX', ['Subject: one\r\n\r\n1\r\n', 'Subject: two\r\n\r\n2\r\n']);
    expect(uids).toEqual([1, 2]);
    await dovecot.createFolder('alice', 'Archive');
    await dovecot.deliver('alice', 'Archive', ['Subject: three\r\n\r\n3\r\n']);
    await dovecot.deliver('alice', 'INBOX', ['Subject: four\r\n\r\n4\r\n']);
    const c = client('alice', 'alice-pw');
    await c.connect();
    expect(await c.status('INBOX', { messages: true })).toMatchObject({ messages: 3 });
    expect(await c.status('Archive', { messages: true })).toMatchObject({ messages: 1 });
    await c.logout();

    const pop = await connect(dovecot.pop3Port);
    await readUntil(pop, /^\+OK.*\r\n/);
    pop.write('USER alice\r\nPASS alice-pw\r\nSTAT\r\nUIDL 1\r\nQUIT\r\n');
    const answer = await readUntil(pop, /\+OK Logging out/);
    expect(answer).toMatch(/\+OK 3 \d+\r\n/);
    // pop3_uidl_format = %08Xu%08Xv: UID then UIDVALIDITY, 8 hex digits each.
    expect(answer).toMatch(/\+OK 1 [0-9a-f]{16}\r\n/i);
    pop.destroy();
  });

  it('refuses a wrong password quickly and enforces the per-user connection limit', async () => {
    await expect(client('bob', 'wrong').connect()).rejects.toThrow();
    const held = [client('bob', 'bob-pw'), client('bob', 'bob-pw')];
    for (const c of held) await c.connect();
    const third = client('bob', 'bob-pw');
    const err = await third.connect().then(
      () => undefined,
      (e: { responseText?: string; message: string }) => `${e.responseText ?? ''} ${e.message}`,
    );
    expect(err).toMatch(/Maximum number of connections|Too many|limit/i);
    for (const c of held) await c.logout();
  });

  it('stops: ports closed, folder removed', async () => {
    const other = await startDovecot({ users: [{ user: 'carol', password: 'pw' }] });
    expect(other.imapsPort).toBeUndefined();
    const s = await connect(other.imapPort);
    expect(await readUntil(s, /\r\n/)).not.toMatch(/STARTTLS/);
    s.destroy();
    await other.stop();
    expect(existsSync(other.dir)).toBe(false);
    await expect(connect(other.imapPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe.skipIf(skip)('dovecot with OAuth2', () => {
  it('accepts XOAUTH2/OAUTHBEARER tokens that the introspection endpoint calls active', async () => {
    const seen: string[] = [];
    const introspection = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const token = new URLSearchParams(body).get('token') ?? '';
        seen.push(token);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(token === 'good-token' ? { active: true, username: 'erin' } : { active: false }));
      });
    });
    await new Promise<void>((r) => introspection.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(introspection.address() as net.AddressInfo).port}/introspect`;
    const dovecot = await startDovecot({ users: [{ user: 'erin', password: 'erin-pw' }], oauth2: { introspectionUrl: url } });
    try {
      const login = async (auth: { user: string; accessToken?: string; pass?: string }) => {
        const c = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, auth, logger: false });
        c.on('error', () => undefined);
        await c.connect();
        await c.logout();
      };
      await login({ user: 'erin', accessToken: 'good-token' });
      await expect(login({ user: 'erin', accessToken: 'revoked-token' })).rejects.toThrow();
      await login({ user: 'erin', pass: 'erin-pw' });
      expect(seen).toEqual(['good-token', 'revoked-token']);
    } finally {
      await dovecot.stop();
      introspection.close();
    }
  });
});

describe.skipIf(skip)('dante', () => {
  // Over imaps: imapflow's SOCKS client (npm socks) can lose a plain greeting that arrives in
  // the same read as the SOCKS reply (seen here with username auth); with TLS the client
  // speaks first, so this checks Dante, not that race.
  it('proxies without and with username authentication (checked with imapflow\'s own SOCKS client)', async () => {
    const certs = await testCerts();
    const dovecot = await startDovecot({ users: [{ user: 'dave', password: 'dave-pw' }], tls: certs.localhost });
    const open = await startDante({ auth: 'none' });
    const withAuth = await startDante({ auth: { user: DANTE_TEST_USER, password: DANTE_TEST_PASSWORD } });
    const imaps = { host: '127.0.0.1', port: dovecot.imapsPort!, secure: true, tls: { ca: certs.ca.cert }, auth: { user: 'dave', pass: 'dave-pw' }, logger: false as const };
    try {
      for (const proxy of [open.url, withAuth.url]) {
        const c = new ImapFlow({ ...imaps, proxy });
        c.on('error', () => undefined);
        await c.connect();
        expect(c.authenticated).toBe(true);
        await c.logout();
      }
      expect(withAuth.url).toContain(`${DANTE_TEST_USER}:`);
      const bad = new ImapFlow({ ...imaps, proxy: withAuth.url.replace(encodeURIComponent(DANTE_TEST_PASSWORD), 'wrong') });
      bad.on('error', () => undefined);
      await expect(bad.connect()).rejects.toThrow();
    } finally {
      await Promise.all([open.stop(), withAuth.stop(), dovecot.stop()]);
    }
    await expect(connect(open.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe.skipIf(skip)('smtp sink', () => {
  it('records messages over plain, STARTTLS and implicit TLS, with and without AUTH', async () => {
    const certs = await testCerts();
    const users = [{ user: 'sender', password: 'sender-pw' }];
    const plain = await startSmtpSink();
    const starttls = await startSmtpSink({ tls: 'starttls', cert: certs.localhost, auth: { users, required: true } });
    const implicit = await startSmtpSink({ tls: 'implicit', cert: certs.localhost, auth: { users } });
    try {
      const send = (port: number, opts: Record<string, unknown>) =>
        nodemailer
          .createTransport({ host: '127.0.0.1', port, tls: { ca: certs.ca.cert, servername: 'localhost' }, ...opts })
          .sendMail({ from: 'a@example.com', to: ['b@example.com', 'c@example.com'], subject: 'hi', text: 'body' });
      await send(plain.port, { secure: false, ignoreTLS: true });
      await send(starttls.port, { secure: false, requireTLS: true, auth: { user: 'sender', pass: 'sender-pw' } });
      await send(implicit.port, { secure: true, auth: { user: 'sender', pass: 'sender-pw' } });
      const [p, s, i] = await Promise.all([plain.waitFor(), starttls.waitFor(), implicit.waitFor()]);
      expect(p).toMatchObject({ from: 'a@example.com', to: ['b@example.com', 'c@example.com'], secure: false, user: undefined });
      expect(p.raw.toString()).toContain('Subject: hi');
      expect(s).toMatchObject({ secure: true, user: 'sender' });
      expect(i).toMatchObject({ secure: true, user: 'sender' });
      await expect(send(starttls.port, { secure: false, requireTLS: true, auth: { user: 'sender', pass: 'nope' } })).rejects.toMatchObject({ responseCode: 535 });
      expect(starttls.stats.authFailures).toBe(1);
      await expect(plain.waitFor((m) => m.to.includes('nobody@example.com'), 50)).rejects.toThrow(/no matching message/);
    } finally {
      await Promise.all([plain.stop(), starttls.stop(), implicit.stop()]);
    }
  });

  it('answers RCPT and DATA with the codes a hook chooses', async () => {
    const sink = await startSmtpSink({
      onRcpt: (rcpt) => (rcpt.startsWith('later') ? { code: 450, message: '4.2.0 Try later' } : undefined),
      onData: ({ raw }) => (raw.includes('reject-me') ? { code: 554, message: '5.6.0 Rejected' } : undefined),
    });
    try {
      const t = nodemailer.createTransport({ host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true });
      await expect(t.sendMail({ from: 'a@example.com', to: 'later@example.com', text: 'x' })).rejects.toMatchObject({ responseCode: 450 });
      await expect(t.sendMail({ from: 'a@example.com', to: 'ok@example.com', text: 'reject-me' })).rejects.toMatchObject({ responseCode: 554 });
      await t.sendMail({ from: 'a@example.com', to: 'ok@example.com', text: 'fine' });
      expect(sink.messages).toHaveLength(1);
      expect(sink.stats.rejected).toBe(2);
    } finally {
      await sink.stop();
    }
  });
});

describe('fault proxy', () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let proxy: FaultProxy;
  beforeAll(async () => {
    echo = await startEcho();
    proxy = await startFaultProxy({ host: '127.0.0.1', port: echo.port });
  });
  afterAll(async () => {
    await proxy?.stop();
    echo?.server.close();
    for (const s of echo?.sockets ?? []) s.destroy();
  });

  it('passes bytes both ways and counts connections', async () => {
    const before = proxy.connections.length;
    const s = await connect(proxy.port);
    s.write('hello');
    expect(await readUntil(s, /hello/)).toBe('hello');
    await proxy.waitForConnections(before + 1);
    const conn = proxy.connections[before]!;
    expect(conn.bytesFromClient).toBe(5);
    expect(conn.bytesFromServer).toBe(5);
    s.destroy();
  });

  it('delays, then stalls without closing, then resumes', async () => {
    const s = await connect(proxy.port);
    await proxy.waitForConnections(proxy.connections.length);
    const conn = proxy.connections[proxy.connections.length - 1]!;
    conn.setMode({ kind: 'delay', ms: 20 });
    s.write('slow');
    expect(await readUntil(s, /slow/)).toBe('slow');
    conn.setMode({ kind: 'stall' });
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.write('stuck');
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toBe('');
    expect(s.destroyed).toBe(false);
    expect(conn.closed).toBe(false);
    conn.setMode({ kind: 'pass' });
    await new Promise<void>((r) => {
      const check = () => (got.includes('stuck') ? r() : setTimeout(check, 10));
      check();
    });
    s.destroy();
  });

  it('cuts with FIN and resets with RST', async () => {
    const a = await connect(proxy.port);
    const closedA = collect(a);
    a.write('x');
    await readUntil(a, /x/);
    proxy.active().forEach((c) => c.cut());
    expect((await closedA).error).toBeUndefined();

    const b = await connect(proxy.port);
    const closedB = collect(b);
    b.write('y');
    await readUntil(b, /y/);
    proxy.resetAll();
    expect((await closedB).error).toBe('ECONNRESET');
  });

  it('blackholes new connections: accepted, never answered, nothing reaches the server', async () => {
    const serverSockets = echo.sockets.length;
    proxy.setMode({ kind: 'blackhole' });
    const s = await connect(proxy.port);
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.write('anyone?');
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toBe('');
    expect(echo.sockets.length).toBe(serverSockets);
    proxy.setMode({ kind: 'pass' });
    s.destroy();
  });

  it('cuts after exactly N bytes from the server, or right before a pattern', async () => {
    const t1 = proxy.arm({ afterBytes: 25, action: 'cut' });
    const a = await connect(proxy.port);
    const doneA = collect(a);
    a.write('SEND 100');
    expect((await doneA).data).toBe('0123456789012345678901234');
    expect(t1.count()).toBe(1);

    proxy.arm({ pattern: '567', action: 'reset' });
    const b = await connect(proxy.port);
    const doneB = collect(b);
    b.write('SEND 100');
    const resB = await doneB;
    // The RST follows the bytes at once: Linux may then report a plain EOF instead of
    // ECONNRESET to the reader, so only the cut point is asserted here (RST itself: above).
    expect(resB.data).toBe('01234');
    expect(b.destroyed).toBe(true);

    proxy.arm({ pattern: '567', includePattern: true, action: 'cut' });
    const c = await connect(proxy.port);
    const doneC = collect(c);
    c.write('SEND 100');
    expect((await doneC).data).toBe('01234567');

    // In the middle of what follows a pattern (a FETCH literal): 12 bytes after "789".
    const t4 = proxy.arm({ pattern: '789', offset: 12, action: 'cut' });
    const d = await connect(proxy.port);
    const doneD = collect(d);
    d.write('SEND 100');
    expect((await doneD).data).toBe('0123456789012345678901');
    expect(await t4.fired).toBe(proxy.connections.at(-1)!.id);
    expect(t4.count()).toBe(1);
  });

  it('stops: the port is closed', async () => {
    const p = await startFaultProxy({ host: '127.0.0.1', port: echo.port });
    await p.stop();
    await expect(connect(p.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe.skipIf(skip)('silent port', () => {
  it('never completes a TCP connection', async () => {
    const silent = await startSilentPort();
    try {
      const s = net.connect(silent.port, '127.0.0.1');
      const outcome = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('pending'), 300);
        s.once('connect', () => (clearTimeout(timer), resolve('connected')));
        s.once('error', (e: NodeJS.ErrnoException) => (clearTimeout(timer), resolve(e.code ?? 'error')));
      });
      s.destroy();
      expect(outcome).toBe('pending');
    } finally {
      await silent.stop();
    }
  });
});
