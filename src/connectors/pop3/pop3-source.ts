/**
 * POP3 as a MailSource, exactly once. Keys are UIDLs (RFC 1939 §7, stable across sessions);
 * POP3 has no order to resume from, so every read lists the maildrop and asks the caller's
 * durable set (`known`) which UIDLs were imported, then retrieves only the others, oldest
 * first, in bounded batches the caller commits before the next one is read.
 *
 * Sessions: one session per read cycle, ended with QUIT. RFC 1939 §6 applies DELE only in the
 * UPDATE state entered by QUIT, servers lock the maildrop per session (RFC 1939 §4) and drop
 * idle sessions after 10 minutes (§3), so no session outlives a cycle: the next poll opens a
 * fresh one. `connect()` opens the first (proving the settings), which the first read uses.
 *
 * `after_import: delete`: `acknowledge(keys)` marks with DELE only keys the caller committed;
 * QUIT at the end of the cycle applies them. A DELE lost before QUIT (a cut, a crash) leaves a
 * committed message on the server: the next read sees its UIDL both `known` and listed and
 * marks it again. Nothing is DELEd that is not known to be committed. `after_import: none`
 * leaves every message on the server; the known set keeps them from being imported twice.
 *
 * A UIDL the server lists for more than one message (RFC 1939 §7 forbids it; broken servers do
 * it, e.g. after a migration) cannot tell those messages apart, and keying them by it would
 * import one and skip the others for good. They are retrieved at every read instead and keyed
 * by UIDL and content (`uidl#sha256-prefix`): the caller's dedupe by key and by bytes keeps each
 * imported once, and the mailbox shows a warning.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { MailboxSpec } from '../../config/schema.js';
import { AppError, errorMessage } from '../../domain/errors.js';
import { byCaller, CallerError, type KnownKeys, type MailSource, type SourceBatch, type SourceCapabilities, type SourceEvents, type SourceMessage, type SyncPosition } from '../mail-source.js';
import type { LookupFn } from '../net/connect.js';
import { resolveProxy } from '../net/proxy-url.js';
import { Pop3Client, type Pop3AuthMethod, type Pop3ClientOptions } from './pop3-client.js';
import { classifyPop3Error } from './pop3-errors.js';

/** Batches stay below both bounds, so a 10,000-message maildrop never sits in memory at once. */
export const POP3_BATCH_MESSAGES = 100;
/** See POP3_BATCH_MESSAGES. */
export const POP3_BATCH_BYTES = 16 * 1024 * 1024;

/** How long close() waits for a polite QUIT before dropping the connection. */
const QUIT_GRACE_MS = 2000;

/** What a Pop3Source needs: the mailbox spec and, optionally, the global proxy and tuning. */
export interface Pop3SourceOptions {
  /** The mailbox's spec with its secrets (`protocol: pop3`; `after_import` is `delete` or `none`). */
  spec: MailboxSpec;
  /** The global proxy, for `proxy: inherit` (the mailbox service usually resolves it already). */
  globalProxy?: string | null;
  /** `user` (USER/PASS, the default) or `apop` (RFC 1939 §7; needs the server's timestamp). */
  authMethod?: Pop3AuthMethod;
  /** Batch bounds (defaults POP3_BATCH_MESSAGES, POP3_BATCH_BYTES). */
  batchMessages?: number;
  batchBytes?: number;
  logger?: Logger;
  /** DNS lookup (tests). */
  lookup?: LookupFn;
}

/** The client options for a mailbox spec: network layer settings, proxy and timeout. */
export function pop3ClientOptions(spec: MailboxSpec, globalProxy?: string | null, lookup?: LookupFn): Pop3ClientOptions {
  const proxy = resolveProxy(spec.proxy, globalProxy);
  return {
    host: spec.host,
    port: spec.port,
    security: spec.security,
    tls: spec.tls,
    ...(proxy ? { proxy } : {}),
    timeoutMs: spec.liveness.timeout_s * 1000,
    ...(lookup ? { lookup } : {}),
  };
}

/** The user name and password of a POP3 mailbox (OAuth sign-in is not offered for POP3). */
export function pop3Credentials(spec: MailboxSpec): { user: string; password: string } {
  if (spec.auth.oauth || spec.auth.password === undefined || spec.auth.user === undefined) {
    throw new AppError('AUTH_METHOD_UNSUPPORTED', 'POP3 mailboxes sign in with a user name and password', {
      status: 400,
      hint: 'Give auth: { user, password } for this mailbox (an app password where the provider needs one), or use IMAP or Graph for OAuth sign-in.',
    });
  }
  return { user: spec.auth.user, password: spec.auth.password };
}

/** Opens a session and signs in with the mailbox's credentials. */
export async function openPop3Session(spec: MailboxSpec, opts: Pick<Pop3SourceOptions, 'globalProxy' | 'authMethod' | 'lookup'>): Promise<Pop3Client> {
  const { user, password } = pop3Credentials(spec);
  const client = await Pop3Client.connect(pop3ClientOptions(spec, opts.globalProxy, opts.lookup));
  try {
    await client.login(user, password, opts.authMethod ?? 'user');
    return client;
  } catch (err) {
    client.destroy();
    throw err;
  }
}

