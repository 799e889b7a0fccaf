import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCerts, type TestCert, type TestCerts } from '../../../test/peers/certs.js';
import { certificateOfError, evaluateTls, handshakeFailure, normalizeFingerprint, startTls, tlsConnectOptions, type TlsOutcome, type TlsPolicy } from './tls-policy.js';

let certs: TestCerts;
const servers: net.Server[] = [];

/** A TLS server presenting `cert`, sending a greeting; resolves with its port. */
async function tlsServer(cert: TestCert, opts: tls.TlsOptions = {}): Promise<number> {
  const server = tls.createServer({ cert: cert.cert, key: cert.key, ...opts }, (s) => {
    s.on('error', () => undefined);
    s.end('hello\r\n');
  });
  server.on('tlsClientError', () => undefined);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as net.AddressInfo).port;
}

/** Connects with `startTls` under the policy: the outcome, or the AppError it failed with. */
function handshake(port: number, host: string, policy: TlsPolicy): Promise<TlsOutcome> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(port, '127.0.0.1', () => {
      const s = startTls(raw, host, port, policy, (outcome) => {
        s.destroy();
        resolve(outcome);
      });
      s.once('error', (err) => reject(handshakeFailure(err, host, port)));
    });
    raw.once('error', reject);
  });
}

beforeAll(async () => {
  certs = await testCerts();
});
afterAll(() => {
  for (const s of servers) s.close();
});

describe('normalizeFingerprint', () => {
  it('accepts any case, with or without colons, and refuses anything else', () => {
    const fp = certs.localhost.fingerprint;
    expect(normalizeFingerprint(fp.toLowerCase())).toBe(fp);
    expect(normalizeFingerprint(`sha256:${fp.slice(7).replace(/:/g, '')}`)).toBe(fp);
    expect(() => normalizeFingerprint('sha256:AB')).toThrow(expect.objectContaining({ code: 'TLS_PIN_INVALID' }));
  });
});

describe('tlsConnectOptions', () => {
  it('requires TLS 1.2, sends SNI only for names, and adds an extra CA to the system ones', () => {
    const byName = tlsConnectOptions('imap.example.com', { verify: 'chain', ca: certs.ca.cert });
    expect(byName).toMatchObject({ minVersion: 'TLSv1.2', servername: 'imap.example.com', host: 'imap.example.com' });
    expect(byName.ca).toHaveLength(tls.rootCertificates.length + 1);
    const byIp = tlsConnectOptions('192.0.2.1', { verify: 'chain' });
    expect(byIp.servername).toBeUndefined();
    expect(byIp.ca).toBeUndefined();
  });
});

