/**
 * SOCKS5 proxy settings: `socks5://[user:password@]host:port` (the name is resolved here, then
 * the proxy is given the address) or `socks5h://…` (the proxy resolves the name: use it when
 * the mail server's name only resolves on the proxy's side), as curl reads them. The effective
 * proxy of a connection comes from its own setting (`inherit | none | URL`) and the global one.
 */
import { AppError } from '../../domain/errors.js';
import { hostPort } from './net-errors.js';

export interface ProxyConfig {
  /** `socks5h` when the proxy resolves the target name (RFC 1928 ATYP 3, domain name). */
  protocol: 'socks5' | 'socks5h';
  host: string;
  port: number;
  /** RFC 1929 credentials, percent-decoded. */
  username?: string;
  password?: string;
}

/** A connection's proxy setting, as in the config file. */
export type ProxySetting = 'inherit' | 'none' | string;

const invalid = (url: string, why: string): AppError =>
  new AppError('PROXY_URL_INVALID', `The proxy setting "${redactUrl(url)}" is not valid: ${why}`, {
    status: 400,
    hint: 'Write it as socks5://host:port or socks5://user:password@host:port (percent-encode special characters, e.g. @ as %40).',
  });

function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:@/]*:)[^@/]*@/, '$1********@');
}

function decode(part: string, url: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(url, `the ${what} has a broken percent-encoding`);
  }
}

/** Parses a proxy URL; throws PROXY_URL_INVALID (400) with what is wrong. */
export function parseProxyUrl(url: string): ProxyConfig {
  // Parsed by hand: WHATWG URL treats socks5: as an opaque scheme and keeps brackets and case.
  const m = /^(socks5h?):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?(\[[0-9A-Fa-f:.]+\]|[^:@/[\]\s]+):(\d{1,5})\/?$/.exec(url.trim());
  if (!m) throw invalid(url, 'expected socks5://[user:password@]host:port');
  const [, scheme, user, pass, rawHost, rawPort] = m;
  const port = Number(rawPort);
  if (port < 1 || port > 65535) throw invalid(url, `port ${rawPort} is out of range`);
  const host = rawHost!.startsWith('[') ? rawHost!.slice(1, -1) : rawHost!;
  const config: ProxyConfig = { protocol: scheme as ProxyConfig['protocol'], host, port };
  if (user !== undefined) {
    const username = decode(user, url, 'user name');
    const password = decode(pass ?? '', url, 'password');
    // RFC 1929 §2: ULEN and PLEN are one byte each.
    if (Buffer.byteLength(username) > 255 || Buffer.byteLength(password) > 255) {
      throw invalid(url, 'the user name and password are limited to 255 bytes each (RFC 1929)');
    }
    if (username.length === 0) throw invalid(url, 'the user name is empty');
    config.username = username;
    config.password = password;
  }
  return config;
}

/**
 * The proxy a connection uses: its own URL, none, or (`inherit`, the default) the global one.
 * Returns undefined for a direct connection.
 */
export function resolveProxy(setting: ProxySetting | undefined, globalDefault: string | undefined | null): ProxyConfig | undefined {
  const own = setting ?? 'inherit';
  if (own === 'none') return undefined;
  if (own === 'inherit') return globalDefault ? parseProxyUrl(globalDefault) : undefined;
  return parseProxyUrl(own);
}

/** `socks5://user:********@host:port`: for logs, details and the connection log. */
export function describeProxy(proxy: ProxyConfig): string {
  const creds = proxy.username !== undefined ? `${encodeURIComponent(proxy.username)}:********@` : '';
  return `${proxy.protocol}://${creds}${hostPort(proxy.host, proxy.port)}`;
}
