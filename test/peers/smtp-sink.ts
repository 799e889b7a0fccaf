/**
 * A real SMTP server (npm `smtp-server`) that records every message it accepts: envelope, raw
 * bytes, whether the session was over TLS and who authenticated. Hooks answer MAIL FROM, RCPT
 * TO or DATA with a chosen 4xx/5xx (or after a delay) to test retries and failures.
 */
import { randomUUID } from 'node:crypto';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { TestCert } from './certs.js';
import { getFreePort } from './ports.js';

export interface SinkMessage {
  id: string;
  sessionId: string;
  /** MAIL FROM address ('' for the null sender). */
  from: string;
  /** RCPT TO addresses, in order. */
  to: string[];
  /** The message bytes exactly as received after DATA (dot-unstuffed by smtp-server). */
  raw: Buffer;
  /** Whether the session was over TLS (implicit or after STARTTLS) when DATA ended. */
  secure: boolean;
  /** The user that authenticated, if any. */
  user: string | undefined;
  receivedAt: Date;
}

/** A reply that refuses a command: `code` 4xx (temporary) or 5xx (permanent). */
export interface SinkReply {
  code: number;
  message: string;
}

type Hook<T> = (arg: T, session: SMTPServerSession) => SinkReply | undefined | Promise<SinkReply | undefined>;

export interface SmtpSinkOptions {
  /** `implicit` (TLS from the first byte), `starttls` (offered on a plain port), or `none`. */
  tls?: 'implicit' | 'starttls' | 'none';
  /** Certificate for `implicit`/`starttls`. */
  cert?: Pick<TestCert, 'cert' | 'key'>;
  /** AUTH PLAIN/LOGIN with these accounts; `required` refuses MAIL FROM before AUTH. */
  auth?: { users: Array<{ user: string; password: string }>; required?: boolean };
  /** Answer MAIL FROM with an error. */
  onMailFrom?: Hook<string>;
  /** Answer one RCPT TO with an error. */
  onRcpt?: Hook<string>;
  /** Answer the end of DATA with an error (the message is then not recorded). */
  onData?: Hook<{ from: string; to: string[]; raw: Buffer }>;
}

export interface SmtpSink {
  host: string;
  port: number;
  /** Accepted messages, in order. */
  messages: SinkMessage[];
  /** Connections seen, and authentication attempts that failed. */
  stats: { connections: number; authFailures: number; rejected: number };
  /** Resolves with the first accepted message (past or future) matching; rejects after `timeoutMs`. */
  waitFor(predicate?: (m: SinkMessage) => boolean, timeoutMs?: number): Promise<SinkMessage>;
  stop(): Promise<void>;
}

function refusal(reply: SinkReply): Error {
  const err = new Error(reply.message) as Error & { responseCode: number };
  err.responseCode = reply.code;
  return err;
}

/** Starts the sink on a free port of 127.0.0.1. */
export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const mode = opts.tls ?? 'none';
  if (mode !== 'none' && !opts.cert) throw new Error(`smtp sink: tls ${mode} needs a cert`);
  const messages: SinkMessage[] = [];
  const stats = { connections: 0, authFailures: 0, rejected: 0 };
  let waiters: Array<{ match: (m: SinkMessage) => boolean; resolve: (m: SinkMessage) => void }> = [];
  const disabled: string[] = [];
  if (mode === 'none') disabled.push('STARTTLS');
  if (!opts.auth) disabled.push('AUTH');

  const run = async <T>(hook: Hook<T> | undefined, arg: T, session: SMTPServerSession, cb: (err?: Error | null) => void) => {
    try {
      const reply = hook ? await hook(arg, session) : undefined;
      if (reply) stats.rejected++;
      cb(reply ? refusal(reply) : null);
    } catch (err) {
      cb(err as Error);
    }
  };

  const options: SMTPServerOptions = {
    secure: mode === 'implicit',
    ...(opts.cert ? { key: opts.cert.key, cert: opts.cert.cert } : {}),
    disabledCommands: disabled,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !opts.auth?.required,
    // Tests also cover AUTH over a plain connection (security: none), which the RFC allows.
    allowInsecureAuth: true,
    logger: false,
    // close() waits this long for open sessions, then answers them 421 and closes.
    closeTimeout: 200,
    size: 100 * 1024 * 1024,
    onConnect(_session, cb) {
      stats.connections++;
      cb();
    },
    onAuth(auth, _session, cb) {
      const ok = opts.auth?.users.some((u) => u.user === auth.username && u.password === auth.password);
      if (!ok) {
        stats.authFailures++;
        cb(refusal({ code: 535, message: '5.7.8 Authentication credentials invalid' }));
        return;
      }
      cb(null, { user: auth.username });
    },
    onMailFrom(address, session, cb) {
      void run(opts.onMailFrom, address.address, session, cb);
    },
    onRcptTo(address, session, cb) {
      void run(opts.onRcpt, address.address, session, cb);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const to = session.envelope.rcptTo.map((r) => r.address);
        void run(opts.onData, { from, to, raw }, session, (err) => {
          if (err) return cb(err);
          const message: SinkMessage = {
            id: randomUUID(),
            sessionId: session.id,
            from,
            to,
            raw,
            secure: session.secure,
            user: session.user,
            receivedAt: new Date(),
          };
          messages.push(message);
          waiters = waiters.filter((w) => {
            if (!w.match(message)) return true;
            w.resolve(message);
            return false;
          });
          cb(null, `Ok: queued as ${message.id}`);
        });
      });
    },
  };
  const server = new SMTPServer(options);
  server.on('error', () => undefined);
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await getFreePort();
    try {
      await new Promise<void>((resolve, reject) => {
        server.server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.server.off('error', reject);
          resolve();
        });
      });
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }

  return {
    host: '127.0.0.1',
    port,
    messages,
    stats,
    waitFor(predicate = () => true, timeoutMs = 10_000) {
      const seen = messages.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w.resolve !== done);
          reject(new Error(`smtp sink: no matching message within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        const done = (m: SinkMessage) => {
          clearTimeout(timer);
          resolve(m);
        };
        waiters.push({ match: predicate, resolve: done });
      });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}
