/**
 * SMTP as a MailSender, on nodemailer's SMTPConnection: implicit TLS, STARTTLS (required when
 * configured, never a silent fallback) or plain; AUTH PLAIN/LOGIN; a small pool of connections
 * per sender reused with RSET. The message is streamed and its end held back until
 * `beforeFinal` resolves, so the final "." (RFC 5321 §4.1.1.4) only goes out after the outbox
 * has recorded that the server may now accept it.
 */
import { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SenderSpec } from '../../config/schema.js';
import { AppError, errorMessage } from '../../domain/errors.js';
import type { MailSender, OutgoingMessage, SendHooks, SendResult } from '../mail-sender.js';
import { heloName, openSmtpSocket } from './smtp-transport.js';

export interface SmtpSenderOptions {
  /** The sender's spec with its secrets. */
  spec: SenderSpec;
  /** Connections kept open for reuse (default 2). */
  maxConnections?: number;
  /** Close a pooled connection unused this long (default 60 s). */
  idleMs?: number;
  timeoutMs?: number;
  /** Extra SMTPConnection options (the shared transport: `connection` socket; tests). */
  connectionOptions?: Partial<ConstructorParameters<typeof SMTPConnection>[0]>;
}

/** A failure the outbox can act on: permanent (5xx: give up) or not (4xx, network: retry). */
export class SendError extends AppError {
  constructor(code: string, message: string, readonly permanent: boolean, hint: string, readonly response?: string) {
    super(code, message, { status: 502, hint });
  }
}

interface SmtpErrorLike extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
}

export function classifySmtpError(err: unknown, host: string): SendError {
  if (err instanceof SendError) return err;
  // Our network layer's failures keep their code and hint; none of them is permanent.
  if (err instanceof AppError) return new SendError(err.code, err.message, false, err.hint ?? 'Mailroom retries with backoff.');
  const e = (err ?? {}) as SmtpErrorLike;
  const rc = e.responseCode;
  if (e.code === 'EAUTH') {
    return new SendError('AUTH_FAILED', `The SMTP server ${host} refused the login: ${e.response ?? e.message}`, false, 'Check the sender\'s user name and password; some providers need an app password.', e.response);
  }
  if (e.code === 'ETLS' || /STARTTLS/i.test(e.message) && /not|fail/i.test(e.message)) {
    return new SendError('STARTTLS_NOT_OFFERED', `${host} did not offer STARTTLS: ${e.message}`, false, 'Use security: tls (port 465) if the server speaks implicit TLS, or check the port; Mailroom never falls back to plain text.', e.response);
  }
  if (rc !== undefined && rc >= 500) {
    return new SendError('SMTP_REJECTED', `${host} refused the message: ${e.response ?? e.message}`, true, 'The server gave a permanent answer: check the recipient address and the sender\'s permissions; resending the same will fail again.', e.response);
  }
  if (rc !== undefined && rc >= 400) {
    return new SendError('SMTP_DEFERRED', `${host} deferred the message: ${e.response ?? e.message}`, false, 'A temporary refusal: Mailroom retries with backoff.', e.response);
  }
  const net: Record<string, [string, string]> = {
    ECONNREFUSED: ['TCP_REFUSED', 'Nothing accepts connections on that host and port: check the sender\'s port (465 TLS, 587 STARTTLS, 25).'],
    ENOTFOUND: ['DNS_NOT_FOUND', 'The host name does not resolve: check its spelling.'],
    ETIMEDOUT: ['TCP_TIMEOUT', 'The SMTP server did not answer in time: Mailroom retries with backoff.'],
    ECONNECTION: ['CONNECTION_FAILED', 'The connection to the SMTP server failed or broke: Mailroom retries with backoff.'],
    ESOCKET: ['CONNECTION_FAILED', 'The connection to the SMTP server failed or broke: Mailroom retries with backoff.'],
  };
  const [code, hint] = (e.code ? net[e.code] : undefined) ?? ['SMTP_ERROR', 'Mailroom retries with backoff; run the sender\'s connection test if it persists.'];
  return new SendError(code, `${host}: ${errorMessage(err)}`, false, hint, e.response);
}

/**
 * The connection failed after the final "." went out and before the server answered: the server
 * may have queued the message (RFC 5321 §4.1.1.4: it takes responsibility with its reply, which
 * can be lost on the way back; RFC 1047). Sending it again could deliver it twice, so it is a
 * permanent failure that says so, never retried automatically.
 */
