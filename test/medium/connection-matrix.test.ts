/**
 * The connection matrix of issue 5 against real peers, shared by every case: IMAP, POP3 and SMTP
 * work directly and through Dante (without and with username auth), with every security mode
 * (tls, starttls, none) and every TLS verification (chain with the private CA, a pinned
 * certificate, peer-or-chain, none); and each failure is named with its step, stable code and
 * hint by the test endpoint of a running Mailroom and by `mailroom doctor`.
 *
 * Peers: five Dovecots (certificates for localhost from the test CA, self-signed, for a wrong
 * name, expired, and one without TLS), two Dantes and SMTP sinks of the same kinds. Every case
 * is a mailbox or sender of one config applied once; the matrix mailboxes are disabled (no
 * connector runs for them; their test works all the same), the failing ones are enabled so the
 * doctor counts them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxSchema, senderSchema } from '../../src/config/schema.js';
import { ImapSource } from '../../src/connectors/imap/imap-source.js';
import { EMPTY_POSITION } from '../../src/connectors/mail-source.js';
import { Pop3Source } from '../../src/connectors/pop3/pop3-source.js';
import { SmtpSender } from '../../src/connectors/smtp/smtp-sender.js';
import { ApiClient } from '../helpers/api-client.js';
import { onceMoreIfDropped } from '../helpers/peer-flake.js';
import { rawMail, sha } from '../helpers/mail.js';
import { runMailroom } from '../helpers/process.js';
import { ADMIN_PASSWORD, startRuntime, type TestRuntime } from '../helpers/runtime.js';
import { testCerts, type TestCerts } from '../peers/certs.js';
import { DANTE_TEST_PASSWORD, DANTE_TEST_USER, startDante, type DantePeer } from '../peers/dante.js';
import { startDovecot, type DovecotPeer } from '../peers/dovecot.js';
import { getFreePorts } from '../peers/ports.js';
import { startSmtpSink, type SmtpSink } from '../peers/smtp-sink.js';
import { isRoot, missingSystemPackages } from '../peers/system-packages.js';

const missing = [...missingSystemPackages(['dovecot', 'dante', 'openssl']), ...(isRoot() ? [] : ['the peers run as root'])];
if (missing.length > 0) console.warn(`connection-matrix.test.ts skipped: ${missing.join('; ')}`);

type Protocol = 'imap' | 'pop3' | 'smtp';
type Route = 'direct' | 'dante' | 'dante-auth';
type Security = 'tls' | 'starttls' | 'none';
type Verify = 'chain' | 'peer' | 'peer-or-chain' | 'none';

const PROTOCOLS: Protocol[] = ['imap', 'pop3', 'smtp'];
const ROUTES: Route[] = ['direct', 'dante', 'dante-auth'];
const MODES: Array<[Security, Verify | null]> = [
  ...(['chain', 'peer', 'peer-or-chain', 'none'] as const).flatMap((v) => [['tls', v] as [Security, Verify], ['starttls', v] as [Security, Verify]]),
  ['none', null],
];
const USER = { user: 'support', password: 'support-pw' };
const SENDER_USER = { user: 'sender', password: 'sender-pw' };

let certs: TestCerts;
const dovecot = {} as Record<'main' | 'selfSigned' | 'wrongName' | 'expired' | 'noTls', DovecotPeer>;
const sinks = {} as Record<'implicit' | 'starttls' | 'plain' | 'selfSigned' | 'wrongName' | 'expired' | 'refusing', SmtpSink>;
let dante: DantePeer;
let danteAuth: DantePeer;
let deadPort: number;
let deadProxyPort: number;
let rt: TestRuntime;
let admin: ApiClient;
const seeded = rawMail({ subject: 'Matrix seed' });
const stops: Array<() => Promise<void> | undefined> = [];

const proxyOf = (route: Route): string => (route === 'direct' ? 'none' : route === 'dante' ? dante.url : danteAuth.url);

/** The spec of a matrix case (as it goes into the config: JSON, the CA as PEM). */
function matrixSpec(protocol: Protocol, route: Route, security: Security, verify: Verify | null): Record<string, unknown> {
  const tls =
    verify === null
      ? undefined
      : verify === 'chain'
        ? { verify, ca: certs.ca.cert }
        : verify === 'peer'
          ? { verify, fingerprint: certs.localhost.fingerprint }
          : verify === 'peer-or-chain'
            // A pin that does not match: the certificate has to pass by its chain.
            ? { verify, fingerprint: certs.selfSigned.fingerprint, ca: certs.ca.cert }
            : { verify };
  const name = `ok-${protocol}-${route}-${security}${verify ? `-${verify}` : ''}`;
  if (protocol === 'smtp') {
    const sink = security === 'tls' ? sinks.implicit : sinks.starttls;
    return { name, type: 'smtp', host: 'localhost', port: sink.port, security, auth: SENDER_USER, from: 'Support <support@example.com>', proxy: proxyOf(route), ...(tls ? { tls } : {}) };
  }
  const m = dovecot.main;
  const port = protocol === 'imap' ? (security === 'tls' ? m.imapsPort : m.imapPort) : security === 'tls' ? m.pop3sPort : m.pop3Port;
  return {
    name,
    protocol,
    host: 'localhost',
    port,
    security,
    auth: USER,
    queue: 'q',
    proxy: proxyOf(route),
    enabled: false,
    liveness: { timeout_s: 15 },
    ...(tls ? { tls } : {}),
  };
}

