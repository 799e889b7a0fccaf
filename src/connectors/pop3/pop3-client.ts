/**
 * A POP3 client of our own: RFC 1939 (USER/PASS, APOP, STAT, UIDL, LIST, RETR, DELE, RSET,
 * NOOP, QUIT), RFC 2449 (CAPA, response codes) and RFC 2595 (STLS). Connections are opened by
 * the shared network layer (DNS, TCP or SOCKS5, implicit TLS, the TLS policy); STLS is finished
 * by `upgradeToTls` under the same policy, and `security: starttls` never falls back to plain.
 *
 * One command at a time (no pipelining): commands queue behind each other. A message body is
 * decoded as it arrives and handed on in pieces, so the client never holds a whole message
 * unless the caller collects one (`retr`). Any broken answer, silence longer than `timeoutMs`
 * or a close while an answer is due ends the session with a classified AppError.
 */
import { createHash } from 'node:crypto';
import type net from 'node:net';
import { AppError } from '../../domain/errors.js';
import { runStep, type ConnectionStep } from '../net/connection-steps.js';
import { DEFAULT_TIMEOUT_MS, openConnection, upgradeToTls, type LookupFn, type Security } from '../net/connect.js';
import { starttlsNotOffered } from '../net/net-errors.js';
import type { ProxyConfig } from '../net/proxy-url.js';
import type { TlsOutcome, TlsPolicy } from '../net/tls-policy.js';
import { classifyPop3Error, pop3ConnectionLost, pop3GreetingRefused, pop3ProtocolError, pop3ResponseError, type Pop3ErrorContext } from './pop3-errors.js';
import { printable, type Pop3Status } from './pop3-reader.js';
import { Pop3Transport } from './pop3-transport.js';

/** Where and how to connect (the network layer's options). */
export interface Pop3ClientOptions {
  host: string;
  port: number;
  /** `tls`: pop3s (implicit TLS, RFC 8314 §3); `starttls`: STLS required; `none`: never STLS, even if offered. */
  security: Security;
  tls?: TlsPolicy;
  /** The effective proxy (`resolveProxy`), or undefined for a direct connection. */
  proxy?: ProxyConfig;
  /** Budget to open the connection, and the longest silence while an answer is due (default 30 s). */
  timeoutMs?: number;
  /** Connection-test steps: `dns`, `tcp`/`proxy` and `tls` are appended here. */
  steps?: ConnectionStep[];
  lookup?: LookupFn;
}

/** RFC 2449 capabilities: keyword (upper case) → its arguments. */
export type Pop3Capabilities = Map<string, string[]>;

/** How to sign in: USER/PASS or APOP (RFC 1939 §7). */
export type Pop3AuthMethod = 'user' | 'apop';

/** A UIDL listing (`msg` is the session's message number). */
export interface Pop3Uidl {
  msg: number;
  uidl: string;
}

/** A LIST listing: the size in octets as the server sends it (CRLF line endings). */
export interface Pop3Size {
  msg: number;
  size: number;
}

/** Listings (CAPA, UIDL, LIST) are collected whole; beyond this the server is not talking POP3. */
const MAX_LISTING = 64 * 1024 * 1024;

/** RFC 1939 §7 APOP: MD5 over the greeting's timestamp followed by the shared secret, in hex. */
export function apopDigest(timestamp: string, password: string): string {
  return createHash('md5').update(Buffer.from(timestamp + password, 'utf8')).digest('hex');
}

/** The APOP timestamp (`<…>`, RFC 1939 §7) of a greeting, if it has one. */
export function apopTimestamp(greetingText: string): string | undefined {
  const all = greetingText.match(/<[^<>\s]+>/g);
  return all?.at(-1);
}

/** Parses a CAPA listing (RFC 2449 §5): one capability per line, keyword then arguments. */
export function parseCapabilities(lines: string[]): Pop3Capabilities {
  const caps: Pop3Capabilities = new Map();
  for (const line of lines) {
    const [keyword, ...args] = line.trim().split(/\s+/);
    if (keyword) caps.set(keyword.toUpperCase(), args);
  }
  return caps;
}

/** One POP3 session: open with `Pop3Client.connect`, end with `quit()` (applies DELEs) or `destroy()`. */
export class Pop3Client {
  /** The greeting's text (after +OK). */
  greeting = '';
  /** The greeting's APOP timestamp (RFC 1939 §7), if any. */
  apopTimestamp: string | undefined;
  /** From CAPA (again after STLS, RFC 2595 §4); empty when the server has no CAPA. */
  capabilities: Pop3Capabilities = new Map();
  /** The certificate and how it was accepted, when the session runs over TLS. */
  tls: TlsOutcome | undefined;
  /** Warnings of the network layer (security: none, tls.verify: none, expiring certificate). */
  readonly warnings: string[];

  private readonly wire: Pop3Transport;
  private queue: Promise<unknown> = Promise.resolve();
  private quitting = false;
  private readonly ctx: Pop3ErrorContext;
  private readonly timeoutMs: number;

