/**
 * A TCP fault proxy of our own (no tc/netem here): sits between a client and Dovecot, the SMTP
 * sink or PostgreSQL and, on command, passes, delays, stalls, cuts (FIN), resets (RST) or
 * blackholes connections, for all of them or one; triggers cut/reset/stall a connection after
 * N bytes or at a byte pattern from the server (a cut in the middle of a FETCH literal, a RETR,
 * or right before an SMTP "250" after DATA).
 */
import net from 'node:net';
import { getFreePort } from './ports.js';

/** What a connection does with the bytes it receives. */
export type FaultMode =
  | { kind: 'pass' }
  /** Each chunk waits `ms` before it is forwarded (both directions, order kept). */
  | { kind: 'delay'; ms: number }
  /** Stops forwarding (and reading) but keeps both sockets open: a dead, half-open peer. */
  | { kind: 'stall' }
  /** New connections are accepted but never forwarded or answered; open ones stall. */
  | { kind: 'blackhole' };

export type FaultAction = 'cut' | 'reset' | 'stall';

export interface FaultTrigger {
  /** Whose bytes are watched: `server` (towards the client, default) or `client`. */
  direction?: 'server' | 'client';
  /** Fire once this many bytes have been forwarded in that direction on a connection. */
  afterBytes?: number;
  /** Fire when this byte sequence is about to be forwarded. */
  pattern?: string | Buffer;
  /** Forward the pattern itself before firing (default false: the peer never sees it). */
  includePattern?: boolean;
  /**
   * With `pattern`: fire this many bytes after the end of the pattern instead (a cut in the
   * middle of what follows, e.g. `pattern: 'BODY[] {', offset: 300` inside a FETCH literal).
   */
  offset?: number;
  action: FaultAction;
  /** Only this connection id (default: any connection). */
  connection?: number;
  /** How many times it fires before disarming (default 1). */
  times?: number;
}

export interface ArmedTrigger {
  /** Resolves with the id of the connection the first time it fires. */
  fired: Promise<number>;
  /** How many times it fired. */
  count(): number;
  disarm(): void;
}

export interface FaultConnection {
  id: number;
  bytesFromClient: number;
  bytesFromServer: number;
  closed: boolean;
  mode: FaultMode;
  setMode(mode: FaultMode): void;
  /** Closes both sides with FIN. */
  cut(): void;
  /** Closes both sides with RST (`resetAndDestroy`). */
  reset(): void;
}