interface FailureCase {
  name: string;
  protocol: Protocol;
  over: Record<string, unknown>;
  step: string;
  code: string;
  /** Something the hint or detail must say. */
  says?: RegExp;
}

/** Every failure of issue 5, for each protocol where it exists. */
function failureCases(): FailureCase[] {
  const port = (p: Protocol, peer: DovecotPeer | SmtpSink) => (p === 'smtp' ? (peer as SmtpSink).port : p === 'imap' ? (peer as DovecotPeer).imapsPort! : (peer as DovecotPeer).pop3sPort!);
  const cases: FailureCase[] = [];
  for (const p of PROTOCOLS) {
    const peerOf = (kind: 'selfSigned' | 'wrongName' | 'expired') => (p === 'smtp' ? sinks[kind] : dovecot[kind]);
    const user = p === 'smtp' ? SENDER_USER : USER;
    cases.push(
      { name: 'wrong-password', protocol: p, over: { auth: { user: user.user, password: 'not-the-password' } }, step: 'auth', code: 'AUTH_FAILED', says: /password/ },
      ...(p === 'imap'
        ? [{ name: 'wrong-port', protocol: p, over: { port: dovecot.main.pop3Port, security: 'none', liveness: { timeout_s: 4 } }, step: 'auth', code: 'IMAP_NO_GREETING', says: /IMAP port|security: tls/ }]
        : p === 'pop3'
          ? [{ name: 'wrong-port', protocol: p, over: { port: dovecot.main.imapPort, security: 'none' }, step: 'auth', code: 'POP3_PROTOCOL_ERROR', says: /port/i }]
          : [{ name: 'wrong-port', protocol: p, over: { port: dovecot.main.imapPort, security: 'none' }, step: 'smtp', code: 'SMTP_PROTOCOL_ERROR', says: /SMTP port/ }]),
      { name: 'nothing-listening', protocol: p, over: { port: deadPort }, step: 'tcp', code: 'TCP_REFUSED', says: /port/ },
      { name: 'dns', protocol: p, over: { host: 'no-such-host.invalid' }, step: 'dns', code: 'DNS_NOT_FOUND', says: /spelling/ },
      { name: 'wrong-cert-name', protocol: p, over: { port: port(p, peerOf('wrongName')) }, step: 'tls', code: 'TLS_CERT_NAME_MISMATCH', says: /certificate is for wrong\.example, you connected to localhost/ },
      { name: 'self-signed', protocol: p, over: { port: port(p, peerOf('selfSigned')) }, step: 'tls', code: 'TLS_CERT_UNTRUSTED', says: /self-signed|pin/ },
      { name: 'expired', protocol: p, over: { port: port(p, peerOf('expired')) }, step: 'tls', code: 'TLS_CERT_EXPIRED', says: /renew/ },
      { name: 'pin-mismatch', protocol: p, over: { tls: { verify: 'peer', fingerprint: certs.selfSigned.fingerprint } }, step: 'tls', code: 'TLS_PIN_MISMATCH', says: /fingerprint/ },
      {
        name: 'starttls-not-offered',
        protocol: p,
        over: { port: p === 'smtp' ? sinks.plain.port : p === 'imap' ? dovecot.noTls.imapPort : dovecot.noTls.pop3Port, security: 'starttls' },
        step: 'tls',
        code: 'STARTTLS_NOT_OFFERED',
        says: /never falls back|plain text/,
      },
      { name: 'proxy-down', protocol: p, over: { proxy: `socks5://127.0.0.1:${deadProxyPort}` }, step: 'proxy', code: 'PROXY_REFUSED', says: /proxy/ },
      { name: 'proxy-auth', protocol: p, over: { proxy: danteAuth.url.replace(DANTE_TEST_PASSWORD, 'wrong-proxy-pw') }, step: 'proxy', code: 'PROXY_AUTH_FAILED', says: /user name or password/ },
    );
  }
  cases.push({ name: 'folder-missing', protocol: 'imap', over: { folder: 'Archive/Nope' }, step: 'folder', code: 'FOLDER_NOT_FOUND', says: /folder name/ });
  // SMTP has no folder: its last step is the sender address, refused here.
  cases.push({ name: 'sender-refused', protocol: 'smtp', over: { port: sinks.refusing.port, from: 'nobody@example.com' }, step: 'sender', code: 'SENDER_REFUSED', says: /send/ });
  return cases;
}