/** One session's view: its message numbers by UIDL, and what it marked deleted. */
interface Session {
  client: Pop3Client;
  /**
   * Key → message number, loaded on first need (RFC 1939: numbers hold for one session only).
   * A repeated UIDL's messages are added under their content keys once retrieved.
   */
  numbers: Map<string, number> | undefined;
  order: { msg: number; uidl: string }[];
  /** UIDLs the server listed for more than one message. */
  repeated: Set<string>;
  deleted: Set<number>;
}

/** A POP3 maildrop as a MailSource (polled; see the file comment for sessions and deletion). */
export class Pop3Source implements MailSource {
  readonly capabilities: SourceCapabilities = { push: false, move: false, flag: false, changeMarker: false };
  private session: Session | undefined;
  private closing = false;
  /** What the last read did: UIDLs listed, messages handed to the caller, lost DELEs sent again. */
  lastRead = { listed: 0, imported: 0, redeleted: 0 };
  /** From the last listing: what the server does against RFC 1939 that the admin should know. */
  private listingWarnings: string[] = [];

  constructor(private readonly opts: Pop3SourceOptions) {}

  private get spec(): MailboxSpec {
    return this.opts.spec;
  }

  private get deleting(): boolean {
    return this.spec.after_import === 'delete';
  }

  private fail(err: unknown): AppError {
    return classifyPop3Error(err, { host: this.spec.host, port: this.spec.port });
  }

  /** Opens and signs in to the first session (so a wrong password shows at once). */
  async connect(_events: SourceEvents): Promise<void> {
    // No session outlives a read cycle, so there is no idle connection to watch: a failure
    // surfaces from the read or acknowledge that hits it (the runner then reconnects).
    this.closing = false;
    await this.ensureSession();
  }

  warnings(): string[] {
    return [...new Set([...(this.session?.client.warnings ?? []), ...this.listingWarnings])];
  }

  private async ensureSession(): Promise<Session> {
    if (this.session?.client.usable) return this.session;
    // After close() (the runner stopping mid-commit) no new connection is opened: a DELE not
    // sent now is sent by the next read, which finds the message both known and listed.
    if (this.closing) throw new AppError('CONNECTION_CLOSED', 'The POP3 source was closed', { status: 502, hint: 'It reconnects when the mailbox runs again.' });
    this.session = undefined;
    const client = await openPop3Session(this.spec, this.opts);
    this.session = { client, numbers: undefined, order: [], repeated: new Set(), deleted: new Set() };
    return this.session;
  }

  private async listing(session: Session): Promise<Session['order']> {
    if (!session.numbers) {
      const order = await session.client.uidlAll();
      const times = new Map<string, number>();
      for (const { uidl } of order) times.set(uidl, (times.get(uidl) ?? 0) + 1);
      session.repeated = new Set([...times].filter(([, n]) => n > 1).map(([uidl]) => uidl));
      session.numbers = new Map(order.filter((o) => !session.repeated.has(o.uidl)).map((o) => [o.uidl, o.msg]));
      session.order = order;
      this.listingWarnings = [...session.repeated].slice(0, 3).map(
        (uidl) =>
          `The server lists UIDL ${uidl} for ${times.get(uidl)} messages (RFC 1939 says a UIDL is unique): they are downloaded at every poll and told apart by their content. Ask the mail server's admin to repair its UIDL list.`,
      );
      if (session.repeated.size > 0) this.opts.logger?.warn({ uidls: [...session.repeated].slice(0, 10), count: session.repeated.size }, 'pop3 server repeats UIDLs; keying those messages by content');
    }
    return session.order;
  }

  /** The key of a retrieved message: its UIDL, or for a repeated UIDL the UIDL and a digest of the bytes. */
  private keyOf(session: Session, uidl: string, msg: number, raw: Buffer): string {
    if (!session.repeated.has(uidl)) return uidl;
    const key = `${uidl}#${createHash('sha256').update(raw).digest('hex').slice(0, 32)}`;
    session.numbers!.set(key, msg);
    return key;
  }

  /** DELE for every key listed in this session and not marked yet. */
  private async markDeleted(session: Session, keys: Iterable<string>): Promise<number> {
    await this.listing(session);
    let marked = 0;
    for (const key of keys) {
      const msg = session.numbers!.get(key);
      if (msg === undefined || session.deleted.has(msg)) continue;
      await session.client.dele(msg);
      session.deleted.add(msg);
      marked++;
    }
    return marked;
  }

