/**
 * Fetches a URL on a user's behalf without letting them reach what the server can but they
 * should not (SSRF): http(s) only; every address the name resolves to must be public, and the
 * connection goes to the address that was checked (a custom `lookup`), so DNS rebinding cannot
 * swap it; redirects are followed by hand and checked again; size and time are bounded.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { AppError } from '../../domain/errors.js';
import { isPublicAddress } from './address-policy.js';

export interface SafeFetchOptions {
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  /** Which resolved addresses may be reached (default: public unicast only). */
  allowAddress?: (address: string) => boolean;
  /** DNS (injectable for tests). */
  lookup?: (host: string) => Promise<{ address: string; family: number }[]>;
}

export interface FetchedBody {
  status: number;
  contentType: string;
  body: Buffer;
  finalUrl: string;
}

const forbidden = (what: string) =>
  new AppError('ADDRESS_FORBIDDEN', `Refused: ${what} is not a public internet address`, {
    status: 403,
    hint: 'Images are only fetched from public internet hosts; this one points inside a network.',
  });

const defaultLookup = async (host: string) => dns.promises.lookup(host, { all: true, verbatim: true });

function parse(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('URL_INVALID', 'That is not a URL', { status: 400, hint: 'Pass an absolute http(s) URL.' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AppError('URL_INVALID', `Only http and https are fetched, not ${url.protocol}`, { status: 400, hint: 'Pass an http(s) URL.' });
  if (url.username || url.password) throw new AppError('URL_INVALID', 'URLs with credentials are not fetched', { status: 400, hint: 'Remove the user:password@ part.' });
  return url;
}

/** One request; resolves the response head and body stream, or rejects with an AppError. */
function request(url: URL, opts: SafeFetchOptions, allow: (a: string) => boolean): Promise<http.IncomingMessage> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host) && !allow(host)) return Promise.reject(forbidden(host));
  const lookup = opts.lookup ?? defaultLookup;
  const checkedLookup: net.LookupFunction = (hostname, options, cb) => {
    lookup(hostname).then(
      (addrs) => {
        const bad = addrs.find((a) => !allow(a.address));
        if (addrs.length === 0) return cb(new AppError('DNS_NOT_FOUND', `${hostname} does not resolve`, { status: 502, hint: 'The image host does not exist.' }), '', 4);
        // Every address must be public: a name that resolves to both is a rebinding attempt.
        if (bad) return cb(forbidden(`${hostname} (${bad.address})`), '', 4);
        const first = addrs[0]!;
        if ((options as { all?: boolean }).all) return (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, addrs);
        cb(null, first.address, first.family);
      },
      (err: Error) => cb(Object.assign(new AppError('DNS_NOT_FOUND', `${hostname} does not resolve`, { status: 502, hint: 'The image host does not exist.' }), { cause: err }), '', 4),
    );
  };
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { lookup: checkedLookup, timeout: opts.timeoutMs, headers: { 'user-agent': 'Mailroom image proxy', accept: 'image/*' }, agent: false }, resolve);
    req.on('timeout', () => req.destroy(new AppError('FETCH_TIMEOUT', `${url.host} did not answer within ${opts.timeoutMs / 1000} s`, { status: 504, hint: 'The image host is slow or down.' })));
    req.on('error', (err) => reject(err instanceof AppError ? err : new AppError('FETCH_FAILED', `Could not fetch from ${url.host}: ${err.message}`, { status: 502, hint: 'The image host refused or broke the connection.' })));
  });
}

export async function safeFetch(raw: string, opts: SafeFetchOptions): Promise<FetchedBody> {
  const allow = opts.allowAddress ?? isPublicAddress;
  let url = parse(raw);
  const deadline = Date.now() + opts.timeoutMs;
  for (let hop = 0; ; hop++) {
    const res = await request(url, { ...opts, timeoutMs: Math.max(1, deadline - Date.now()) }, allow);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= opts.maxRedirects) throw new AppError('TOO_MANY_REDIRECTS', 'The image redirects too often', { status: 502, hint: 'The link is broken.' });
      url = parse(new URL(res.headers.location, url).href);
      continue;
    }
    const declared = Number(res.headers['content-length'] ?? 0);
    if (declared > opts.maxBytes) {
      res.destroy();
      throw new AppError('TOO_LARGE', `The image is larger than ${Math.round(opts.maxBytes / 2 ** 20)} MB`, { status: 413, hint: 'Open it in the sender\'s own page instead.' });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    await new Promise<void>((resolve, reject) => {
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > opts.maxBytes) {
          res.destroy();
          reject(new AppError('TOO_LARGE', `The image is larger than ${Math.round(opts.maxBytes / 2 ** 20)} MB`, { status: 413, hint: 'Open it in the sender\'s own page instead.' }));
        } else chunks.push(c);
      });
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    return { status, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks), finalUrl: url.href };
  }
}