export interface FaultProxy {
  host: string;
  port: number;
  /** Every connection accepted so far (open and closed), in order. */
  connections: FaultConnection[];
  /** Connections still open. */
  active(): FaultConnection[];
  /** Sets the mode of the open connections (unless `existing: false`) and of new ones. */
  setMode(mode: FaultMode, opts?: { existing?: boolean }): void;
  /** Cuts (FIN) every open connection; with `refuseNew`, new ones are cut at accept too. */
  cutAll(opts?: { refuseNew?: boolean }): void;
  /** Resets (RST) every open connection; with `refuseNew`, new ones are reset at accept too. */
  resetAll(opts?: { refuseNew?: boolean }): void;
  /** Lets new connections through again after cutAll/resetAll with `refuseNew`. */
  acceptNew(): void;
  arm(trigger: FaultTrigger): ArmedTrigger;
  /** Resolves when `count` connections have been accepted in total. */
  waitForConnections(count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface Armed extends FaultTrigger {
  left: number;
  fired: number;
  resolve: (id: number) => void;
  /** A byte trigger derived from a pattern with `offset`: fired counts on the parent. */
  parent?: Armed;
}

function endBoth(a: net.Socket, b: net.Socket | undefined): void {
  for (const s of [a, b]) {
    if (!s || s.destroyed) continue;
    s.end();
    setTimeout(() => s.destroy(), 500).unref();
  }
}

function resetBoth(a: net.Socket, b: net.Socket | undefined): void {
  for (const s of [a, b]) if (s && !s.destroyed) s.resetAndDestroy();
}

/** Starts the proxy on a free port of 127.0.0.1, forwarding to `target`. */
export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const connections: Conn[] = [];
  let defaultMode: FaultMode = { kind: 'pass' };
  let refuse: 'cut' | 'reset' | undefined;
  let triggers: Armed[] = [];
  let countWaiters: Array<{ count: number; resolve: () => void }> = [];

  class Lane {
    queue: Buffer[] = [];
    busy = false;
    constructor(
      readonly conn: Conn,
      readonly direction: 'server' | 'client',
      readonly src: net.Socket,
      readonly dst: () => net.Socket | undefined,
    ) {}

    push(chunk: Buffer): void {
      this.queue.push(chunk);
      void this.pump();
    }

    /** Applies the triggers to a chunk: the part to forward, and an action to take after it. */
    private inspect(chunk: Buffer): { forward: Buffer; action?: FaultAction } {
      const conn = this.conn;
      const sent = this.direction === 'server' ? conn.bytesFromServer : conn.bytesFromClient;
      for (const t of triggers) {
        if ((t.direction ?? 'server') !== this.direction || t.left <= 0) continue;
        if (t.connection !== undefined && t.connection !== conn.id) continue;
        let cutAt: number | undefined;
        if (t.afterBytes !== undefined && sent + chunk.length >= t.afterBytes) cutAt = Math.max(0, t.afterBytes - sent);
        if (t.pattern !== undefined) {
          const pattern = typeof t.pattern === 'string' ? Buffer.from(t.pattern) : t.pattern;
          // The tail of what was already forwarded, so a pattern split across chunks is found.
          const carry = this.direction === 'server' ? conn.serverTail : conn.clientTail;
          const joined = Buffer.concat([carry, chunk]);
          const at = joined.indexOf(pattern);
          if (at >= 0 && t.offset !== undefined) {
            // Becomes a byte trigger on this connection, checked later in this same loop.
            t.left--;
            const patternEnd = sent + (at + pattern.length - carry.length);
            triggers.push({ ...t, pattern: undefined, offset: undefined, afterBytes: patternEnd + t.offset, connection: conn.id, left: 1, parent: t });
            continue;
          }
          if (at >= 0) {
            const end = (t.includePattern ? at + pattern.length : at) - carry.length;
            const p = Math.max(0, Math.min(chunk.length, end));
            cutAt = cutAt === undefined ? p : Math.min(cutAt, p);
          }
        }
        if (cutAt === undefined) continue;
        t.left--;
        const owner = t.parent ?? t;
        owner.fired++;
        owner.resolve(conn.id);
        return { forward: chunk.subarray(0, cutAt), action: t.action };
      }
      return { forward: chunk };
    }

    async pump(): Promise<void> {
      if (this.busy) return;
      this.busy = true;
      try {
        while (this.queue.length > 0 && !this.conn.closed) {
          const mode = this.conn.mode;
          const dst = this.dst();
          if (mode.kind === 'stall' || mode.kind === 'blackhole' || !dst) {
            if (mode.kind !== 'blackhole' || dst) this.src.pause();
            return;
          }
          if (mode.kind === 'delay') await new Promise((r) => setTimeout(r, mode.ms));
          if (this.conn.closed || this.conn.mode.kind === 'stall' || this.conn.mode.kind === 'blackhole') continue;
          const chunk = this.queue.shift()!;
          const { forward, action } = this.inspect(chunk);
          if (forward.length > 0) {
            this.conn.count(this.direction, forward);
            // Before a reset, wait until the bytes are handed to the kernel: an RST right after
            // write() would otherwise drop them in Node's queue and the cut would be early.
            const ok = action === 'reset' ? await new Promise<boolean>((r) => dst.write(forward, () => r(true))) : dst.write(forward);
            if (!ok) {
              this.src.pause();
              await new Promise<void>((r) => {
                dst.once('drain', r);
                dst.once('close', r);
              });
            }
          }
          if (action === 'cut') this.conn.cut();
          else if (action === 'reset') this.conn.reset();
          else if (action === 'stall') {
            this.queue.unshift(chunk.subarray(forward.length));
            this.conn.setMode({ kind: 'stall' });
          }
        }
        if (!this.conn.closed && this.conn.mode.kind !== 'stall') this.src.resume();
      } finally {
        this.busy = false;
      }
    }
  }

  class Conn implements FaultConnection {
    bytesFromClient = 0;
    bytesFromServer = 0;
    closed = false;
    serverTail = Buffer.alloc(0);
    clientTail = Buffer.alloc(0);
    upstream: net.Socket | undefined;
    toServer: Lane;
    toClient: Lane | undefined;

    constructor(
      readonly id: number,
      readonly client: net.Socket,
      public mode: FaultMode,
    ) {
      this.toServer = new Lane(this, 'client', client, () => this.upstream);
      client.on('data', (d: Buffer) => {
        // A blackholed connection reads and drops everything: no answer, ever.
        if (this.mode.kind === 'blackhole' && !this.upstream) return;
        this.toServer.push(d);
      });
      client.on('error', () => undefined);
      client.on('close', () => this.close());
      if (mode.kind !== 'blackhole') this.connectUpstream();
    }

    connectUpstream(): void {
      const up = net.connect({ host: target.host, port: target.port });
      this.upstream = up;
      up.on('error', () => undefined);
      up.on('close', () => this.close());
      up.once('connect', () => {
        this.toClient = new Lane(this, 'server', up, () => this.client);
        up.on('data', (d: Buffer) => this.toClient!.push(d));
        void this.toServer.pump();
      });
    }

    count(direction: 'server' | 'client', bytes: Buffer): void {
      const keep = (tail: Buffer) => Buffer.concat([tail, bytes]).subarray(-256);
      if (direction === 'server') {
        this.bytesFromServer += bytes.length;
        this.serverTail = keep(this.serverTail);
      } else {
        this.bytesFromClient += bytes.length;
        this.clientTail = keep(this.clientTail);
      }
    }

    setMode(mode: FaultMode): void {
      // An open connection cannot be un-forwarded: blackhole on it means stall.
      this.mode = mode.kind === 'blackhole' && this.upstream ? { kind: 'stall' } : mode;
      if (mode.kind === 'pass' || mode.kind === 'delay') {
        this.client.resume();
        this.upstream?.resume();
        void this.toServer.pump();
        void this.toClient?.pump();
      }
    }

    cut(): void {
      this.closed = true;
      endBoth(this.client, this.upstream);
    }

    reset(): void {
      this.closed = true;
      resetBoth(this.client, this.upstream);
    }

    close(): void {
      if (this.closed) {
        // Make sure the other side goes too (an RST or FIN from one end closes the pair).
        for (const s of [this.client, this.upstream]) if (s && !s.destroyed && s.writableEnded) s.destroy();
        return;
      }
      this.closed = true;
      endBoth(this.client, this.upstream);
    }
  }

  const server = net.createServer((client) => {
    const conn = new Conn(connections.length + 1, client, refuse ? { kind: 'stall' } : defaultMode);
    connections.push(conn);
    countWaiters = countWaiters.filter((w) => {
      if (connections.length < w.count) return true;
      w.resolve();
      return false;
    });
    if (refuse === 'cut') conn.cut();
    else if (refuse === 'reset') conn.reset();
  });
  server.on('error', () => undefined);
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await getFreePort();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
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
    connections,
    active: () => connections.filter((c) => !c.closed),
    setMode(mode, opts = {}) {
      defaultMode = mode;
      if (opts.existing ?? true) for (const c of connections) if (!c.closed) c.setMode(mode);
    },
    cutAll(opts = {}) {
      if (opts.refuseNew) refuse = 'cut';
      for (const c of connections) if (!c.closed) c.cut();
    },
    resetAll(opts = {}) {
      if (opts.refuseNew) refuse = 'reset';
      for (const c of connections) if (!c.closed) c.reset();
    },
    acceptNew() {
      refuse = undefined;
    },
    arm(trigger) {
      let resolve!: (id: number) => void;
      const fired = new Promise<number>((r) => (resolve = r));
      const armed: Armed = { ...trigger, left: trigger.times ?? 1, fired: 0, resolve };
      triggers.push(armed);
      return {
        fired,
        count: () => armed.fired,
        disarm: () => {
          triggers = triggers.filter((t) => t !== armed && t.parent !== armed);
        },
      };
    },
    waitForConnections(count, timeoutMs = 10_000) {
      if (connections.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`fault proxy: ${connections.length} of ${count} connections after ${timeoutMs} ms`)), timeoutMs);
        countWaiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) if (!c.closed) c.reset();
        server.close(() => resolve());
      }),
  };
}
