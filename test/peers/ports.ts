/**
 * Free TCP ports for test peers. The kernel picks an unused ephemeral port (bind to port 0),
 * we close the listener and hand the number to the peer. There is a small window in which
 * another process could take it; peers that start a server of their own (Dovecot, Dante) retry
 * with new ports when the log says "Address already in use".
 */
import net from 'node:net';

/** Returns a TCP port that was free on `host` (default 127.0.0.1) a moment ago. */
export function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** `count` distinct free ports (held open together while picking, so they differ). */
export async function getFreePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port: 0, exclusive: true }, () => resolve());
      });
      const address = server.address();
      if (typeof address !== 'object' || !address) throw new Error('no port assigned');
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/**
 * Resolves once something accepts TCP connections on host:port; rejects after `timeoutMs`, or
 * at once when `alive()` says the process that should listen has died (its log explains why).
 */
export async function waitForPort(
  host: string,
  port: number,
  opts: { timeoutMs?: number; alive?: () => string | undefined } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    const dead = opts.alive?.();
    if (dead) throw new Error(dead);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${opts.timeoutMs ?? 15_000} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
