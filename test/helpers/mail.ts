/** Raw test emails and a direct IMAP look at a Dovecot mailbox (what the server holds, flags). */
import { createHash, randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';

export interface TestMail {
  from?: string;
  to?: string;
  subject?: string;
  body?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string[];
  headers?: Record<string, string>;
}

/** An RFC 5322 message with CRLF line ends and a unique Message-ID. */
export function rawMail(m: TestMail = {}): Buffer {
  const id = m.messageId ?? `${randomBytes(8).toString('hex')}@customer.example`;
  const lines = [
    `From: ${m.from ?? 'Carla Customer <carla@customer.example>'}`,
    `To: ${m.to ?? 'support@example.com'}`,
    `Subject: ${m.subject ?? 'Help with my invoice'}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${id}>`,
    ...(m.inReplyTo ? [`In-Reply-To: <${m.inReplyTo}>`] : []),
    ...(m.references?.length ? [`References: ${m.references.map((r) => `<${r}>`).join(' ')}`] : []),
    ...Object.entries(m.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    m.body ?? `Hello, I was charged twice for invoice ${randomBytes(3).toString('hex')}. Please help.`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}

export const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Opens an IMAP session to look at the server's side of things. */
export async function imapPeek(host: string, port: number, user: string, pass: string): Promise<ImapFlow> {
  const c = new ImapFlow({ host, port, secure: false, auth: { user, pass }, logger: false, doSTARTTLS: false });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** UID → flags of every message in a folder. */
export async function flagsOf(c: ImapFlow, folder: string): Promise<Map<number, Set<string>>> {
  const lock = await c.getMailboxLock(folder);
  try {
    // A FETCH may not carry the EXPUNGE of a message another session moved or deleted after this
    // one selected the folder (RFC 3501 §7.4.1): a NOOP first brings this session up to date.
    await c.noop();
    const out = new Map<number, Set<string>>();
    for (const m of await c.fetchAll('1:*', { uid: true, flags: true }, { uid: false }).catch(() => [])) out.set(m.uid, m.flags ?? new Set());
    return out;
  } finally {
    lock.release();
  }
}

/** Polls `fn` until it returns a truthy value (or throws after `ms`): for "eventually" checks. */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, ms = 15_000, what = 'the condition'): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
