/**
 * The TLS policy every mail connection uses (implicit TLS and STARTTLS alike):
 * - `chain`: the system CAs plus an optional extra `ca` PEM, and the host name must match;
 * - `peer`: exactly the pinned leaf certificate (`sha256:…` fingerprint), no chain check;
 * - `peer-or-chain`: either of the two;
 * - `none`: no verification (allowed, reported as a warning).
 * TLS 1.2 is the minimum (RFC 8996 deprecates 1.0 and 1.1; RFC 8314 §4.1 for mail).
 *
 * The handshake runs with `rejectUnauthorized: false` and the policy is applied right after it,
 * before a single byte of the session is handed on: Node then still reports the chain result
 * (`authorized`, `authorizationError`), and we can accept a pinned certificate the chain would
 * refuse, describe the certificate whatever happens, and name the failure precisely.
 */
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { AppError } from '../../domain/errors.js';
import { hostPort } from './net-errors.js';

export type TlsVerify = 'chain' | 'peer' | 'peer-or-chain' | 'none';

export interface TlsPolicy {
  verify: TlsVerify;
  /** `sha256:AB:CD:…` (colons optional, any case): the pinned leaf certificate. */
  fingerprint?: string;
  /** Extra trusted CA certificate(s), PEM, added to the system CAs for `chain`. */
  ca?: string;
}

/** What the connection test shows about the server's certificate. */
export interface CertificateInfo {
  subject: string;
  /** DNS names and IP addresses the certificate is valid for. */
  names: string[];
  issuer: string;
  selfSigned: boolean;
  validFrom: string;
  validTo: string;
  /** Whole days until `validTo` (negative once expired). */
  daysLeft: number;
  fingerprint: string;
  /** The chain check against the system CAs (+ `ca`): trusted, or the OpenSSL/Node reason. */
  chain: { trusted: boolean; error?: string };
  /** Whether the certificate is valid for the host name connected to. */
  nameMatches: boolean;
  protocol: string | null;
  cipher: string | null;
}

export interface TlsOutcome {
  certificate: CertificateInfo;
  /** How the certificate was accepted. */
  verifiedBy: 'chain' | 'pin' | 'none';
  warnings: string[];
}

/** Certificates that expire within this many days are reported as a warning. */
export const EXPIRY_WARNING_DAYS = 30;

/** `sha256:AB:CD:…` in upper case with colons, from any accepted spelling. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/^sha256:/i, '').replace(/:/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new AppError('TLS_PIN_INVALID', `"${fp}" is not a SHA-256 fingerprint`, {
      status: 400,
      hint: 'Write it as sha256: followed by 32 hex bytes, e.g. sha256:AB:CD:…; the connection test shows the server\'s fingerprint.',
    });
  }
  return `sha256:${hex.match(/../g)!.join(':')}`;
}

/** Options for `tls.connect` under a policy (add `socket` to wrap an open connection). */
export function tlsConnectOptions(host: string, policy: TlsPolicy): tls.ConnectionOptions {
  return {
    host,
    // RFC 6066 §3: SNI carries host names only, never an IP literal.
    ...(net.isIP(host) ? {} : { servername: host }),
    minVersion: 'TLSv1.2',
    // Setting `ca` replaces Node's bundled roots, so keep them beside the extra CA.
    ...(policy.ca ? { ca: [...tls.rootCertificates, policy.ca] } : {}),
    // The policy is applied after the handshake (see the file comment).
    rejectUnauthorized: false,
  };
}

function cnOf(name: Record<string, string | string[]> | undefined): string {
  if (!name) return '';
  const pick = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  return pick(name.CN) ?? pick(name.O) ?? Object.values(name).map(pick).filter(Boolean).join(', ');
}

function namesOf(cert: tls.PeerCertificate): string[] {
  const san = cert.subjectaltname;
  if (!san) return cnOf(cert.subject as unknown as Record<string, string>) ? [cnOf(cert.subject as unknown as Record<string, string>)] : [];
  return san.split(/,\s*/).map((n) => n.replace(/^(DNS|IP Address):/, ''));
}

/**
 * The chain verdict alone: Node folds the host name check into `authorized`
 * (ERR_TLS_CERT_ALTNAME_INVALID, only reached when the chain itself verified), which is
 * reported apart as `nameMatches`.
 */
function chainResult(socket: tls.TLSSocket): CertificateInfo['chain'] {
  const error = socket.authorizationError === undefined || socket.authorizationError === null ? undefined : String(socket.authorizationError);
  if (socket.authorized || error === 'ERR_TLS_CERT_ALTNAME_INVALID') return { trusted: true };
  return { trusted: false, error: error ?? 'unknown' };
}

