/**
 * A scripted POP3 server for unit tests of the POP3 client: each connection runs `script`,
 * which reads the client's command lines and writes whatever bytes it likes (split into tiny
 * packets, cut off, never answered). Also the RFC 1939 §3 dot-stuffing a real server applies,
 * to produce wire forms of arbitrary bodies.
 */
import net from 'node:net';

/** RFC 1939 §3 wire form of a body: lines starting with "." get another; then ".CRLF". */
export function dotStuff(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let lineStart = 0;
  while (lineStart < body.length) {
    if (body[lineStart] === 0x2e) parts.push(Buffer.from('.'));
    const crlf = body.indexOf('\r\n', lineStart);
    const end = crlf < 0 ? body.length : crlf + 2;
    parts.push(body.subarray(lineStart, end));
    lineStart = end;
  }
  // The body must end with CRLF before the terminator; a server adds one when it does not.
  const endsWithCrlf = body.length === 0 || body.subarray(-2).equals(Buffer.from('\r\n'));
  parts.push(Buffer.from(endsWithCrlf ? '.\r\n' : '\r\n.\r\n'));
  return Buffer.concat(parts);
}

export interface FakeConnection {
  socket: net.Socket;
  /** The next command line from the client (without CRLF); rejects if the client goes away. */
  readLine(): Promise<string>;
  /** Writes bytes, optionally in packets of `packet` bytes, each flushed on its own. */
  write(data: string | Buffer, packet?: number): Promise<void>;
}

export interface FakeServer {
  host: string;
  port: number;
  /** Every command line received, on every connection, in order. */
  commands: string[];
  stop(): Promise<void>;
}

/** Starts a fake POP3 server on 127.0.0.1; each connection runs `script`. */
export async function startFakePop3(script: (conn: FakeConnection) => Promise<void>): Promise<FakeServer> {
  const commands: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    let wake: (() => void) | undefined;
    let ended = false;
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      wake?.();
    });
    socket.on('close', () => {
      ended = true;
      wake?.();
    });
    const conn: FakeConnection = {
      socket,
      async readLine() {
        for (;;) {
          const at = buffered.indexOf('\r\n');
          if (at >= 0) {
            const line = buffered.slice(0, at);
            buffered = buffered.slice(at + 2);
            commands.push(line);
            return line;
          }
          if (ended) throw new Error('client went away');
          await new Promise<void>((r) => (wake = r));
        }
      },
      async write(data, packet) {
        const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
        const size = packet ?? (bytes.length || 1);
        for (let i = 0; i < bytes.length; i += size) {
          if (socket.destroyed) return;
          await new Promise<void>((r) => socket.write(bytes.subarray(i, i + size), () => r()));
          // Separate packets: let the client's event loop see each one alone.
          if (packet) await new Promise((r) => setImmediate(r));
        }
      },
    };
    void script(conn).catch(() => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    commands,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
