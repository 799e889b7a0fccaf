/**
 * The one way a mail connection is opened, whatever the protocol: DNS, then TCP directly or
 * through the SOCKS5 proxy, then TLS for implicit TLS. STARTTLS/STLS is the protocol's business
 * up to the server's "go ahead", then `upgradeToTls` finishes it under the same policy.
 * Every failure is an AppError with a stable code; every step that ran can be recorded for
 * the connection test (`steps`).
 */
import dns from 'node:dns';
import net from 'node:net';
import type tls from 'node:tls';
import { AppError } from '../../domain/errors.js';
import { runStep, type ConnectionStep } from './connection-steps.js';
import {
  connectionClosed,
  dnsFailed,
  dnsNotFound,
  hostPort,
  tcpFailed,
  tcpRefused,
  tcpTimeout,
  tcpUnreachable,
  tlsTimeout,
} from './net-errors.js';
import { describeProxy, type ProxyConfig } from './proxy-url.js';
import { socks5Connect } from './socks5.js';
import { handshakeFailure, startTls, type TlsOutcome, type TlsPolicy } from './tls-policy.js';

export type Security = 'tls' | 'starttls' | 'none';

/** A DNS lookup returning every address of a name (injectable for tests). */
export type LookupFn = (host: string) => Promise<string[]>;

export interface ConnectOptions {
  host: string;
  port: number;
  /** `tls`: TLS from the first byte; `starttls`/`none`: a plain socket (see upgradeToTls). */
  security: Security;
  /** The effective proxy (`resolveProxy`), or undefined for a direct connection. */
  proxy?: ProxyConfig;
  /** Default `{ verify: 'chain' }`. */
  tls?: TlsPolicy;
  /** Budget for the whole open (DNS + TCP/proxy + TLS); default 30 s (`liveness.timeout_s`). */
  timeoutMs?: number;
  /** Each step that runs is appended here, the failing one too. */
  steps?: ConnectionStep[];
  lookup?: LookupFn;
}

export interface Connection {
  /**
   * A `tls.TLSSocket` when `secure`; otherwise the plain TCP socket (or proxy tunnel). Nothing
   * of the server's data has been read. It carries a no-op `error` listener so an error before
   * you attach yours cannot crash the process: attach your own `error`/`close` listeners.
   */
  socket: net.Socket;
  secure: boolean;
  /** The certificate and how it was accepted (implicit TLS). */
  tls: TlsOutcome | undefined;
  via: 'direct' | 'socks5';
  /** The address connected to (direct, or sent to the proxy); undefined when the proxy resolved it. */
  address: string | undefined;
  /** Every step that ran (the same array as `options.steps` when given). */
  steps: ConnectionStep[];
  /** The warnings of all steps. */
  warnings: string[];
}

export const DEFAULT_TIMEOUT_MS = 30_000;

const PLAINTEXT_WARNING = 'security: none: the password and the mail cross the network unencrypted. Use tls or starttls unless the network is trusted.';

/** getaddrinfo, as net.connect would use it (respects /etc/hosts). */
export const systemLookup: LookupFn = async (host) => (await dns.promises.lookup(host, { all: true })).map((a) => a.address);

/**
 * A socket error between our hand-over and the caller attaching its own listener would crash
 * the process (an `error` event without listeners throws); with this one it still shows as
 * `close` with `hadError`, and the caller's own listener sees later errors as usual.
 */
function guardErrors<T extends net.Socket>(socket: T): T {
  if (socket.listenerCount('error') === 0) socket.on('error', () => undefined);
  return socket;
}

