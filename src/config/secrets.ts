/**
 * Which parts of a spec are secrets, and how they are split off before storing (the stored and
 * exported spec holds "********" in their place) and put back for the code that connects.
 */
import { REDACTED } from './schema.js';

export type SecretMap = Record<string, string>;

const PROXY_WITH_PASSWORD = /^(socks5h?:\/\/[^:@/\s]+):([^@/\s]*)@(.+)$/;

function splitProxy(url: string): { url: string; password: string | undefined } {
  const m = PROXY_WITH_PASSWORD.exec(url);
  if (!m || m[2] === '') return { url, password: undefined };
  return { url: `${m[1]}:${REDACTED}@${m[3]}`, password: decodeURIComponent(m[2]!) };
}

/** Replaces `********` in a proxy URL by the real password (percent-encoded as a URL needs). */
export function joinProxy(url: string, password: string | undefined): string {
  const m = PROXY_WITH_PASSWORD.exec(url);
  if (!m || password === undefined) return url;
  return `${m[1]}:${encodeURIComponent(password)}@${m[3]}`;
}

interface WithAuthAndProxy {
  auth?: { password?: string | undefined } | undefined;
  proxy?: string | undefined;
}

/**
 * Splits secrets off a sender's or mailbox's spec (or the global proxy, as `{ proxy }`).
 * Values may be `********`: the caller then keeps what is stored.
 */
export function splitSecrets<T extends WithAuthAndProxy>(spec: T): { spec: T; secrets: SecretMap } {
  const secrets: SecretMap = {};
  const out = structuredClone(spec);
  if (out.auth?.password !== undefined) {
    secrets['auth.password'] = out.auth.password;
    out.auth.password = REDACTED;
  }
  if (typeof out.proxy === 'string') {
    const p = splitProxy(out.proxy);
    if (p.password !== undefined) {
      secrets['proxy.password'] = p.password;
      out.proxy = p.url;
    }
  }
  return { spec: out, secrets };
}

/** The reverse of `splitSecrets`: the spec as the connectors need it. */
export function joinSecrets<T extends WithAuthAndProxy>(spec: T, secrets: SecretMap): T {
  const out = structuredClone(spec);
  if (out.auth && secrets['auth.password'] !== undefined) out.auth.password = secrets['auth.password'];
  if (typeof out.proxy === 'string') out.proxy = joinProxy(out.proxy, secrets['proxy.password']);
  return out;
}

/** JSON with keys sorted at every level and `undefined` dropped: equal specs give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

/** Top-level keys whose values differ between two specs (for the diff an admin reads). */
export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => canonicalJson(before[k]) !== canonicalJson(after[k])).sort();
}
