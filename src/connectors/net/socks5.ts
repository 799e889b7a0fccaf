/**
 * A SOCKS5 client of our own: RFC 1928 CONNECT with RFC 1929 username/password, one deadline
 * for the whole exchange, and failures named by phase (reach the proxy, authenticate, have it
 * connect to the server). Returns the TCP socket to the proxy, now a tunnel to the target:
 * nothing of the server's bytes consumed, ready for TLS or a protocol.
 */
import net from 'node:net';
import { AppError } from '../../domain/errors.js';
import {
  proxyAuthFailed,
  proxyProtocolError,
  proxyRefused,
  proxyTimeout,
} from './net-errors.js';
import { describeProxy, type ProxyConfig } from './proxy-url.js';

export interface Socks5ConnectOptions {
  proxy: ProxyConfig;
  /** The target as the user wrote it (a name or an IP literal). */
  host: string;
  port: number;
  /**
   * An address already resolved here (socks5://): sent as ATYP 1/4. Without it the name is
   * sent as ATYP 3 and the proxy resolves it (socks5h://).
   */
  address?: string;
  timeoutMs: number;
}

export interface Socks5Result {
  socket: net.Socket;
  /** Which RFC 1928 method the proxy chose. */
  method: 'none' | 'username';
  /** BND.ADDR:BND.PORT from the reply: the proxy's outgoing side. */
  bound: string;
}

// RFC 1928 §6: the REP field of the reply.
const REPLY_MEANING: Record<number, string> = {
  1: 'general SOCKS server failure',
  2: 'connection not allowed by the proxy rules',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused by destination',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};

const REPLY_HINT: Record<number, string> = {
  2: "The proxy's rules do not allow this destination: ask its administrator to allow it.",
  3: 'The proxy cannot reach that network: check the host, or whether this server needs the proxy at all.',
  4: 'The proxy cannot reach that host: check the host name (with socks5h:// the proxy resolves it) and that the server is up.',
  5: 'The server refused the proxy\'s connection: check the port and that the server is running.',
  6: 'The proxy timed out reaching the server: check that the server is up and reachable from the proxy.',
};

/** Reads exactly `n` bytes (never more: what follows stays in the socket for the next reader). */
function readExactly(socket: net.Socket, n: number, onClosed: () => AppError): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      socket.off('readable', tryRead);
      socket.off('end', closed);
      socket.off('close', closed);
    };
    const closed = () => {
      cleanup();
      reject(onClosed());
    };
    function tryRead(): void {
      const chunk = socket.read(n) as Buffer | null;
      if (chunk === null) return;
      cleanup();
      if (chunk.length < n) reject(onClosed());
      else resolve(chunk);
    }
    socket.on('readable', tryRead);
    socket.once('end', closed);
    socket.once('close', closed);
    tryRead();
  });
}