class Deadline {
  private readonly end: number;
  constructor(readonly total: number) {
    this.end = Date.now() + total;
  }
  remaining(): number {
    return Math.max(1, this.end - Date.now());
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => AppError): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(onTimeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function resolve(host: string, lookup: LookupFn, ms: number): Promise<string[]> {
  try {
    const addresses = await withTimeout(lookup(host), ms, () => dnsFailed(host, `no answer within ${Math.round(ms / 1000)} s`));
    if (addresses.length === 0) throw dnsNotFound(host);
    return addresses;
  } catch (err) {
    if (err instanceof AppError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    // getaddrinfo: ENOTFOUND (EAI_NONAME) and ENODATA mean the name has no address.
    if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'EAI_NONAME') throw dnsNotFound(host, err);
    throw dnsFailed(host, code === 'EAI_AGAIN' ? 'temporary failure of the DNS server' : code || String(err), err);
  }
}

function tcpConnect(host: string, address: string, port: number, ms: number): Promise<net.Socket> {
  return new Promise((resolveSocket, reject) => {
    const socket = net.connect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(tcpTimeout(host, port, ms));
    }, ms);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolveSocket(socket);
    });
    const onError = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      const code = err.code ?? '';
      if (code === 'ECONNREFUSED') reject(tcpRefused(host, port, err));
      else if (code === 'ETIMEDOUT') reject(tcpTimeout(host, port, ms, err));
      else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') reject(tcpUnreachable(host, port, code, err));
      else reject(tcpFailed(host, port, code || err.message, err));
    };
    socket.once('error', onError);
  });
}