  private constructor(socket: net.Socket, private readonly opts: Pop3ClientOptions, warnings: string[], tls: TlsOutcome | undefined) {
    this.warnings = warnings;
    this.tls = tls;
    this.ctx = { host: opts.host, port: opts.port };
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.wire = new Pop3Transport(socket, this.ctx, this.timeoutMs);
  }

  /**
   * Connects, reads the greeting, asks CAPA, and for `security: starttls` runs STLS
   * (STARTTLS_NOT_OFFERED when the server does not offer it, recorded as a failed `tls` step).
   */
  static async connect(opts: Pop3ClientOptions): Promise<Pop3Client> {
    const conn = await openConnection({ ...opts, timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS });
    const client = new Pop3Client(conn.socket, opts, [...conn.warnings], conn.tls);
    try {
      const status = await client.wire.readStatus('waiting for the greeting');
      if (!status.ok) throw pop3GreetingRefused(client.ctx, status);
      client.greeting = status.text;
      client.apopTimestamp = apopTimestamp(status.text);
      client.capabilities = await client.capa();
      if (opts.security === 'starttls') await client.startTls();
      return client;
    } catch (err) {
      client.destroy();
      throw classifyPop3Error(err, client.ctx);
    }
  }

  /** Whether commands can still be sent (not failed, not quit). */
  get usable(): boolean {
    return this.wire.failure === undefined && !this.quitting;
  }

  /** Whether the session runs over TLS (implicit or STLS). */
  get secure(): boolean {
    return this.tls !== undefined;
  }

  /** RFC 2449 CAPA; an empty map when the server answers -ERR (it predates CAPA). */
  capa(): Promise<Pop3Capabilities> {
    return this.exclusive(async () => {
      const status = await this.command('CAPA');
      if (!status.ok) return new Map();
      return parseCapabilities(await this.wire.readLines('reading the CAPA list', MAX_LISTING));
    });
  }

  /** Signs in: USER/PASS (RFC 1939 §7) or APOP (needs a timestamp in the greeting). */
  login(user: string, password: string, method: Pop3AuthMethod = 'user'): Promise<void> {
    return this.exclusive(async () => {
      if (/[\r\n]/.test(user + password)) {
        throw new AppError('AUTH_FAILED', 'The user name or password contains a line break', { status: 400, hint: 'Remove the line break from the mailbox credentials.' });
      }
      if (method === 'apop') {
        if (!this.apopTimestamp) {
          throw new AppError('APOP_NOT_OFFERED', `The POP3 server at ${this.opts.host} offers no APOP (its greeting has no timestamp)`, {
            status: 502,
            hint: 'Sign in with USER/PASS instead, over TLS (security: tls or starttls).',
          });
        }
        const status = await this.command(`APOP ${user} ${apopDigest(this.apopTimestamp, password)}`, `APOP ${user} ********`);
        if (!status.ok) throw pop3ResponseError(`APOP ${user}`, status, this.ctx);
        return;
      }
      const u = await this.command(`USER ${user}`);
      if (!u.ok) throw pop3ResponseError(`USER ${user}`, u, this.ctx);
      const p = await this.command(`PASS ${password}`, 'PASS ********');
      if (!p.ok) throw pop3ResponseError('PASS', p, this.ctx);
    });
  }

  /** STAT: messages in the maildrop and their total size (deleted ones excluded). */
  stat(): Promise<{ count: number; size: number }> {
    return this.exclusive(async () => {
      const text = await this.ok('STAT');
      const m = /^(\d+)\s+(\d+)/.exec(text);
      if (!m) throw pop3ProtocolError(this.ctx, `STAT answered "+OK ${printable(text, 80)}"`, 'to STAT');
      return { count: Number(m[1]), size: Number(m[2]) };
    });
  }

  /** UIDL without an argument: every message's unique id, in message-number order. */
  uidlAll(): Promise<Pop3Uidl[]> {
    return this.exclusive(async () => {
      await this.ok('UIDL');
      return (await this.wire.readLines('reading the UIDL list', MAX_LISTING)).map((line) => {
        const [msg, uidl] = this.pair(line, 'UIDL');
        return { msg, uidl };
      });
    });
  }

  /** UIDL of one message. */
  uidl(msg: number): Promise<string> {
    return this.exclusive(async () => this.pair(await this.ok(`UIDL ${msg}`), 'UIDL')[1]);
  }

  /** LIST without an argument: every message's size. */
  listAll(): Promise<Pop3Size[]> {
    return this.exclusive(async () => {
      await this.ok('LIST');
      return (await this.wire.readLines('reading the LIST list', MAX_LISTING)).map((line) => this.sizeOf(line));
    });
  }

  /** LIST of one message: its size in octets. */
  list(msg: number): Promise<number> {
    return this.exclusive(async () => this.sizeOf(await this.ok(`LIST ${msg}`)).size);
  }

