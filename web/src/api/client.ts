/**
 * The typed client of Mailroom's API for the web app. Cookie session + the CSRF token in
 * X-CSRF-Token on every state-changing request (API.md "Authentication").
 */
import type { Page } from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/**
 * Server clock minus this browser's clock, in ms. Offer deadlines are the server's times; an
 * agent's PC that is a minute off would otherwise show a countdown that lies. Learnt from the
 * `Date` header (whole seconds, so differences under 2 s are treated as none).
 */
let skewMs = 0;

export function serverNow(): number {
  return Date.now() + skewMs;
}

function learnSkew(res: Response, sentAt: number): void {
  const date = Date.parse(res.headers.get('date') ?? '');
  if (Number.isNaN(date)) return;
  const local = (sentAt + Date.now()) / 2;
  // The header is truncated to the second: its middle is half a second later.
  const skew = date + 500 - local;
  skewMs = Math.abs(skew) < 2000 ? 0 : skew;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const sentAt = Date.now();
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The server could not be reached', 'Check your connection; Mailroom retries live updates by itself.');
  }
  learnSkew(res, sentAt);
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string; hint?: string; details?: { path: string; message: string }[] } };
  if (!res.ok) {
    const e = data.error;
    throw new ApiError(res.status, e?.code ?? 'HTTP_ERROR', e?.message ?? `The server answered ${res.status}`, e?.hint, e?.details);
  }
  return data as T;
}

/** Every item of a paged list, following `nextCursor` up to `maxPages` pages. */
export async function listAll<T>(path: string, maxPages = 10): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  const sep = path.includes('?') ? '&' : '?';
  for (let i = 0; i < maxPages; i++) {
    const page = await api<Page<T>>('GET', `${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...page.items);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return out;
}

/** An error as one line for the screen: the server's message and what to do. */
export function describeError(err: unknown): { message: string; hint?: string } {
  if (err instanceof ApiError) return { message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  return { message: 'Something went wrong', hint: 'Try again; if it keeps failing, reload the page.' };
}