/** Describes the peer certificate of a finished handshake. */
export function describeCertificate(socket: tls.TLSSocket, host: string, now: Date = new Date()): CertificateInfo | undefined {
  const cert = socket.getPeerCertificate(true);
  if (!cert || !cert.raw) return undefined;
  const x509 = new X509Certificate(cert.raw);
  const validTo = new Date(cert.valid_to);
  // Not checkIssued(): OpenSSL refuses a self-issued leaf whose keyUsage lacks keyCertSign,
  // which is how most self-signed server certificates are made.
  const selfSigned = x509.subject === x509.issuer && x509.verify(x509.publicKey);
  return {
    subject: cnOf(cert.subject as unknown as Record<string, string>),
    names: namesOf(cert),
    issuer: cnOf(cert.issuer as unknown as Record<string, string>),
    selfSigned,
    validFrom: new Date(cert.valid_from).toISOString(),
    validTo: validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - now.getTime()) / 86_400_000),
    fingerprint: `sha256:${cert.fingerprint256}`,
    chain: chainResult(socket),
    nameMatches: tls.checkServerIdentity(host, cert) === undefined,
    protocol: socket.getProtocol(),
    cipher: socket.getCipher()?.standardName ?? null,
  };
}

const day = (iso: string) => iso.slice(0, 10);

function pinHint(info: CertificateInfo): string {
  return `pin this certificate (tls.verify: peer, fingerprint: "${info.fingerprint}") after checking it with the server's administrator`;
}

/**
 * The AppError for a certificate the chain check refused, in this order: expired, not yet
 * valid, untrusted (self-signed or unknown CA), then the name (the fix for the first one that
 * applies is needed in any case).
 */