  /**
   * Ends the session: QUIT when the connection still works (applying every DELE, all of them
   * for committed messages), else drops it; the lost DELEs are repaired by the next read.
   */
  private async endSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    if (!session.client.usable) {
      session.client.destroy();
      return;
    }
    await session.client.quit();
  }

  async read(position: SyncPosition, handle: (batch: SourceBatch) => Promise<void>, known: KnownKeys): Promise<void> {
    const stats = { listed: 0, imported: 0, redeleted: 0 };
    this.lastRead = stats;
    try {
      const session = await this.ensureSession();
      const order = await this.listing(session);
      stats.listed = order.length;
      // A repeated UIDL is never taken as imported: only its messages' content keys tell.
      const unique = order.filter((o) => !session.repeated.has(o.uidl));
      const imported = unique.length === 0 ? new Set<string>() : await byCaller(() => known(unique.map((o) => o.uidl)));
      if (this.deleting && imported.size > 0) {
        // Committed earlier, still here: its DELE was lost before a QUIT (or never sent after a
        // crash between commit and acknowledge). Committed, so deleting it now is safe.
        stats.redeleted = await this.markDeleted(session, order.filter((o) => imported.has(o.uidl)).map((o) => o.uidl));
        if (stats.redeleted > 0) this.opts.logger?.info({ count: stats.redeleted }, 'pop3: deleting messages imported earlier whose deletion was not applied');
      }
      const failures = await this.retrieveNew(session, order.filter((o) => !imported.has(o.uidl) && !session.deleted.has(o.msg)), position, handle, known, stats);
      await this.endSession();
      if (failures.length > 0) {
        const first = failures[0]!;
        throw new AppError('POP3_RETRIEVE_FAILED', `${failures.length} message(s) could not be retrieved; the first, ${first.uidl}: ${first.error.message}`, {
          status: 502,
          hint: 'The other messages were imported; these are tried again at every poll. If it persists, check the server log for these messages.',
          cause: first.error,
        });
      }
    } catch (err) {
      // QUIT if the connection still works: every DELE sent was for a committed message.
      await this.endSession().catch(() => undefined);
      if (err instanceof CallerError) throw err.error;
      throw this.fail(err);
    }
  }

  /** RETR of the new messages in order, handed on in batches; per-message -ERRs are collected. */
  private async retrieveNew(
    session: Session,
    todo: Session['order'],
    position: SyncPosition,
    handle: (batch: SourceBatch) => Promise<void>,
    known: KnownKeys,
    stats: { imported: number; redeleted: number },
  ): Promise<{ uidl: string; error: AppError }[]> {
    const maxMessages = this.opts.batchMessages ?? POP3_BATCH_MESSAGES;
    const maxBytes = this.opts.batchBytes ?? POP3_BATCH_BYTES;
    const sizes = todo.length > 0 ? new Map((await session.client.listAll()).map((l) => [l.msg, l.size])) : new Map<number, number>();
    const failures: { uidl: string; error: AppError }[] = [];
    let batch: SourceMessage[] = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const messages = batch;
      batch = [];
      bytes = 0;
      // POP3 keeps no position: the batch carries the caller's unchanged (RFC 1939 has no order to resume).
      await byCaller(() => handle({ messages, position, reset: false }));
      stats.imported += messages.length;
    };
    for (const { msg, uidl } of todo) {
      if (this.closing) return failures;
      const size = sizes.get(msg) ?? 0;
      if (batch.length >= maxMessages || (batch.length > 0 && bytes + size > maxBytes)) await flush();
      let raw: Buffer;
      try {
        raw = await session.client.retr(msg);
      } catch (err) {
        // A -ERR for one message (it vanished, the server cannot read it) must not block the
        // rest; a broken connection ends the cycle (the session is no longer usable).
        if (!session.client.usable) throw err;
        failures.push({ uidl, error: this.fail(err) });
        this.opts.logger?.warn({ uidl, err: errorMessage(err) }, 'pop3: RETR failed');
        continue;
      }
      const key = this.keyOf(session, uidl, msg, raw);
      // A repeated UIDL's message is known only by its content key, once it is retrieved.
      if (key !== uidl && (await byCaller(() => known([key]))).has(key)) {
        if (this.deleting) stats.redeleted += await this.markDeleted(session, [key]);
        continue;
      }
      batch.push({ key, raw, internalDate: null });
      bytes += raw.length;
    }
    await flush();
    return failures;
  }

  /**
   * With `after_import: delete`, marks the committed `keys` with DELE; they are removed at the
   * QUIT that ends the cycle (inside a read), or at once when no session is open.
   */
  async acknowledge(keys: string[]): Promise<void> {
    if (!this.deleting || keys.length === 0) return;
    const inCycle = this.session !== undefined;
    try {
      const session = await this.ensureSession();
      await this.markDeleted(session, keys);
      if (!inCycle) await this.endSession();
    } catch (err) {
      if (!inCycle) await this.endSession().catch(() => undefined);
      throw this.fail(err);
    }
  }

  /** POP3 cannot push: the caller polls every `poll_s`. */
  async watch(): Promise<void> {}

  /** Ends the open session with QUIT (its DELEs are all for committed messages), or drops it. */
  async close(): Promise<void> {
    this.closing = true;
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    const timer = setTimeout(() => session.client.destroy(), QUIT_GRACE_MS);
    try {
      if (session.client.usable) await session.client.quit();
    } catch {
      // Dropping it is fine: an unapplied DELE is repaired by the next read.
    } finally {
      clearTimeout(timer);
      session.client.destroy();
    }
  }
}
