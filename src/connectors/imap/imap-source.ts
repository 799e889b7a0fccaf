/**
 * IMAP as a MailSource, on imapflow. Reads by UID after the saved position (UIDVALIDITY + last
 * UID, RFC 3501 §2.3.1.1), skips the search when CONDSTORE's HIGHESTMODSEQ is unchanged
 * (RFC 7162), watches with IDLE (RFC 2177), and applies `after_import` only through
 * `acknowledge`, which the caller invokes after its commit.
 */
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { ImapFlow, type ImapFlowOptions, type ImapTransport } from 'imapflow';
import type { Logger } from 'pino';
import type { MailboxSpec } from '../../config/schema.js';
import { AppError } from '../../domain/errors.js';
import { byCaller, CallerError, type KnownKeys, type MailSource, type SourceBatch, type SourceCapabilities, type SourceEvents, type SourceMessage, type SyncPosition } from '../mail-source.js';
import { openConnection } from '../net/connect.js';
import type { ConnectionStep } from '../net/connection-steps.js';
import { resolveProxy } from '../net/proxy-url.js';
import { startTls, type TlsOutcome } from '../net/tls-policy.js';
import { classifyImapError } from './imap-errors.js';

/**
 * An ImapFlow client whose socket comes from the shared network layer: SOCKS5 per the
 * mailbox's proxy, implicit TLS or STARTTLS under the mailbox's TLS policy (pinning included),
 * TLS 1.2 at least, and stable error codes for every way the connection can fail.
 */
export async function createImapClient(
  spec: MailboxSpec,
  extra: Partial<ImapFlowOptions> = {},
  diagnostics: { steps?: ConnectionStep[]; onStartTls?: (outcome: TlsOutcome, ms: number) => void; onWarnings?: (warnings: string[]) => void } = {},
): Promise<ImapFlow> {
  const { steps } = diagnostics;
  const live = spec.liveness;
  const timeoutMs = live.timeout_s * 1000;
  const conn = await openConnection({
    host: spec.host,
    port: spec.port,
    security: spec.security,
    proxy: resolveProxy(spec.proxy, null),
    tls: spec.tls,
    timeoutMs,
    ...(steps ? { steps } : {}),
  });
  if (conn.warnings.length) diagnostics.onWarnings?.(conn.warnings);
  const transport: ImapTransport = {
    connect: (_o, onConnect) => {
      setImmediate(onConnect);
      return conn.socket;
    },
    // STARTTLS: imapflow hands the socket back after the server said OK; our policy decides.
    upgrade: (socket, _o, onSecure) => {
      const started = performance.now();
      return startTls(socket as net.Socket, spec.host, spec.port, spec.tls, (outcome) => {
        diagnostics.onStartTls?.(outcome, Math.round(performance.now() - started));
        if (outcome.warnings.length) diagnostics.onWarnings?.(outcome.warnings);
        onSecure();
      });
    },
  };
  return new ImapFlow({
    host: spec.host,
    port: spec.port,
    secure: spec.security === 'tls',
    // security: starttls must never fall back to cleartext; security: none never upgrades.
    doSTARTTLS: spec.security === 'starttls' ? true : spec.security === 'none' ? false : undefined,
    auth: spec.auth.oauth ? { user: spec.auth.user ?? '', accessToken: '' } : { user: spec.auth.user ?? '', pass: spec.auth.password ?? '' },
    logger: false,
    clientInfo: { name: 'Mailroom' },
    // NOTES.md: imapflow starts IDLE 15 s after the last command by default; we want it at once.
    autoIdleDelay: 20,
    // No maxIdleTime: ImapSource's keepalive probe ends and restarts IDLE every keepalive (see
    // startWatchdog). socketTimeout is the safety net for a command whose answer stops coming.
    socketTimeout: (live.keepalive_s + live.timeout_s) * 1000,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    transport,
    ...extra,
  });
}

/**
 * Batches stay below both bounds, so a 10,000-message backlog never sits in memory at once.
 * Each batch is one commit of nine statements whatever its size (ingest-throughput: 250 a batch
 * instead of 100 made a 6,000-message backlog 24 commits instead of 60).
 */
export const IMAP_BATCH_MESSAGES = 250;
/** See IMAP_BATCH_MESSAGES. */
export const IMAP_BATCH_BYTES = 16 * 1024 * 1024;
/** Messages whose sizes (and committed state) are asked for at a time, see `planBatches`. */
export const IMAP_SIZE_WINDOW = 1000;

/** RFC 2177 §3: IDLE is to be re-issued at least every 29 minutes; the keepalive probe does it. */
const MAX_PROBE_INTERVAL_MS = 25 * 60_000;

