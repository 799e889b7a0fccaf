/**
 * One mailbox's connector loop: connect → acknowledge what a crash left unacknowledged → read
 * everything after the saved position, committing each batch before acknowledging it → watch
 * (IDLE) or poll → read again on every change and on the periodic resync. Any failure closes
 * the source, shows `error` with the reason, and retries after a capped, jittered backoff.
 * One failure does not: a server that refuses `after_import` (a read-only folder, a move target
 * it will not create) while the connection is fine. Retrying cannot fix that, and stopping would
 * leave new mail unimported; so import goes on, the mailbox shows a warning with the fix, and the
 * refused messages are acknowledged at a later connection once the server allows it.
 */
import type { Logger } from 'pino';
import type { MailSource, SourceBatch } from '../connectors/mail-source.js';
import { Backoff } from '../connectors/net/backoff.js';
import { AppError, errorMessage } from '../domain/errors.js';
import type { MailboxState } from '../domain/types.js';
import type { CommitResult } from '../store/inbound.repository.js';
import type { SyncPosition } from '../domain/mail-sync.js';
import { Wakeup } from './wakeup.js';

/** What the runner needs from the ingest side (all of it commits before returning). */
export interface InboundSink {
  position(mailboxId: number): Promise<SyncPosition>;
  commit(mailboxId: number, batch: SourceBatch): Promise<CommitResult>;
  markAcked(mailboxId: number, keys: string[]): Promise<void>;
  unackedKeys(mailboxId: number): Promise<string[]>;
  known(mailboxId: number, keys: string[]): Promise<Set<string>>;
  touch(mailboxId: number): Promise<void>;
}

export interface StatusReporter {
  status(state: MailboxState, error: AppError | null, warnings?: string[]): Promise<void>;
  event(kind: string, message: string, detail?: unknown): Promise<void>;
}

export interface RunnerOptions {
  mailboxId: number;
  name: string;
  createSource: () => MailSource;
  sink: InboundSink;
  reporter: StatusReporter;
  logger: Logger;
  /** Seconds before the first retry (the mailbox's `reconnect_s`). */
  reconnectS: number;
  /** The safety-net resync of a push source (default 5 min); a polling source's interval. */
  resyncMs: number;
  pollMs: number;
  /** Longest delay between attempts (default 5 min). */
  backoffMaxMs?: number;
  /** A connection up this long resets the delay to `reconnectS` (default 60 s). */
  backoffStableMs?: number;
}

/**
 * Failures that retrying soon cannot fix: wait longer so a bad password does not lock the account
 * and a full connection slot is not hammered. Up to a fifth more is added at random, so mailboxes
 * refused together (a server's per-user limit after a restart) do not come back in step.
 */
const SLOW_RETRY_MS: Record<string, number> = {
  AUTH_FAILED: 5 * 60_000,
  FOLDER_NOT_FOUND: 5 * 60_000,
  CONNECTION_LIMIT: 60_000,
  TLS_CERT_UNTRUSTED: 5 * 60_000,
  TLS_CERT_NAME_MISMATCH: 5 * 60_000,
  TLS_CERT_EXPIRED: 5 * 60_000,
  TLS_PIN_MISMATCH: 5 * 60_000,
  STARTTLS_NOT_OFFERED: 5 * 60_000,
  POP3_NO_UIDL: 30 * 60_000,
  AUTH_METHOD_UNSUPPORTED: 30 * 60_000,
  POP3_LOGIN_DELAY: 5 * 60_000,
  MAILBOX_IN_USE: 60_000,
};

function asAppError(err: unknown): AppError {
  return err instanceof AppError ? err : new AppError('CONNECTOR_ERROR', errorMessage(err), { status: 502, hint: 'It retries by itself; run the connection test if it persists.' });
}

export class MailboxRunner {
  private readonly wake = new Wakeup();
  private loop: Promise<void> | undefined;
  private source: MailSource | undefined;
  private closedReason: AppError | null | undefined;
  private readonly backoff: Backoff;
  private everConnected = false;
  private lastState: MailboxState | undefined;
  /** The source's own warnings, shown while connected. */
  private sourceWarnings: string[] = [];
  /** Why `after_import` was last refused (null once an acknowledgement succeeds again). */
  private ackRefused: AppError | null = null;