export function chainFailure(info: CertificateInfo, host: string, now: Date = new Date()): AppError {
  const where = `the certificate of ${host}`;
  if (new Date(info.validTo) < now) {
    return new AppError('TLS_CERT_EXPIRED', `The certificate of ${host} expired on ${day(info.validTo)}`, {
      status: 502,
      hint: `The server's administrator must renew the certificate; to connect meanwhile, ${pinHint(info)}.`,
    });
  }
  if (new Date(info.validFrom) > now) {
    return new AppError('TLS_CERT_NOT_YET_VALID', `The certificate of ${host} is only valid from ${day(info.validFrom)}`, {
      status: 502,
      hint: "Check this machine's clock, or ask the server's administrator to install a certificate that is valid now.",
    });
  }
  if (!info.chain.trusted) {
    if (info.selfSigned) {
      return new AppError('TLS_CERT_UNTRUSTED', `${cap(where)} is self-signed (${info.subject})`, {
        status: 502,
        hint: `Add the certificate as tls.ca (PEM), or ${pinHint(info)}.`,
      });
    }
    return new AppError('TLS_CERT_UNTRUSTED', `${cap(where)} was issued by "${info.issuer}", which this machine does not trust (${info.chain.error})`, {
      status: 502,
      hint: `Add the certificate of the CA "${info.issuer}" as tls.ca (PEM), or ${pinHint(info)}.`,
    });
  }
  const shown = info.names.slice(0, 3).join(', ') || info.subject;
  const first = info.names[0] ?? info.subject;
  return new AppError('TLS_CERT_NAME_MISMATCH', `The certificate is for ${shown}, not for ${host}`, {
    status: 502,
    hint: `The certificate is for ${first}, you connected to ${host}: use the name ${first} or pin the certificate (tls.verify: peer, fingerprint: "${info.fingerprint}").`,
  });
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

const refusedCertificates = new WeakMap<AppError, CertificateInfo>();

/** The certificate a TLS_CERT_* / TLS_PIN_MISMATCH error refused, for the connection test. */
export function certificateOfError(err: unknown): CertificateInfo | undefined {
  return err instanceof AppError ? refusedCertificates.get(err) : undefined;
}

/**
 * Applies the policy to a finished handshake: the outcome with warnings, or the AppError that
 * names why the certificate is refused (TLS_CERT_*, TLS_PIN_MISMATCH; `certificateOfError`
 * gives the certificate it refused).
 */
export function evaluateTls(socket: tls.TLSSocket, host: string, policy: TlsPolicy, now: Date = new Date()): TlsOutcome {
  const info = describeCertificate(socket, host, now);
  try {
    return applyPolicy(info, host, policy, now);
  } catch (err) {
    if (info && err instanceof AppError) refusedCertificates.set(err, info);
    throw err;
  }
}

function applyPolicy(info: CertificateInfo | undefined, host: string, policy: TlsPolicy, now: Date): TlsOutcome {
  if (!info) {
    throw new AppError('TLS_HANDSHAKE_FAILED', `${host} presented no certificate`, {
      status: 502,
      hint: 'The server must present a certificate: check its TLS configuration.',
    });
  }
  const warnings: string[] = [];
  const expired = new Date(info.validTo) < now;
  if (!expired && info.daysLeft < EXPIRY_WARNING_DAYS) {
    warnings.push(`The server's certificate expires in ${info.daysLeft} day${info.daysLeft === 1 ? '' : 's'} (${day(info.validTo)}): have it renewed before then.`);
  }
  const chainOk = info.chain.trusted && info.nameMatches && !expired;
  const pinned = policy.fingerprint ? normalizeFingerprint(policy.fingerprint) : undefined;
  const pinOk = pinned !== undefined && pinned === info.fingerprint;
  const pinExpiredWarning = () => {
    if (expired) warnings.push(`The pinned certificate expired on ${day(info.validTo)}; it is accepted because it is pinned.`);
  };

  switch (policy.verify) {
    case 'none':
      warnings.push('TLS verification is off (tls.verify: none): anyone on the network path could read the mail and the password. Pin the certificate instead.');
      return { certificate: info, verifiedBy: 'none', warnings };
    case 'peer':
      if (!pinOk) throw pinMismatch(info, host, pinned);
      pinExpiredWarning();
      return { certificate: info, verifiedBy: 'pin', warnings };
    case 'peer-or-chain':
      if (pinOk) {
        pinExpiredWarning();
        return { certificate: info, verifiedBy: 'pin', warnings };
      }
      if (chainOk) return { certificate: info, verifiedBy: 'chain', warnings };
      throw chainFailure(info, host, now);
    case 'chain':
      if (chainOk) return { certificate: info, verifiedBy: 'chain', warnings };
      throw chainFailure(info, host, now);
  }
}

function pinMismatch(info: CertificateInfo, host: string, pinned: string | undefined): AppError {
  return new AppError('TLS_PIN_MISMATCH', `The certificate of ${host} has fingerprint ${info.fingerprint}, not the pinned ${pinned ?? '(none)'}`, {
    status: 502,
    hint: `If the server's certificate was replaced on purpose, pin the new fingerprint "${info.fingerprint}"; otherwise someone may be intercepting the connection.`,
  });
}

/** Names a TLS error raised during the handshake (before any certificate check). */
export function handshakeFailure(err: unknown, host: string, port: number): AppError {
  if (err instanceof AppError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? '';
  const text = `${code} ${e.message ?? ''}`;
  let hint = "Check the port and the security setting; the server's log may say why it refused the handshake.";
  let message = `The TLS handshake with ${hostPort(host, port)} failed: ${e.message ?? String(err)}`;
  if (/WRONG_VERSION_NUMBER|UNKNOWN_PROTOCOL|packet length too long|HTTP_REQUEST/i.test(text)) {
    message = `${hostPort(host, port)} did not answer with TLS`;
    hint = 'This port does not speak TLS from the first byte: if it is a STARTTLS port (143, 110, 587, 25) set security: starttls, or use the implicit TLS port (993, 995, 465).';
  } else if (/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE/i.test(text)) {
    message = `${hostPort(host, port)} offers no TLS version Mailroom accepts (1.2 or newer)`;
    hint = 'The server only speaks TLS 1.0/1.1, which are insecure and refused: upgrade its TLS configuration.';
  } else if (code === 'ECONNRESET' || /socket disconnected|socket hang up/i.test(text)) {
    message = `${hostPort(host, port)} closed the connection during the TLS handshake`;
    hint = 'The server refused the TLS handshake: check the port and security setting, and the server\'s TLS log.';
  }
  return new AppError('TLS_HANDSHAKE_FAILED', message, { status: 502, hint, cause: err });
}

/**
 * Starts TLS on a connected socket (or a new connection when `socket` is omitted) under the
 * policy, synchronously like `tls.connect` so it fits imapflow's `transport.upgrade` and
 * nodemailer-style callers: `onVerified` runs only once the certificate passed the policy; a
 * refused certificate destroys the TLS socket with the AppError (its `error` event). Wait for
 * `onVerified`, never for `secureConnect`: that event fires before the policy is applied.
 */
export function startTls(
  socket: net.Socket | undefined,
  host: string,
  port: number,
  policy: TlsPolicy,
  onVerified: (outcome: TlsOutcome) => void,
): tls.TLSSocket {
  const tlsSocket = tls.connect({ ...tlsConnectOptions(host, policy), ...(socket ? { socket } : { port }) });
  tlsSocket.once('secureConnect', () => {
    let outcome: TlsOutcome;
    try {
      outcome = evaluateTls(tlsSocket, host, policy);
    } catch (err) {
      tlsSocket.destroy(err as Error);
      return;
    }
    onVerified(outcome);
  });
  return tlsSocket;
}