export interface ImapSourceOptions {
  /** The mailbox's spec with its secrets. */
  spec: MailboxSpec;
  logger?: Logger;
  /** Extra imapflow options (the shared transport for proxy and TLS policy; tests). */
  imapOptions?: Partial<ImapFlowOptions>;
  /** Batch bounds (defaults IMAP_BATCH_MESSAGES, IMAP_BATCH_BYTES). */
  batchMessages?: number;
  batchBytes?: number;
  /** Messages whose sizes are asked for at a time (default IMAP_SIZE_WINDOW). */
  sizeWindow?: number;
}

/** Messages to download together, in UID order; `last`: no batch follows. */
export interface PlannedBatch {
  uids: number[];
  last: boolean;
}

/**
 * Splits `uids` into batches within `maxMessages` and `maxBytes` (a larger message alone), in
 * order. `window` gives, for a run of at most `size` UIDs, the [uid, size] of each to download
 * (those not committed yet); it is called one window at a time, only when the batches before
 * are handed out. A backlog's first batch thus downloads after one small FETCH of sizes, not
 * after one of every message's (10,000 messages: ~0.2 s in which nothing else ran).
 */
export async function* planBatches(
  uids: readonly number[],
  size: number,
  window: (part: number[]) => Promise<[number, number][]>,
  maxMessages: number,
  maxBytes: number,
): AsyncGenerator<PlannedBatch> {
  let open: number[] = [];
  let bytes = 0;
  for (let i = 0; i < uids.length; i += size) {
    for (const [uid, bytesOfOne] of await window(uids.slice(i, i + size))) {
      if (open.length > 0 && (open.length >= maxMessages || bytes + bytesOfOne > maxBytes)) {
        yield { uids: open, last: false };
        open = [];
        bytes = 0;
      }
      open.push(uid);
      bytes += bytesOfOne;
    }
  }
  if (open.length > 0) yield { uids: open, last: true };
}

export function imapKey(uidvalidity: number, uid: number): string {
  return `${uidvalidity}:${uid}`;
}

/** A UID set in IMAP syntax, collapsing runs: [1,2,3,7] → "1:3,7". */
export function uidSet(uids: number[]): string {
  const sorted = [...new Set(uids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const start = sorted[i]!;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) end = sorted[++i]!;
    parts.push(start === end ? `${start}` : `${start}:${end}`);
  }
  return parts.join(',');
}