function failureSpec(c: FailureCase): Record<string, unknown> {
  const name = `bad-${c.protocol}-${c.name}`;
  const tls = { verify: 'chain', ca: certs.ca.cert };
  if (c.protocol === 'smtp') {
    return { name, type: 'smtp', host: 'localhost', port: sinks.implicit.port, security: 'tls', tls, auth: SENDER_USER, from: 'support@example.com', proxy: 'none', ...c.over };
  }
  const m = dovecot.main;
  return {
    name,
    protocol: c.protocol,
    host: 'localhost',
    port: c.protocol === 'imap' ? m.imapsPort : m.pop3sPort,
    security: 'tls',
    tls,
    auth: USER,
    queue: 'q',
    proxy: 'none',
    // Enabled, so that the doctor counts them; their connectors retry rarely.
    liveness: { timeout_s: 15, reconnect_s: 3600 },
    ...c.over,
  };
}

interface StepResult {
  name: string;
  ok: boolean;
  code?: string;
  detail: string;
  hint?: string;
  warnings: string[];
}

describe.skipIf(missing.length > 0)('connection matrix', () => {
  let failures: FailureCase[];
  const ids = new Map<string, number>();

  beforeAll(async () => {
    certs = await testCerts();
    const users = [USER];
    const started = <T extends { stop(): Promise<void> }>(p: Promise<T>) => p.then((peer) => (stops.push(() => peer.stop()), peer));
    const sinkAuth = { users: [SENDER_USER], required: true };
    [dovecot.main, dovecot.selfSigned, dovecot.wrongName, dovecot.expired, dovecot.noTls, dante, danteAuth] = await Promise.all([
      started(startDovecot({ users, tls: certs.localhost, maxUserIpConnections: 100 })),
      started(startDovecot({ users, tls: certs.selfSigned })),
      started(startDovecot({ users, tls: certs.wrongName })),
      started(startDovecot({ users, tls: certs.expired })),
      started(startDovecot({ users })),
      started(startDante({ auth: 'none' })),
      started(startDante({ auth: { user: DANTE_TEST_USER, password: DANTE_TEST_PASSWORD } })),
    ]);
    [sinks.implicit, sinks.starttls, sinks.plain, sinks.selfSigned, sinks.wrongName, sinks.expired, sinks.refusing] = await Promise.all([
      started(startSmtpSink({ tls: 'implicit', cert: certs.localhost, auth: sinkAuth })),
      started(startSmtpSink({ tls: 'starttls', cert: certs.localhost, auth: sinkAuth })),
      started(startSmtpSink({ tls: 'none', auth: sinkAuth })),
      started(startSmtpSink({ tls: 'implicit', cert: certs.selfSigned, auth: sinkAuth })),
      started(startSmtpSink({ tls: 'implicit', cert: certs.wrongName, auth: sinkAuth })),
      started(startSmtpSink({ tls: 'implicit', cert: certs.expired, auth: sinkAuth })),
      started(startSmtpSink({ tls: 'implicit', cert: certs.localhost, auth: sinkAuth, onMailFrom: (from) => (from.startsWith('nobody@') ? { code: 553, message: '5.7.1 Sender not allowed' } : undefined) })),
    ]);
    [deadPort, deadProxyPort] = (await getFreePorts(2)) as [number, number];
    await dovecot.main.append(USER.user, 'INBOX', [seeded]);

    rt = await startRuntime('pglite');
    stops.push(() => rt.close());
    admin = new ApiClient(rt.url);
    await admin.login('admin', ADMIN_PASSWORD);
    failures = failureCases();
    const matrix = PROTOCOLS.flatMap((p) => ROUTES.flatMap((r) => MODES.map(([s, v]) => matrixSpec(p, r, s, v))));
    const all = [...matrix, ...failures.map(failureSpec)];
    const config = {
      senders: [{ name: 'out', type: 'smtp', host: 'localhost', port: sinks.implicit.port, security: 'tls', tls: { verify: 'chain', ca: certs.ca.cert }, auth: SENDER_USER, from: 'support@example.com', proxy: 'none' }, ...all.filter((s) => s.type)],
      queues: [{ name: 'q', sender: 'out' }],
      mailboxes: all.filter((s) => s.protocol),
    };
    const applied = await admin.request('PUT', '/api/v1/config', config);
    expect(applied.status, applied.text).toBe(200);
    for (const kind of ['mailboxes', 'senders'] as const) {
      const list = await admin.request('GET', `/api/v1/${kind}?limit=500`);
      for (const item of list.body.items as { id: number; name: string }[]) ids.set(`${kind}:${item.name}`, item.id);
    }
  });

  afterAll(async () => {
    await Promise.allSettled(stops.reverse().map((stop) => stop()));
  });

  const runTest = async (kind: 'mailboxes' | 'senders', name: string): Promise<{ ok: boolean; steps: StepResult[] }> => {
    const id = ids.get(`${kind}:${name}`);
    if (id === undefined) throw new Error(`${kind} ${name} is not configured`);
    const r = await admin.request('POST', `/api/v1/${kind}/${id}/test`);
    expect(r.status, r.text).toBe(200);
    return r.body;
  };
  const trail = (steps: StepResult[]) => steps.map((s) => `${s.name}:${s.ok ? 'ok' : s.code}`);

  it('every protocol works directly and through Dante (with and without auth), in every security mode and TLS verification', async () => {
    const problems: string[] = [];
    for (const protocol of PROTOCOLS) {
      for (const route of ROUTES) {
        for (const [security, verify] of MODES) {
          const spec = matrixSpec(protocol, route, security, verify);
          const name = spec.name as string;
          const result = await runTest(protocol === 'smtp' ? 'senders' : 'mailboxes', name);
          const link = route === 'direct' ? 'tcp' : 'proxy';
          const want = [
            'dns:ok',
            `${link}:ok`,
            ...(security === 'none' ? [] : ['tls:ok']),
            ...(protocol === 'smtp' ? ['smtp:ok', 'auth:ok', 'sender:ok'] : ['auth:ok', 'folder:ok']),
          ];
          const got = trail(result.steps);
          if (!result.ok || got.join(' ') !== want.join(' ')) {
            problems.push(`${name}: ${got.join(' ')} ${JSON.stringify(result.steps.find((s) => !s.ok) ?? '')}`);
            continue;
          }
          const tlsStep = result.steps.find((s) => s.name === 'tls');
          const warnings = result.steps.flatMap((s) => s.warnings).join(' ');
          if (security === 'none' && !/unencrypted|security: none/.test(warnings)) problems.push(`${name}: no plain-text warning`);
          if (verify === 'none' && !/verification is off/.test(tlsStep!.warnings.join(' '))) problems.push(`${name}: no verify-none warning`);
          if (verify === 'peer' && !/pin/.test(tlsStep!.detail)) problems.push(`${name}: not accepted by the pin: ${tlsStep!.detail}`);
          if ((verify === 'chain' || verify === 'peer-or-chain') && !/chain/.test(tlsStep!.detail)) problems.push(`${name}: not accepted by the chain: ${tlsStep!.detail}`);
          if (route !== 'direct' && !/through socks5:\/\//.test(result.steps[1]!.detail)) problems.push(`${name}: proxy step does not say the proxy: ${result.steps[1]!.detail}`);
          if (route === 'dante-auth' && !/user name and password/.test(result.steps[1]!.detail)) problems.push(`${name}: proxy step without username auth: ${result.steps[1]!.detail}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('mail really flows through each route and security mode (reading byte for byte, sending over the right channel)', async () => {
    const problems: string[] = [];
    for (const route of ROUTES) {
      for (const security of ['tls', 'starttls', 'none'] as Security[]) {
        const verify = security === 'none' ? null : 'chain';
        for (const protocol of ['imap', 'pop3'] as const) {
          const spec = mailboxSchema.parse({ ...matrixSpec(protocol, route, security, verify), after_import: protocol === 'imap' ? 'seen' : 'none' });
          const source = protocol === 'imap' ? new ImapSource({ spec }) : new Pop3Source({ spec });
          const got: string[] = [];
          try {
            await source.connect({ onChange: () => undefined, onClose: () => undefined });
            await source.read(EMPTY_POSITION, async (b) => void got.push(...b.messages.map((m) => sha(m.raw))), async () => new Set());
          } catch (err) {
            problems.push(`${spec.name}: ${(err as Error).message}`);
          } finally {
            await source.close();
          }
          if (!got.includes(sha(seeded))) problems.push(`${spec.name}: the seeded message was not read (${got.length} read)`);
        }
        const spec = senderSchema.parse(matrixSpec('smtp', route, security, verify));
        const sender = new SmtpSender({ spec });
        const raw = rawMail({ subject: `matrix ${route} ${security}` });
        const sink = security === 'tls' ? sinks.implicit : sinks.starttls;
        try {
          await sender.send({ from: 'support@example.com', to: ['carla@customer.example'], raw }, { beforeFinal: async () => undefined });
          const arrived = await sink.waitFor((m) => sha(m.raw) === sha(raw), 5000);
          // security: none never uses TLS, even though this sink offers STARTTLS.
          if (arrived.secure !== (security !== 'none') || arrived.user !== SENDER_USER.user) problems.push(`${spec.name}: arrived with secure=${arrived.secure}, user=${arrived.user}`);
        } catch (err) {
          problems.push(`${spec.name}: ${(err as Error).message}`);
        } finally {
          await sender.close();
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('the test endpoint names every failure: the failing step, its stable code and what to do', async () => {
    const problems: string[] = [];
    for (const c of failures) {
      const name = `bad-${c.protocol}-${c.name}`;
      const result = await onceMoreIfDropped(
        () => runTest(c.protocol === 'smtp' ? 'senders' : 'mailboxes', name),
        (r) => r.steps.at(-1)?.code ?? undefined,
        c.code,
        name,
        async () => (await Promise.all(Object.entries(dovecot).map(async ([kind, peer]) => `dovecot ${kind}: ${(await peer.log()).slice(-400)}`))).join('\n'),
      );
      const last = result.steps.at(-1)!;
      const earlier = result.steps.slice(0, -1);
      if (result.ok || last.name !== c.step || last.code !== c.code || last.ok || earlier.some((s) => !s.ok)) {
        problems.push(`${name}: wanted ${c.step}:${c.code}, got ${trail(result.steps).join(' ')} (${last.detail})`);
        continue;
      }
      if (!last.hint) problems.push(`${name}: no hint`);
      else if (c.says && !c.says.test(`${last.hint} ${last.detail}`)) problems.push(`${name}: hint does not say ${c.says}: ${last.hint} / ${last.detail}`);
      if (/not-the-password|wrong-proxy-pw/.test(JSON.stringify(result))) problems.push(`${name}: a password shows in the result`);
    }
    // A peer that stopped answering for good (a one-off drop is tried again above): its log tail says why.
    if (problems.some((p) => p.includes('TCP_REFUSED'))) {
      for (const [kind, peer] of Object.entries(dovecot)) problems.push(`dovecot ${kind} log tail: ${(await peer.log().catch((e: Error) => e.message)).slice(-800)}`);
    }
    expect(problems).toEqual([]);
  });

  it('`mailroom doctor` prints every failure with its code and what to do, and exits non-zero', { timeout: 120_000 }, async () => {
    // The real command, which reaches this running server through the data folder's lock file.
    const { code, output: text } = await runMailroom(['doctor'], { MAILROOM_DATA: rt.dataDir });
    expect(code, text).toBe(1);
    const problems: string[] = [];
    for (const c of failures) {
      const kind = c.protocol === 'smtp' ? 'sender' : 'mailbox';
      const name = `bad-${c.protocol}-${c.name}`;
      const row = new RegExp(`^${kind}\\s+${name}\\s+FAIL\\s+${c.code}\\s+.*\\b${c.step}✗$`, 'm');
      if (!row.test(text)) problems.push(`no row "${kind} ${name} FAIL ${c.code} … ${c.step}✗"`);
      const detail = new RegExp(`^${kind} ${name}: ${c.step} failed \\(${c.code}\\): .*\\n  What to do: \\S`, 'm');
      if (!detail.test(text)) problems.push(`no "what to do" for ${name}`);
    }
    expect(problems, text).toEqual([]);
    // The working ones: senders are always tested (OK, or WARN for verify/security none);
    // the matrix mailboxes are disabled, which the doctor says rather than counting them.
    expect(text).toMatch(/^sender\s+ok-smtp-dante-auth-starttls-chain\s+OK\s/m);
    expect(text).toMatch(/^sender\s+ok-smtp-direct-tls-none\s+WARN\s+1 warning/m);
    expect(text).toMatch(/^mailbox\s+ok-imap-dante-tls-peer\s+DISABLED\s/m);
    expect(text).toContain(`${failures.length} of `);
    expect(text).toMatch(new RegExp(`^${failures.length} of \\d+ failed\\.$`, 'm'));
  });
});