describe('the policy applied to real handshakes', () => {
  it('chain: trusts the extra CA, describes the certificate; refuses an unknown CA', async () => {
    const port = await tlsServer(certs.localhost);
    const ok = await handshake(port, 'localhost', { verify: 'chain', ca: certs.ca.cert });
    expect(ok.verifiedBy).toBe('chain');
    expect(ok.warnings).toEqual([]);
    expect(ok.certificate).toMatchObject({
      subject: 'localhost',
      names: ['localhost', '127.0.0.1'],
      issuer: 'Mailroom Test CA',
      selfSigned: false,
      fingerprint: certs.localhost.fingerprint,
      chain: { trusted: true },
      nameMatches: true,
    });
    expect(ok.certificate.daysLeft).toBeGreaterThan(300);
    expect(ok.certificate.protocol).toMatch(/^TLSv1\.[23]$/);
    await expect(handshake(port, '127.0.0.1', { verify: 'chain', ca: certs.ca.cert })).resolves.toMatchObject({ verifiedBy: 'chain' });
    const err = await handshake(port, 'localhost', { verify: 'chain' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TLS_CERT_UNTRUSTED', message: expect.stringContaining('Mailroom Test CA') });
    expect(certificateOfError(err)?.fingerprint).toBe(certs.localhost.fingerprint);
  });

  it('chain: names a self-signed, a wrong-name, an expired certificate; warns about one expiring soon', async () => {
    const self = await tlsServer(certs.selfSigned);
    await expect(handshake(self, 'localhost', { verify: 'chain' })).rejects.toMatchObject({
      code: 'TLS_CERT_UNTRUSTED',
      message: expect.stringContaining('self-signed'),
      hint: expect.stringContaining(certs.selfSigned.fingerprint),
    });
    const wrong = await tlsServer(certs.wrongName);
    await expect(handshake(wrong, 'localhost', { verify: 'chain', ca: certs.ca.cert })).rejects.toMatchObject({
      code: 'TLS_CERT_NAME_MISMATCH',
      hint: expect.stringContaining('The certificate is for wrong.example, you connected to localhost: use the name wrong.example or pin the certificate'),
    });
    const expired = await tlsServer(certs.expired);
    await expect(handshake(expired, 'localhost', { verify: 'chain', ca: certs.ca.cert })).rejects.toMatchObject({
      code: 'TLS_CERT_EXPIRED',
      message: expect.stringContaining('2020-02-01'),
    });
    const soon = await tlsServer(certs.expiringSoon);
    const outcome = await handshake(soon, 'localhost', { verify: 'chain', ca: certs.ca.cert });
    expect(outcome.warnings).toHaveLength(1);
    expect(outcome.warnings[0]).toMatch(/expires in \d day/);
  });

  it('peer: accepts exactly the pinned certificate, whatever its chain; peer-or-chain: either', async () => {
    const self = await tlsServer(certs.selfSigned);
    const local = await tlsServer(certs.localhost);
    const pinSelf = { fingerprint: certs.selfSigned.fingerprint };
    await expect(handshake(self, 'localhost', { verify: 'peer', ...pinSelf })).resolves.toMatchObject({ verifiedBy: 'pin' });
    await expect(handshake(local, 'localhost', { verify: 'peer', ...pinSelf, ca: certs.ca.cert })).rejects.toMatchObject({
      code: 'TLS_PIN_MISMATCH',
      message: expect.stringContaining(certs.localhost.fingerprint),
    });
    await expect(handshake(self, 'localhost', { verify: 'peer-or-chain', ...pinSelf })).resolves.toMatchObject({ verifiedBy: 'pin' });
    await expect(handshake(local, 'localhost', { verify: 'peer-or-chain', ...pinSelf, ca: certs.ca.cert })).resolves.toMatchObject({ verifiedBy: 'chain' });
    await expect(handshake(local, 'localhost', { verify: 'peer-or-chain', ...pinSelf })).rejects.toMatchObject({ code: 'TLS_CERT_UNTRUSTED' });
    const expired = await tlsServer(certs.expired);
    const pinnedExpired = await handshake(expired, 'localhost', { verify: 'peer', fingerprint: certs.expired.fingerprint });
    expect(pinnedExpired.warnings.join(' ')).toMatch(/expired on 2020-02-01/);
  });

  it('none: accepts anything and says so', async () => {
    const wrong = await tlsServer(certs.wrongName);
    const outcome = await handshake(wrong, 'localhost', { verify: 'none' });
    expect(outcome.verifiedBy).toBe('none');
    expect(outcome.certificate.nameMatches).toBe(false);
    expect(outcome.warnings.join(' ')).toMatch(/verification is off/);
  });

  it('names a server that does not speak TLS and one that only offers TLS 1.1', async () => {
    const plain = net.createServer((s) => s.end('* OK plain IMAP\r\n'));
    servers.push(plain);
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
    await expect(handshake((plain.address() as net.AddressInfo).port, 'localhost', { verify: 'none' })).rejects.toMatchObject({
      code: 'TLS_HANDSHAKE_FAILED',
      hint: expect.stringContaining('starttls'),
    });
    // OpenSSL 3 needs security level 0 to even offer TLS 1.1 on the server side.
    const old = await tlsServer(certs.localhost, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
    await expect(handshake(old, 'localhost', { verify: 'none' })).rejects.toMatchObject({
      code: 'TLS_HANDSHAKE_FAILED',
      message: expect.stringContaining('1.2 or newer'),
    });
  });
});

describe('evaluateTls', () => {
  it('is usable on a socket from any TLS client (the policy does not depend on startTls)', async () => {
    const port = await tlsServer(certs.localhost);
    const s = tls.connect({ ...tlsConnectOptions('localhost', { verify: 'chain', ca: certs.ca.cert }), port });
    await new Promise((r) => s.once('secureConnect', r));
    expect(evaluateTls(s, 'localhost', { verify: 'chain', ca: certs.ca.cert }).verifiedBy).toBe('chain');
    expect(() => evaluateTls(s, 'other.example', { verify: 'chain' })).toThrow(expect.objectContaining({ code: 'TLS_CERT_NAME_MISMATCH' }));
    s.destroy();
  });
});