export class ImapSource implements MailSource {
  readonly capabilities: SourceCapabilities = { push: true, move: true, flag: true, changeMarker: true };
  private client: ImapFlow | undefined;
  private uidvalidity: number | null = null;
  private highestModseq: string | null = null;
  private connectionWarnings: string[] = [];
  /** HIGHESTMODSEQ from SELECT is fresh only until the first read after connecting. */
  private modseqFresh = false;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ImapSourceOptions) {}

  private get spec(): MailboxSpec {
    return this.opts.spec;
  }

  private fail(err: unknown): never {
    throw classifyImapError(err, { host: this.spec.host, folder: this.spec.folder, port: this.spec.port });
  }

  async connect(events: SourceEvents): Promise<void> {
    this.connectionWarnings = [];
    const client = await createImapClient(this.opts.spec, { ...this.opts.imapOptions }, { onWarnings: (w) => this.connectionWarnings.push(...w) });
    const { spec } = this;
    this.client = client;
    let closed = false;
    const onClose = (reason: Error | null) => {
      this.stopWatchdog();
      if (closed) return;
      closed = true;
      events.onClose(reason);
    };
    client.on('error', (err: Error) => {
      this.opts.logger?.debug({ err: err.message }, 'imap connection error');
      onClose(classifyImapError(err, { host: spec.host, folder: spec.folder, port: spec.port }));
    });
    client.on('close', () => onClose(null));
    client.on('exists', () => events.onChange());
    try {
      await client.connect();
      const mb = await client.mailboxOpen(spec.folder);
      this.uidvalidity = Number(mb.uidValidity);
      this.highestModseq = mb.highestModseq === undefined ? null : mb.highestModseq.toString();
      this.modseqFresh = true;
    } catch (err) {
      closed = true;
      client.close();
      this.fail(err);
    }
    this.startWatchdog(client, (reason) => {
      onClose(reason);
      client.close();
    });
  }

  /**
   * Liveness of an idle connection. A half-open TCP connection (the peer or a NAT box gone
   * without a FIN or RST) is pure silence, and so is a healthy IDLE with no new mail: only an
   * answer tells them apart. Every `keepalive_s` an idling connection is sent NOOP (imapflow
   * ends IDLE with DONE first, RFC 2177, and starts it again afterwards); no answer within
   * `timeout_s` closes it as dead. After the last answer a dead link is therefore noticed within
   * keepalive + timeout, at most twice the keepalive when timeout_s <= keepalive_s. A command in
   * flight is not probed: imapflow's socketTimeout fails it when its answer stops coming.
   */
  private startWatchdog(client: ImapFlow, dead: (reason: AppError) => void): void {
    const { keepalive_s: keepalive, timeout_s: timeout } = this.spec.liveness;
    let probing = false;
    this.stopWatchdog();
    this.watchdog = setInterval(() => {
      if (probing || !client.usable || !client.idling) return;
      probing = true;
      const deadline = setTimeout(() => {
        dead(
          new AppError('IMAP_TIMEOUT', `${this.spec.host} did not answer a keepalive NOOP within ${timeout} s: the connection is dead (half-open)`, {
            status: 504,
            hint: 'It reconnects by itself. If this keeps happening, a firewall or NAT on the way may drop idle connections: lower liveness.keepalive_s.',
          }),
        );
      }, timeout * 1000);
      client
        .noop()
        .catch(() => undefined)
        .finally(() => {
          clearTimeout(deadline);
          probing = false;
        });
    }, Math.min(keepalive * 1000, MAX_PROBE_INTERVAL_MS));
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  private need(): ImapFlow {
    if (!this.client) throw new Error('ImapSource used before connect()');
    return this.client;
  }

  async read(position: SyncPosition, handle: (batch: SourceBatch) => Promise<void>, known?: KnownKeys): Promise<void> {
    const client = this.need();
    const uidvalidity = this.uidvalidity!;
    const reset = position.uidvalidity !== null && position.uidvalidity !== uidvalidity;
    const lastUid = reset || position.uidvalidity === null ? 0 : position.lastUid;
    try {
      // CONDSTORE (RFC 7162): HIGHESTMODSEQ as SELECT reported it equals the one stored with the
      // position, so nothing changed since. Only that value is trustworthy: the cached one is not
      // refreshed by later EXISTS, so reads after the first always search.
      const fresh = this.modseqFresh;
      this.modseqFresh = false;
      if (fresh && !reset && position.uidvalidity === uidvalidity && position.highestModseq !== null && this.highestModseq === position.highestModseq) return;
      // Storing the SELECT value is safe: the search below sees at least what SELECT saw.
      const modseq = fresh ? this.highestModseq : position.highestModseq;
      // The server shows a session new messages only when it syncs the session's view (RFC 3501
      // §5.2, §6.1.2: NOOP is the poll); Dovecot does not before UID SEARCH, so a read that was
      // not prompted by an EXISTS (the safety-net resync) would miss what arrived unannounced.
      if (!fresh) await client.noop();
      const found = await client.search({ uid: `${lastUid + 1}:*` }, { uid: true });
      // RFC 3501 §6.4.8: "N:*" includes the highest UID even when it is below N; drop those.
      const uids = (found || []).filter((u) => u > lastUid).sort((a, b) => a - b);
      if (uids.length === 0) {
        if (reset || position.uidvalidity === null || modseq !== position.highestModseq) {
          await byCaller(() => handle({ messages: [], position: { ...position, uidvalidity, lastUid, highestModseq: modseq }, reset }));
        }
        return;
      }
      const top = uids[uids.length - 1]!;
      // A window at a time: which of its messages the caller committed already (its durable key
      // set; those are not downloaded again, whatever the position says, and the position still
      // moves past them), and the sizes of the others, which bound the batches.
      const window = async (part: number[]): Promise<[number, number][]> => {
        const committed = known ? await byCaller(() => known(part.map((u) => imapKey(uidvalidity, u)))) : new Set<string>();
        const todo = part.filter((u) => !committed.has(imapKey(uidvalidity, u)));
        if (todo.length === 0) return [];
        const sizes = new Map<number, number>();
        for (const m of await client.fetchAll(uidSet(todo), { uid: true, size: true }, { uid: true })) sizes.set(m.uid, m.size ?? 0);
        return todo.map((u) => [u, sizes.get(u) ?? 0]);
      };
      const plan = planBatches(uids, this.opts.sizeWindow ?? IMAP_SIZE_WINDOW, window, this.opts.batchMessages ?? IMAP_BATCH_MESSAGES, this.opts.batchBytes ?? IMAP_BATCH_BYTES);
      const planAndDownload = async () => {
        const planned = await plan.next();
        if (planned.done) return null;
        return { ...planned.value, fetched: await client.fetchAll(uidSet(planned.value.uids), { uid: true, source: true, internalDate: true }, { uid: true }) };
      };
      // The next batch is planned and downloads while the caller commits this one (its
      // acknowledgement then waits for that download on the connection, which is fine: it
      // follows the commit either way). Its failure is taken when it is awaited, after the
      // commit, and not at all when the caller failed: it must never count as unhandled.
      const download = () => {
        const p = planAndDownload();
        p.catch(() => undefined);
        return p;
      };
      let batch: Awaited<ReturnType<typeof download>> = await download();
      if (!batch) {
        // Everything found was committed already: only the position moves.
        await byCaller(() => handle({ messages: [], position: { uidvalidity, lastUid: top, highestModseq: modseq, cursor: null }, reset }));
        return;
      }
      while (batch) {
        const following: ReturnType<typeof download> | null = batch.last ? null : download();
        const messages: SourceMessage[] = batch.fetched
          .filter((m) => m.source)
          .sort((a, b) => a.uid - b.uid)
          .map((m) => ({ key: imapKey(uidvalidity, m.uid), raw: m.source!, internalDate: m.internalDate ? new Date(m.internalDate) : null }));
        // The last batch also moves past committed messages after its own.
        const lastUidOfBatch = batch.last ? top : batch.uids[batch.uids.length - 1]!;
        const highestModseq = batch.last ? modseq : position.highestModseq;
        await byCaller(() => handle({ messages, position: { uidvalidity, lastUid: lastUidOfBatch, highestModseq, cursor: null }, reset }));
        batch = following && (await following);
      }
    } catch (err) {
      if (err instanceof CallerError) throw err.error;
      this.fail(err);
    }
  }

  /**
   * Applies `after_import` to committed messages. imapflow answers STORE, EXPUNGE and MOVE with
   * `false` instead of an error when they fail (the server said NO, or the connection broke):
   * that is turned into an error here, so the caller does not record them as acknowledged and
   * the next connection applies it again.
   */
  async acknowledge(keys: string[]): Promise<void> {
    const action = this.spec.after_import;
    if (action === 'none' || keys.length === 0) return;
    const client = this.need();
    const uids = keys
      .map((k) => k.split(':'))
      .filter(([v]) => Number(v) === this.uidvalidity)
      .map(([, u]) => Number(u));
    if (uids.length === 0) return;
    const set = uidSet(uids);
    let done: unknown;
    try {
      if (action === 'seen') done = await client.messageFlagsAdd(set, ['\\Seen'], { uid: true });
      else if (action === 'delete') done = await client.messageDelete(set, { uid: true });
      else {
        const target = action.slice('move:'.length);
        done = await client.messageMove(set, target, { uid: true });
        if (!done && client.usable) {
          // RFC 3501 §7.1 TRYCREATE: the target is missing; create it once, then move.
          await client.mailboxCreate(target).catch(() => undefined);
          done = await client.messageMove(set, target, { uid: true });
        }
      }
    } catch (err) {
      this.fail(err);
    }
    if (!done) throw this.notAcknowledged(client, action, uids.length);
  }

  private notAcknowledged(client: ImapFlow, action: string, count: number): AppError {
    const what = action === 'seen' ? 'flag as seen' : action === 'delete' ? 'delete' : `move to ${action.slice('move:'.length)}`;
    if (!client.usable) {
      return new AppError('CONNECTION_CLOSED', `The connection to ${this.spec.host} broke before ${count} imported message(s) could be ${action === 'seen' ? 'flagged as seen' : action === 'delete' ? 'deleted' : 'moved'}`, {
        status: 502,
        hint: 'Nothing is lost: they are imported, and after_import is applied when it reconnects.',
      });
    }
    return new AppError('ACKNOWLEDGE_REFUSED', `${this.spec.host} refused to ${what} ${count} imported message(s) (after_import: ${action})`, {
      status: 502,
      hint: 'The messages are imported. Check that this user may change the folder (flags, deleting, the move target), or set after_import: none for a read-only mailbox; it is tried again at the next connection.',
    });
  }

  warnings(): string[] {
    return [...new Set(this.connectionWarnings)];
  }

  async watch(): Promise<void> {
    // imapflow enters IDLE by itself (autoIdleDelay) and reports EXISTS through the 'exists' event.
  }

  async close(): Promise<void> {
    this.stopWatchdog();
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (client.usable) {
      const t = setTimeout(() => client.close(), 2000);
      t.unref();
      await client.logout().catch(() => undefined);
      clearTimeout(t);
    }
    client.close();
  }

  /** The UIDVALIDITY of the open folder (after connect). */
  get currentUidvalidity(): number | null {
    return this.uidvalidity;
  }
}