/** Tries each address in turn (IPv6 then IPv4 for "localhost", say); the last error wins. */
async function connectDirect(host: string, addresses: string[], port: number, deadline: Deadline): Promise<{ socket: net.Socket; address: string }> {
  let last: unknown;
  for (const [i, address] of addresses.entries()) {
    // Leave time for the addresses after this one: a blackholed first address must not eat it all.
    const share = Math.max(1, Math.floor(deadline.remaining() / (addresses.length - i)));
    try {
      return { socket: await tcpConnect(host, address, port, share), address };
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** TLS on an open socket under the policy, with a deadline; resolves once the policy accepted it. */
function tlsHandshake(socket: net.Socket, host: string, port: number, policy: TlsPolicy, ms: number): Promise<{ socket: tls.TLSSocket; outcome: TlsOutcome }> {
  return new Promise((resolveTls, reject) => {
    let settled = false;
    const finish = (err: AppError | undefined, result?: { socket: tls.TLSSocket; outcome: TlsOutcome }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      tlsSocket.off('error', onError);
      tlsSocket.off('close', onClose);
      socket.off('error', onError);
      if (err) {
        tlsSocket.destroy();
        reject(err);
      } else resolveTls(result!);
    };
    const tlsSocket = startTls(socket, host, port, policy, (outcome) => finish(undefined, { socket: tlsSocket, outcome }));
    const onError = (err: Error) => finish(handshakeFailure(err, host, port));
    const onClose = () => finish(handshakeFailure(Object.assign(new Error('socket disconnected'), { code: 'ECONNRESET' }), host, port));
    const timer = setTimeout(() => finish(tlsTimeout(host, port, ms)), ms);
    tlsSocket.on('error', onError);
    tlsSocket.once('close', onClose);
    // The plain socket under TLS can fail on its own (a reset mid-handshake).
    socket.on('error', onError);
  });
}

function tlsDetail(outcome: TlsOutcome): string {
  const c = outcome.certificate;
  const how = outcome.verifiedBy === 'pin' ? 'accepted by its pinned fingerprint' : outcome.verifiedBy === 'chain' ? 'verified by its chain' : 'not verified (tls.verify: none)';
  return `${c.protocol ?? 'TLS'}, certificate for ${c.names.slice(0, 3).join(', ') || c.subject} issued by ${c.issuer}, valid until ${c.validTo.slice(0, 10)} (${c.daysLeft} days), ${how}`;
}

/** Opens a connection per the options; throws an AppError (DNS_*, TCP_*, PROXY_*, TLS_*). */
export async function openConnection(opts: ConnectOptions): Promise<Connection> {
  const steps = opts.steps ?? [];
  const deadline = new Deadline(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const lookup = opts.lookup ?? systemLookup;
  const { host, port, proxy } = opts;
  const warnings: string[] = [];
  const plainWarning = opts.security === 'none' ? [PLAINTEXT_WARNING] : [];

  // socks5h: the proxy resolves the name, so there is no local DNS step (the name may not
  // resolve here at all). An IP literal needs no lookup either.
  const remoteDns = proxy?.protocol === 'socks5h';
  let addresses: string[] | undefined;
  if (!remoteDns && !net.isIP(host)) {
    addresses = await runStep(steps, 'dns', async () => {
      const found = await resolve(host, lookup, deadline.remaining());
      return { value: found, detail: `${host} → ${found.join(', ')}` };
    });
  } else if (net.isIP(host)) {
    addresses = [host];
  }

  let socket: net.Socket;
  let address: string | undefined;
  if (!proxy) {
    ({ socket, address } = await runStep(steps, 'tcp', async () => {
      const connected = await connectDirect(host, addresses!, port, deadline);
      return { value: connected, detail: `connected to ${hostPort(connected.address, port)}`, warnings: plainWarning };
    }));
  } else {
    ({ socket, address } = await runStep(steps, 'proxy', async () => {
      // socks5: try each local address through the proxy; only a refused CONNECT moves on.
      const targets = addresses ?? [undefined];
      let last: unknown;
      for (const target of targets) {
        try {
          const tunnel = await socks5Connect({ proxy, host, port, ...(target ? { address: target } : {}), timeoutMs: deadline.remaining() });
          const auth = tunnel.method === 'username' ? 'user name and password' : 'no authentication';
          const resolvedBy = target ? `${target}, resolved here` : 'name resolved by the proxy';
          return {
            value: { socket: tunnel.socket, address: target },
            detail: `through ${describeProxy(proxy)} (${auth}) to ${hostPort(host, port)} (${resolvedBy})`,
            warnings: plainWarning,
          };
        } catch (err) {
          last = err;
          if (!(err instanceof AppError) || err.code !== 'PROXY_CONNECT_FAILED') throw err;
        }
      }
      throw last;
    }));
  }
  warnings.push(...plainWarning);
  socket.setNoDelay(true);

  if (opts.security !== 'tls') {
    return { socket: guardErrors(socket), secure: false, tls: undefined, via: proxy ? 'socks5' : 'direct', address, steps, warnings };
  }
  try {
    const upgraded = await upgradeToTls(socket, { host, port, tls: opts.tls, timeoutMs: deadline.remaining(), steps });
    warnings.push(...upgraded.tls.warnings);
    return { socket: upgraded.socket, secure: true, tls: upgraded.tls, via: proxy ? 'socks5' : 'direct', address, steps, warnings };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

export interface UpgradeOptions {
  /** The name the certificate must be for (the configured host, not the resolved address). */
  host: string;
  port: number;
  tls?: TlsPolicy | undefined;
  timeoutMs?: number;
  steps?: ConnectionStep[];
}

/**
 * Starts TLS on an open plain socket (after the server accepted STARTTLS/STLS, or right after
 * connect for implicit TLS) and applies the policy; records the `tls` step. Stop reading the
 * plain socket before calling: what it has buffered is handed to TLS.
 */
export async function upgradeToTls(socket: net.Socket, opts: UpgradeOptions): Promise<{ socket: tls.TLSSocket; tls: TlsOutcome }> {
  const policy = opts.tls ?? { verify: 'chain' };
  if (socket.destroyed) throw connectionClosed(opts.host, opts.port, 'before TLS could start');
  return runStep(opts.steps, 'tls', async () => {
    const done = await tlsHandshake(socket, opts.host, opts.port, policy, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    return {
      value: { socket: guardErrors(done.socket), tls: done.outcome },
      detail: tlsDetail(done.outcome),
      warnings: done.outcome.warnings,
      certificate: done.outcome.certificate,
    };
  });
}