function addressField(host: string, address: string | undefined): Buffer {
  const target = address ?? host;
  const family = net.isIP(target);
  if (family === 4) return Buffer.from([0x01, ...target.split('.').map(Number)]);
  if (family === 6) {
    // Expand "::" to eight 16-bit groups (RFC 4291 §2.2), then write them big-endian.
    const [head, tail] = target.includes('::') ? target.split('::') : [target, undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    // An embedded IPv4 tail (::ffff:192.0.2.1) is two groups.
    const last = tail === undefined ? h : t;
    const v4 = last[last.length - 1];
    if (v4?.includes('.')) {
      const b = v4.split('.').map(Number);
      last.splice(last.length - 1, 1, ((b[0]! << 8) | b[1]!).toString(16), ((b[2]! << 8) | b[3]!).toString(16));
    }
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    const buf = Buffer.alloc(17);
    buf[0] = 0x04;
    groups.forEach((g, i) => buf.writeUInt16BE(parseInt(g, 16), 1 + i * 2));
    return buf;
  }
  const name = Buffer.from(target);
  if (name.length > 255) throw new AppError('PROXY_CONNECT_FAILED', `The host name ${target} is too long for SOCKS5`, { status: 400, hint: 'Use a shorter name or the address.' });
  return Buffer.concat([Buffer.from([0x03, name.length]), name]);
}

function formatBound(atyp: number, addr: Buffer, port: number): string {
  if (atyp === 0x01) return `${[...addr].join('.')}:${port}`;
  if (atyp === 0x04) return `[${Array.from({ length: 8 }, (_, i) => addr.readUInt16BE(i * 2).toString(16)).join(':')}]:${port}`;
  return `${addr.toString()}:${port}`;
}

/** Error for a CONNECT the proxy answered with REP != 0. */
export function proxyConnectFailed(proxyName: string, target: string, port: number, rep: number): AppError {
  const meaning = REPLY_MEANING[rep] ?? `reply code ${rep}`;
  return new AppError('PROXY_CONNECT_FAILED', `The proxy ${proxyName} could not connect to ${target} port ${port}: ${meaning}`, {
    status: 502,
    hint: REPLY_HINT[rep] ?? 'The proxy could not open the connection: check the host and port, and the proxy\'s log.',
    details: [{ path: 'socks5.rep', message: String(rep) }],
  });
}

/** Opens a tunnel through a SOCKS5 proxy to host:port; throws PROXY_* AppErrors. */
export async function socks5Connect(opts: Socks5ConnectOptions): Promise<Socks5Result> {
  const { proxy, host, port } = opts;
  const name = describeProxy(proxy);
  const started = Date.now();
  let phase: 'connect' | 'greeting' | 'auth' | 'request' = 'connect';
  const socket = net.connect({ host: proxy.host, port: proxy.port });
  socket.setNoDelay(true);

  let timer: NodeJS.Timeout | undefined;
  let onSocketError: ((err: Error) => void) | undefined;
  const failure = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(proxyTimeout(name, phaseText(phase), opts.timeoutMs)), Math.max(0, opts.timeoutMs - (Date.now() - started)));
    onSocketError = (err: Error) => {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (phase === 'connect') {
        const detail =
          code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' ? `the name ${proxy.host} does not resolve` : code || err.message;
        reject(proxyRefused(name, detail, err));
      } else if (phase === 'auth') {
        reject(proxyAuthFailed(name, `the connection broke during authentication (${code || err.message})`));
      } else {
        reject(proxyProtocolError(name, `the connection broke (${code || err.message})`));
      }
    };
    socket.on('error', onSocketError);
  });
  failure.catch(() => undefined);

  const closedIn = (what: string) => () =>
    phase === 'auth'
      ? proxyAuthFailed(name, 'it closed the connection after the user name and password were sent')
      : proxyProtocolError(name, `it closed the connection ${what}`);

  const handshake = async (): Promise<Socks5Result> => {
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // RFC 1928 §3: offer "no authentication" and, when we have credentials, username/password.
    phase = 'greeting';
    const withCreds = proxy.username !== undefined;
    socket.write(Buffer.from(withCreds ? [0x05, 0x02, 0x00, 0x02] : [0x05, 0x01, 0x00]));
    const choice = await readExactly(socket, 2, closedIn('after the greeting'));
    if (choice[0] !== 0x05) throw proxyProtocolError(name, `the reply starts with 0x${choice[0]!.toString(16)}, not SOCKS version 5`);
    let method: Socks5Result['method'] = 'none';
    if (choice[1] === 0xff) {
      throw withCreds
        ? proxyAuthFailed(name, 'it accepts none of the offered methods (no authentication, user name and password)', 'The proxy wants an authentication method Mailroom does not support (only user name and password is): check the proxy configuration.')
        : proxyAuthFailed(name, 'it requires a user name and password', 'The proxy requires a user name and password: add them to the proxy URL (socks5://user:password@host:port).');
    } else if (choice[1] === 0x02) {
      if (!withCreds) throw proxyProtocolError(name, 'it chose user name authentication, which was not offered');
      // RFC 1929 §2: VER=1, ULEN, UNAME, PLEN, PASSWD; answer VER, STATUS (0 = success).
      phase = 'auth';
      method = 'username';
      const user = Buffer.from(proxy.username!);
      const pass = Buffer.from(proxy.password ?? '');
      socket.write(Buffer.concat([Buffer.from([0x01, user.length]), user, Buffer.from([pass.length]), pass]));
      const status = await readExactly(socket, 2, closedIn('during authentication'));
      if (status[1] !== 0x00) throw proxyAuthFailed(name, 'the proxy refused the user name or password');
    } else if (choice[1] !== 0x00) {
      throw proxyProtocolError(name, `it chose method 0x${choice[1]!.toString(16)}, which was not offered`);
    }
    // RFC 1928 §4: VER=5, CMD=1 (CONNECT), RSV=0, ATYP + DST.ADDR, DST.PORT.
    phase = 'request';
    const portBuf = Buffer.alloc(2);
    portBuf.writeUInt16BE(port);
    socket.write(Buffer.concat([Buffer.from([0x05, 0x01, 0x00]), addressField(host, opts.address), portBuf]));
    // RFC 1928 §6: VER, REP, RSV, ATYP, BND.ADDR (length by ATYP), BND.PORT.
    const head = await readExactly(socket, 5, closedIn('before answering the CONNECT request'));
    if (head[0] !== 0x05) throw proxyProtocolError(name, `the CONNECT reply starts with 0x${head[0]!.toString(16)}`);
    if (head[1] !== 0x00) throw proxyConnectFailed(name, opts.address && opts.address !== host ? `${host} (${opts.address})` : host, port, head[1]!);
    const atyp = head[3]!;
    const rest = atyp === 0x01 ? 3 + 2 : atyp === 0x04 ? 15 + 2 : atyp === 0x03 ? head[4]! + 2 : -1;
    if (rest < 0) throw proxyProtocolError(name, `the CONNECT reply has address type ${atyp}`);
    const tail = await readExactly(socket, rest, closedIn('in the middle of the CONNECT reply'));
    const addr = atyp === 0x03 ? tail.subarray(0, rest - 2) : Buffer.concat([head.subarray(4, 5), tail.subarray(0, rest - 2)]);
    return { socket, method, bound: formatBound(atyp, addr, tail.readUInt16BE(rest - 2)) };
  };

  const exchange = handshake();
  // When the deadline or a socket error wins the race, the exchange still rejects later.
  exchange.catch(() => undefined);
  try {
    return await Promise.race([exchange, failure]);
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
    if (onSocketError) socket.off('error', onSocketError);
  }
}

function phaseText(phase: string): string {
  switch (phase) {
    case 'connect':
      return 'connecting to the proxy';
    case 'greeting':
      return 'waiting for the proxy to choose an authentication method';
    case 'auth':
      return 'waiting for the proxy to check the user name and password';
    default:
      return 'waiting for the proxy to connect to the server';
  }
}