  constructor(private readonly opts: RunnerOptions) {
    this.backoff = new Backoff({
      baseMs: opts.reconnectS * 1000,
      maxMs: Math.max(opts.reconnectS * 1000, opts.backoffMaxMs ?? 5 * 60_000),
      ...(opts.backoffStableMs !== undefined ? { stableMs: opts.backoffStableMs } : {}),
    });
  }

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => this.opts.logger.error({ err, mailbox: this.opts.name }, 'mailbox runner crashed'));
  }

  /** Stops the loop and closes the connection; in-flight batches finish committing first. */
  async stop(): Promise<void> {
    this.wake.stop();
    await this.source?.close().catch(() => undefined);
    await this.loop;
  }

  /** Something says there may be new mail (used by tests and by a pushed notification). */
  kick(): void {
    this.wake.kick();
  }

  private async setStatus(state: MailboxState, error: AppError | null, warnings?: string[]): Promise<void> {
    this.lastState = state;
    await this.opts.reporter.status(state, error, warnings);
  }

  private async run(): Promise<void> {
    const { opts } = this;
    while (!this.wake.isStopped) {
      const source = opts.createSource();
      this.source = source;
      this.closedReason = undefined;
      try {
        // "error" stays until a connection succeeds again (API.md); only a clean start shows "connecting".
        if (this.lastState !== 'error') await this.setStatus('connecting', null);
        await opts.reporter.event('connect', `connecting (attempt ${this.backoff.failures + 1})`);
        await source.connect({
          onChange: () => this.wake.kick(),
          onClose: (reason) => {
            this.closedReason = reason === null ? null : asAppError(reason);
            this.wake.kick();
          },
        });
        this.backoff.connected();
        this.everConnected = true;
        await opts.reporter.event('connected', 'connected');
        await this.recoverUnacked(source);
        await this.sync(source);
        this.sourceWarnings = source.warnings?.() ?? [];
        await this.setStatus('connected', null, this.warnings());
        await source.watch();
        const interval = source.capabilities.push ? opts.resyncMs : opts.pollMs;
        for (;;) {
          const reason = await this.wake.wait(interval);
          if (reason === 'stop') return;
          if (this.closedReason !== undefined) throw this.closedReason ?? new AppError('CONNECTION_CLOSED', 'The server closed the connection', { status: 502, hint: 'It reconnects by itself.' });
          await this.sync(source);
        }
      } catch (err) {
        if (this.wake.isStopped) return;
        const e = asAppError(err);
        const slow = SLOW_RETRY_MS[e.code];
        const delay = Math.max(this.backoff.failed(), slow === undefined ? 0 : Math.round(slow * (1 + 0.2 * Math.random())));
        opts.logger.warn({ mailbox: opts.name, code: e.code, err: e.message, retryInMs: delay }, 'mailbox connection failed');
        await this.setStatus('error', e).catch(() => undefined);
        await opts.reporter.event('error', e.message, { code: e.code, hint: e.hint, retryInMs: delay, everConnected: this.everConnected }).catch(() => undefined);
        await source.close().catch(() => undefined);
        if ((await this.wake.wait(delay)) === 'stop') return;
        await opts.reporter.event('retry', `retrying after ${Math.round(delay / 1000)} s`).catch(() => undefined);
        continue;
      } finally {
        if (this.wake.isStopped) await source.close().catch(() => undefined);
      }
    }
  }

  /** A crash between commit and acknowledgement, or a refusal, left these: acknowledge them now. */
  private async recoverUnacked(source: MailSource): Promise<void> {
    const keys = await this.opts.sink.unackedKeys(this.opts.mailboxId);
    if (keys.length === 0) return;
    if (await this.acknowledge(source, keys)) {
      await this.opts.reporter.event('recovered', `acknowledged ${keys.length} message(s) committed before an interruption`);
    }
  }

  /**
   * Applies `after_import` to committed messages and records it. False when the server refused
   * (ACKNOWLEDGE_REFUSED): they stay recorded as unacknowledged, the first refusal goes to the
   * event log, and the mailbox shows it as a warning until an acknowledgement succeeds again.
   * Any other failure (the connection broke) is thrown, as before.
   */
  private async acknowledge(source: MailSource, keys: string[]): Promise<boolean> {
    const { opts } = this;
    try {
      await source.acknowledge(keys);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'ACKNOWLEDGE_REFUSED') throw err;
      const first = this.ackRefused === null;
      this.ackRefused = err;
      if (first) {
        opts.logger.warn({ mailbox: opts.name, code: err.code, err: err.message }, 'after_import refused; importing goes on');
        await opts.reporter.event('acknowledge-refused', err.message, { code: err.code, hint: err.hint, messages: keys.length });
        await this.showWarnings();
      }
      return false;
    }
    await opts.sink.markAcked(opts.mailboxId, keys);
    if (this.ackRefused !== null) {
      this.ackRefused = null;
      await this.showWarnings();
    }
    return true;
  }

  private warnings(): string[] {
    const refused = this.ackRefused;
    return refused ? [...this.sourceWarnings, `${refused.message}. ${refused.hint ?? ''}`.trim()] : this.sourceWarnings;
  }

  /** A change of warnings while connected (before, the next status carries them). */
  private async showWarnings(): Promise<void> {
    if (this.lastState === 'connected') await this.setStatus('connected', null, this.warnings());
  }

  private async sync(source: MailSource): Promise<void> {
    const { opts } = this;
    const position = await opts.sink.position(opts.mailboxId);
    let imported = 0;
    let duplicates = 0;
    await source.read(position, async (batch) => {
      const result = await opts.sink.commit(opts.mailboxId, batch);
      imported += result.inserted.length;
      duplicates += result.duplicates.length;
      const keys = [...result.inserted.map((m) => m.key), ...result.duplicates];
      if (keys.length > 0) await this.acknowledge(source, keys);
    }, (keys) => opts.sink.known(opts.mailboxId, keys));
    await opts.sink.touch(opts.mailboxId);
    if (imported || duplicates) {
      await opts.reporter.event('sync', `imported ${imported} message(s)${duplicates ? `, skipped ${duplicates} already stored` : ''}`, { imported, duplicates });
    }
  }
}