export function deliveryUncertain(err: unknown, host: string): SendError {
  return new SendError(
    'DELIVERY_UNCERTAIN',
    `The connection to ${host} broke after the whole message was sent and before the server confirmed it (${errorMessage(err)}), so it may or may not have been delivered`,
    true,
    'It is not sent again automatically, so that it cannot arrive twice: check with the recipient, then resend if needed.',
  );
}

function promisify<T>(fn: (cb: (err: Error | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

/** The message, with its end held until `beforeFinal` has committed. */
function holdBackEnd(raw: Buffer, hooks: SendHooks): Readable {
  const CHUNK = 64 * 1024;
  let offset = 0;
  let ending = false;
  return new Readable({
    read() {
      if (offset < raw.length) {
        const next = raw.subarray(offset, offset + CHUNK);
        offset += next.length;
        this.push(next);
        return;
      }
      if (ending) return;
      ending = true;
      hooks.beforeFinal().then(
        () => this.push(null),
        (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
}

interface Pooled {
  conn: SMTPConnection;
  timer: NodeJS.Timeout | undefined;
}

export class SmtpSender implements MailSender {
  private readonly idle: Pooled[] = [];
  private open = 0;
  private closed = false;

  constructor(private readonly opts: SmtpSenderOptions) {}

  private async connect(): Promise<SMTPConnection> {
    const { spec } = this.opts;
    const timeout = this.opts.timeoutMs ?? 30_000;
    let conn: SMTPConnection | undefined;
    try {
      const opened = await openSmtpSocket(spec, { timeoutMs: timeout });
      conn = new SMTPConnection({
        host: spec.host,
        port: spec.port,
        // The socket is ours: TLS (implicit or STARTTLS) is done and verified, or it stays plain.
        connection: opened.socket,
        secured: opened.secured,
        ignoreTLS: true,
        greetingTimeout: timeout,
        socketTimeout: 5 * 60_000,
        name: heloName(spec),
        logger: false,
        ...this.opts.connectionOptions,
      });
      conn.on('error', () => undefined);
      const c = conn;
      await new Promise<void>((resolve, reject) => {
        c.once('error', reject);
        c.connect(() => {
          c.removeListener('error', reject);
          resolve();
        });
      });
      if (spec.auth?.password !== undefined) {
        await promisify<void>((cb) => c.login({ user: spec.auth!.user ?? '', pass: spec.auth!.password! }, (err) => cb(err ?? null)));
      }
      return c;
    } catch (err) {
      conn?.close();
      throw classifySmtpError(err, spec.host);
    }
  }

  private async acquire(): Promise<SMTPConnection> {
    const pooled = this.idle.pop();
    if (pooled) {
      clearTimeout(pooled.timer);
      return pooled.conn;
    }
    this.open++;
    try {
      return await this.connect();
    } catch (err) {
      this.open--;
      throw err;
    }
  }

  private release(conn: SMTPConnection, reusable: boolean): void {
    if (!reusable || this.closed || this.idle.length >= (this.opts.maxConnections ?? 2)) {
      this.open--;
      conn.quit();
      return;
    }
    const entry: Pooled = { conn, timer: undefined };
    entry.timer = setTimeout(() => {
      const i = this.idle.indexOf(entry);
      if (i >= 0) this.idle.splice(i, 1);
      this.open--;
      conn.quit();
    }, this.opts.idleMs ?? 60_000);
    entry.timer.unref();
    this.idle.push(entry);
  }

  async send(message: OutgoingMessage, hooks: SendHooks): Promise<SendResult> {
    const conn = await this.acquire();
    let reusable = false;
    // Set once the final "." may be on its way: from then on the server may have accepted it.
    let final = false;
    const marked: SendHooks = {
      beforeFinal: async () => {
        await hooks.beforeFinal();
        final = true;
      },
    };
    try {
      const info = await promisify<{ accepted: string[]; rejected: string[]; response: string }>((cb) =>
        conn.send({ from: message.from, to: message.to }, holdBackEnd(message.raw, marked), (err, info) => cb(err ?? null, info as never)),
      );
      reusable = true;
      await promisify<void>((cb) => conn.reset((err) => cb(err ?? null))).catch(() => (reusable = false));
      return { accepted: info.accepted.map(String), rejected: info.rejected.map(String), response: info.response };
    } catch (err) {
      if (final && (err as SmtpErrorLike).responseCode === undefined) throw deliveryUncertain(err, this.opts.spec.host);
      throw classifySmtpError(err, this.opts.spec.host);
    } finally {
      this.release(conn, reusable);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.idle.splice(0)) {
      clearTimeout(p.timer);
      p.conn.quit();
    }
  }
}
