/**
 * Certificates generated at test time with openssl (EC P-256: fast to make): a private CA and
 * leaf certificates for every TLS case the connection test must name. Generated once per
 * process (the promise is cached) in a temp folder that is removed right away: the PEMs are
 * kept in memory, and `writeCertFiles` puts one where a server needs files (Dovecot writes
 * them into its own folder), so nothing is left behind even if the worker is killed.
 *
 * | name          | issuer      | names                        | validity                 |
 * |---------------|-------------|------------------------------|--------------------------|
 * | `localhost`   | the test CA | DNS:localhost, IP:127.0.0.1  | 1 year from now          |
 * | `selfSigned`  | itself      | DNS:localhost, IP:127.0.0.1  | 1 year from now          |
 * | `wrongName`   | the test CA | DNS:wrong.example            | 1 year from now          |
 * | `expired`     | the test CA | DNS:localhost, IP:127.0.0.1  | 2020-01-01 to 2020-02-01 |
 * | `expiringSoon`| the test CA | DNS:localhost, IP:127.0.0.1  | 10 days from now         |
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { removeFolder, trackFolder } from './peer-process.js';

const exec = promisify(execFile);

export interface TestCert {
  /** PEM contents. */
  cert: string;
  key: string;
  /** `sha256:AB:CD:…`, the format of `tls.fingerprint` in the config schema. */
  fingerprint: string;
  /** Subject CN, for assertions on the certificate description. */
  commonName: string;
}

export interface TestCerts {
  /** The private CA: pass `ca.cert` as the `tls.ca` PEM to trust it. */
  ca: TestCert;
  localhost: TestCert;
  selfSigned: TestCert;
  wrongName: TestCert;
  expired: TestCert;
  expiringSoon: TestCert;
}

/** `sha256:AB:CD:…` of a PEM certificate. */
export function fingerprintOf(pem: string): string {
  return `sha256:${new X509Certificate(pem).fingerprint256}`;
}

const LOCAL_SAN = 'DNS:localhost, IP:127.0.0.1';

function config(cn: string, san: string | undefined, dir: string): string {
  // One file holds the req and ca settings; `leaf`/`ca_ext`/`self` pick the extensions.
  return `[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = ${cn}
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ self ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
${san ? `subjectAltName = ${san}` : ''}
[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
${san ? `subjectAltName = ${san}` : ''}
[ ca ]
default_ca = testca
[ testca ]
database = ${dir}/index.txt
new_certs_dir = ${dir}
serial = ${dir}/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
`;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function load(dir: string, name: string, commonName: string): Promise<TestCert> {
  const cert = await readFile(path.join(dir, `${name}.pem`), 'utf8');
  const key = await readFile(path.join(dir, `${name}.key`), 'utf8');
  return { cert, key, fingerprint: fingerprintOf(cert), commonName };
}

/**
 * Writes a certificate and its key as `NAME.pem` / `NAME.key` into `dir` (world-readable, as
 * Dovecot's unprivileged processes need); returns the paths.
 */
export async function writeCertFiles(cert: Pick<TestCert, 'cert' | 'key'>, dir: string, name = 'server'): Promise<{ certPath: string; keyPath: string }> {
  const certPath = path.join(dir, `${name}.pem`);
  const keyPath = path.join(dir, `${name}.key`);
  await writeFile(certPath, cert.cert, { mode: 0o644 });
  await writeFile(keyPath, cert.key, { mode: 0o644 });
  return { certPath, keyPath };
}

async function generate(): Promise<TestCerts> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailroom-certs-'));
  trackFolder(dir);
  try {
    return await generateIn(dir);
  } finally {
    await removeFolder(dir);
  }
}

async function generateIn(dir: string): Promise<TestCerts> {
  await writeFile(path.join(dir, 'index.txt'), '');
  await writeFile(path.join(dir, 'serial'), '1000\n');
  const cnf = async (name: string, cn: string, san?: string) => {
    const file = path.join(dir, `${name}.cnf`);
    await writeFile(file, config(cn, san, dir));
    return file;
  };
  const out = (name: string) => ['-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.pem`)];
  const ca = ['-CA', path.join(dir, 'ca.pem'), '-CAkey', path.join(dir, 'ca.key')];

  await exec('openssl', ['req', '-x509', ...EC, ...out('ca'), '-days', '3650', '-config', await cnf('ca', 'Mailroom Test CA'), '-extensions', 'ca_ext']);
  // OpenSSL 3.0's `req -x509 -CA` signs with the CA in one step.
  const signed = async (name: string, cn: string, san: string, days: number) =>
    exec('openssl', ['req', '-x509', ...EC, ...out(name), '-days', String(days), ...ca, '-config', await cnf(name, cn, san), '-extensions', 'leaf']);
  await Promise.all([
    signed('localhost', 'localhost', LOCAL_SAN, 365),
    signed('wrong-name', 'wrong.example', 'DNS:wrong.example', 365),
    signed('expiring-soon', 'localhost', LOCAL_SAN, 10),
    exec('openssl', ['req', '-x509', ...EC, ...out('self-signed'), '-days', '365', '-config', await cnf('self-signed', 'localhost', LOCAL_SAN), '-extensions', 'self']),
    (async () => {
      // A date in the past needs `openssl ca -startdate/-enddate` (x509 -not_after is 3.4+).
      const c = await cnf('expired', 'localhost', LOCAL_SAN);
      await exec('openssl', ['req', '-new', ...EC, '-keyout', path.join(dir, 'expired.key'), '-out', path.join(dir, 'expired.csr'), '-config', c]);
      await exec('openssl', [
        'ca', '-batch', '-notext', '-config', c, '-cert', path.join(dir, 'ca.pem'), '-keyfile', path.join(dir, 'ca.key'),
        '-in', path.join(dir, 'expired.csr'), '-out', path.join(dir, 'expired.pem'), '-extensions', 'leaf',
        '-startdate', '20200101000000Z', '-enddate', '20200201000000Z',
      ]);
    })(),
  ]);
  return {
    ca: await load(dir, 'ca', 'Mailroom Test CA'),
    localhost: await load(dir, 'localhost', 'localhost'),
    selfSigned: await load(dir, 'self-signed', 'localhost'),
    wrongName: await load(dir, 'wrong-name', 'wrong.example'),
    expired: await load(dir, 'expired', 'localhost'),
    expiringSoon: await load(dir, 'expiring-soon', 'localhost'),
  };
}

let cached: Promise<TestCerts> | undefined;

/** The test certificates of this process (generated on first call, about 0.2 s). */
export function testCerts(): Promise<TestCerts> {
  cached ??= generate().catch((err: unknown) => {
    cached = undefined;
    throw new Error(`openssl could not generate the test certificates: ${(err as Error).message}`);
  });
  return cached;
}
