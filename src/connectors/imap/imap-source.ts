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
import type { KnownKeys, MailSource, SourceBatch, SourceCapabilities, SourceEvents, SourceMessage, SyncPosition } from '../mail-source.js';
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
  diagnostics: { steps?: ConnectionStep[]; onStartTls?: (outcome: TlsOutcome, ms: number) => void } = {},
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
    // Re-issue IDLE every keepalive (RFC 2177 asks for < 29 min); a dead link then shows as
    // silence, which socketTimeout turns into an error within keepalive + timeout.
    maxIdleTime: live.keepalive_s * 1000,
    socketTimeout: (live.keepalive_s + live.timeout_s) * 1000,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    transport,
    ...extra,
  });
}

/** Batches stay below both bounds, so a 10,000-message backlog never sits in memory at once. */
const BATCH_MESSAGES = 100;
const BATCH_BYTES = 16 * 1024 * 1024;

export interface ImapSourceOptions {
  /** The mailbox's spec with its secrets. */
  spec: MailboxSpec;
  logger?: Logger;
  /** Extra imapflow options (the shared transport for proxy and TLS policy; tests). */
  imapOptions?: Partial<ImapFlowOptions>;
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
  /** HIGHESTMODSEQ from SELECT is fresh only until the first read after connecting. */
  private modseqFresh = false;

  constructor(private readonly opts: ImapSourceOptions) {}

  private get spec(): MailboxSpec {
    return this.opts.spec;
  }

  private fail(err: unknown): never {
    throw classifyImapError(err, { host: this.spec.host, folder: this.spec.folder });
  }

  async connect(events: SourceEvents): Promise<void> {
    const client = await createImapClient(this.opts.spec, { ...this.opts.imapOptions });
    const { spec } = this;
    this.client = client;
    let closed = false;
    const onClose = (reason: Error | null) => {
      if (closed) return;
      closed = true;
      events.onClose(reason);
    };
    client.on('error', (err: Error) => {
      this.opts.logger?.debug({ err: err.message }, 'imap connection error');
      onClose(classifyImapError(err, { host: spec.host, folder: spec.folder }));
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
  }

  private need(): ImapFlow {
    if (!this.client) throw new Error('ImapSource used before connect()');
    return this.client;
  }

  async read(position: SyncPosition, handle: (batch: SourceBatch) => Promise<void>, _known?: KnownKeys): Promise<void> {
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
      const found = await client.search({ uid: `${lastUid + 1}:*` }, { uid: true });
      // RFC 3501 §6.4.8: "N:*" includes the highest UID even when it is below N; drop those.
      const uids = (found || []).filter((u) => u > lastUid).sort((a, b) => a - b);
      if (uids.length === 0) {
        if (reset || position.uidvalidity === null || modseq !== position.highestModseq) {
          await handle({ messages: [], position: { ...position, uidvalidity, lastUid, highestModseq: modseq }, reset });
        }
        return;
      }
      const sizes = new Map<number, number>();
      for (const m of await client.fetchAll(uidSet(uids), { uid: true, size: true }, { uid: true })) sizes.set(m.uid, m.size ?? 0);
      let chunk: number[] = [];
      let bytes = 0;
      const flush = async (last: boolean) => {
        if (chunk.length === 0) return;
        const fetched = await client.fetchAll(uidSet(chunk), { uid: true, source: true, internalDate: true }, { uid: true });
        const messages: SourceMessage[] = fetched
          .filter((m) => m.source)
          .sort((a, b) => a.uid - b.uid)
          .map((m) => ({ key: imapKey(uidvalidity, m.uid), raw: m.source!, internalDate: m.internalDate ? new Date(m.internalDate) : null }));
        const top = chunk[chunk.length - 1]!;
        await handle({ messages, position: { uidvalidity, lastUid: top, highestModseq: last ? modseq : position.highestModseq, cursor: null }, reset });
        chunk = [];
        bytes = 0;
      };
      for (let i = 0; i < uids.length; i++) {
        const uid = uids[i]!;
        const size = sizes.get(uid) ?? 0;
        if (chunk.length > 0 && (chunk.length >= BATCH_MESSAGES || bytes + size > BATCH_BYTES)) await flush(false);
        chunk.push(uid);
        bytes += size;
      }
      await flush(true);
    } catch (err) {
      this.fail(err);
    }
  }

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
    try {
      if (action === 'seen') await client.messageFlagsAdd(set, ['\\Seen'], { uid: true });
      else if (action === 'delete') await client.messageDelete(set, { uid: true });
      else {
        const target = action.slice('move:'.length);
        const moved = await client.messageMove(set, target, { uid: true });
        if (!moved) {
          // RFC 3501 §7.1 TRYCREATE: the target is missing; create it once, then move.
          await client.mailboxCreate(target).catch(() => undefined);
          await client.messageMove(set, target, { uid: true });
        }
      }
    } catch (err) {
      this.fail(err);
    }
  }

  async watch(): Promise<void> {
    // imapflow enters IDLE by itself (autoIdleDelay) and reports EXISTS through the 'exists' event.
  }

  async close(): Promise<void> {
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