  /**
   * RETR, streamed: `onChunk` gets the message bytes as they arrive, dot-unstuffed and
   * otherwise exact (views into socket buffers: copy what you keep). Resolves with the size.
   * If `onChunk` throws, the session ends (the rest of the message cannot be skipped safely).
   */
  retrStream(msg: number, onChunk: (chunk: Buffer) => void): Promise<number> {
    return this.exclusive(async () => {
      await this.ok(`RETR ${msg}`);
      return this.wire.readBody(`receiving message ${msg} (RETR)`, Number.POSITIVE_INFINITY, onChunk);
    });
  }

  /** RETR, collected into one Buffer: the message exactly as stored (RFC 1939 §3 unstuffed). */
  async retr(msg: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    const size = await this.retrStream(msg, (chunk) => parts.push(chunk));
    return Buffer.concat(parts, size);
  }

  /** DELE: marks a message; the server removes it only at QUIT (RFC 1939 §6). */
  dele(msg: number): Promise<void> {
    return this.exclusive(async () => void (await this.ok(`DELE ${msg}`)));
  }

  /** RSET: unmarks every message marked by DELE in this session. */
  rset(): Promise<void> {
    return this.exclusive(async () => void (await this.ok('RSET')));
  }

  /** NOOP: proves the session is alive. */
  noop(): Promise<void> {
    return this.exclusive(async () => void (await this.ok('NOOP')));
  }

  /**
   * QUIT: enters the UPDATE state, where the server removes the messages marked by DELE
   * (RFC 1939 §6), then closes. A -ERR means some deletions were not applied.
   */
  quit(): Promise<void> {
    return this.exclusive(async () => {
      try {
        const status = await this.command('QUIT');
        this.quitting = true;
        if (!status.ok) throw pop3ResponseError('QUIT', status, this.ctx);
      } finally {
        this.quitting = true;
        this.wire.end();
      }
    });
  }

  /** Drops the connection without QUIT: messages marked by DELE stay (RFC 1939 §6). */
  destroy(): void {
    this.wire.fail(pop3ConnectionLost(this.ctx, 'the session was closed by Mailroom', false));
  }

  // ---- STLS -------------------------------------------------------------------------------

  /** RFC 2595 §4: STLS, then TLS under the policy, then CAPA again (old answers are void). */
  private async startTls(): Promise<void> {
    const { host, port, steps } = this.opts;
    const refuse = (why: string | undefined): Promise<never> => {
      const base = starttlsNotOffered(host, port, 'POP3');
      const err = why ? new AppError(base.code, `${base.message} (it answered STLS with "${printable(why, 120)}")`, { status: base.status, ...(base.hint ? { hint: base.hint } : {}) }) : base;
      return runStep(steps, 'tls', () => Promise.reject(err));
    };
    if (!this.capabilities.has('STLS')) return refuse(undefined);
    const status = await this.exclusive(() => this.command('STLS'));
    if (!status.ok) return refuse(status.text || '-ERR');
    const plain = this.wire.releaseForTls();
    const upgraded = await upgradeToTls(plain, { host, port, tls: this.opts.tls, timeoutMs: this.timeoutMs, steps });
    this.tls = upgraded.tls;
    this.warnings.push(...upgraded.tls.warnings);
    this.wire.resume(upgraded.socket);
    this.capabilities = await this.capa();
  }

  // ---- commands and answers -----------------------------------------------------------------

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Sends a command line and reads its status line; `shown` replaces secrets in messages. */
  private async command(line: string, shown = line): Promise<Pop3Status> {
    if (this.quitting) throw pop3ConnectionLost(this.ctx, `sending ${shown} after QUIT`, false);
    this.wire.send(line);
    return this.wire.readStatus(`waiting for the answer to ${shown}`);
  }

  /** A command that must succeed: the text after +OK, or the classified -ERR. */
  private async ok(line: string): Promise<string> {
    const status = await this.command(line);
    if (!status.ok) throw pop3ResponseError(line, status, this.ctx);
    return status.text;
  }

  private pair(line: string, what: string): [number, string] {
    // RFC 1939 §7: "msg unique-id", the id being 1 to 70 characters from 0x21 to 0x7E.
    const m = /^(\d+)\s+([\x21-\x7e]{1,70})(?:\s|$)/.exec(line.trim());
    if (!m) throw pop3ProtocolError(this.ctx, `unexpected ${what} line "${printable(line, 80)}"`, `to ${what}`);
    return [Number(m[1]), m[2]!];
  }

  private sizeOf(line: string): Pop3Size {
    const m = /^(\d+)\s+(\d+)(?:\s|$)/.exec(line.trim());
    if (!m) throw pop3ProtocolError(this.ctx, `unexpected LIST line "${printable(line, 80)}"`, 'to LIST');
    return { msg: Number(m[1]), size: Number(m[2]) };
  }
}
