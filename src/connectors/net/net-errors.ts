/**
 * The failures of opening a mail connection, as AppErrors with stable codes (API.md
 * "Connection test steps") and hints in plain words. IMAP, POP3 and SMTP all report through
 * these, so a wrong port reads the same whatever the protocol.
 *
 * HTTP status: 502 (the server behind us failed), 504 for timeouts, 400 for a bad setting.
 */
import { AppError } from '../../domain/errors.js';

/** `host:port`, with brackets around an IPv6 literal. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function netError(code: string, message: string, hint: string, cause?: unknown, status = 502): AppError {
  return new AppError(code, message, { status, hint, ...(cause === undefined ? {} : { cause }) });
}

export const dnsNotFound = (host: string, cause?: unknown): AppError =>
  netError(
    'DNS_NOT_FOUND',
    `The name ${host} does not resolve to an address`,
    `Check the spelling of the host name "${host}". If the name only resolves inside a network reached through the proxy, use socks5h:// so the proxy resolves it.`,
    cause,
  );

export const dnsFailed = (host: string, detail: string, cause?: unknown): AppError =>
  netError(
    'DNS_FAILED',
    `Looking up ${host} failed: ${detail}`,
    'The DNS server of this machine did not answer: check its network and /etc/resolv.conf, or try again.',
    cause,
  );

export const tcpRefused = (host: string, port: number, cause?: unknown): AppError =>
  netError(
    'TCP_REFUSED',
    `Nothing accepts connections on ${hostPort(host, port)} (connection refused)`,
    `Check the port (IMAP 993/143, POP3 995/110, SMTP 465/587/25) and that the server is running and reachable from this machine.`,
    cause,
  );

export const tcpTimeout = (host: string, port: number, ms: number, cause?: unknown): AppError =>
  netError(
    'TCP_TIMEOUT',
    `No answer from ${hostPort(host, port)} within ${Math.round(ms / 1000)} s`,
    'A firewall may be dropping the connection, or the host is down. Check the host and port, and whether this machine needs a proxy to reach it.',
    cause,
    504,
  );

export const tcpUnreachable = (host: string, port: number, detail: string, cause?: unknown): AppError =>
  netError(
    'TCP_UNREACHABLE',
    `${hostPort(host, port)} cannot be reached (${detail})`,
    'This machine has no route to that address: check the host name, the network, or whether a proxy is needed.',
    cause,
  );

export const tcpFailed = (host: string, port: number, detail: string, cause?: unknown): AppError =>
  netError('TCP_FAILED', `Connecting to ${hostPort(host, port)} failed: ${detail}`, 'Check the host, the port and the network, then try again.', cause);

export const proxyRefused = (proxy: string, detail: string, cause?: unknown): AppError =>
  netError(
    'PROXY_REFUSED',
    `The proxy ${proxy} cannot be reached (${detail})`,
    'Check the proxy address and port and that the proxy is running; or set proxy: none if this connection does not need one.',
    cause,
  );

export const proxyTimeout = (proxy: string, phase: string, ms: number, cause?: unknown): AppError =>
  netError(
    'PROXY_TIMEOUT',
    `The proxy ${proxy} did not answer within ${Math.round(ms / 1000)} s (${phase})`,
    'The proxy is overloaded, or a firewall drops the connection to it. Check the proxy and try again.',
    cause,
    504,
  );

export const proxyAuthFailed = (proxy: string, detail: string, hint?: string): AppError =>
  netError(
    'PROXY_AUTH_FAILED',
    `The proxy ${proxy} refused the connection: ${detail}`,
    hint ?? 'The proxy refused the user name or password: check them in the proxy URL (socks5://user:password@host:port).',
  );

export const proxyProtocolError = (proxy: string, detail: string): AppError =>
  netError(
    'PROXY_PROTOCOL_ERROR',
    `${proxy} did not answer as a SOCKS5 proxy: ${detail}`,
    'Check that this address and port belong to a SOCKS5 proxy (not an HTTP proxy or another service).',
  );

export const tlsTimeout = (host: string, port: number, ms: number): AppError =>
  netError(
    'TLS_TIMEOUT',
    `The TLS handshake with ${hostPort(host, port)} did not finish within ${Math.round(ms / 1000)} s`,
    'The port may not speak TLS: check the security setting (tls for 993/995/465, starttls for 143/110/587).',
    undefined,
    504,
  );

export const starttlsNotOffered = (host: string, port: number, protocol: string): AppError =>
  netError(
    'STARTTLS_NOT_OFFERED',
    `The ${protocol} server at ${hostPort(host, port)} does not offer STARTTLS`,
    'Mailroom never falls back to plain text when STARTTLS is configured. Use the implicit TLS port (security: tls), enable TLS on the server, or, on a trusted network only, set security: none.',
  );

export const connectionClosed = (host: string, port: number, phase: string): AppError =>
  netError(
    'CONNECTION_CLOSED',
    `${hostPort(host, port)} closed the connection ${phase}`,
    'The server may limit connections per user or address, or reject this client. Check its log and the connection limits.',
  );
