/**
 * A port where TCP connections never complete: a listener with a backlog of 0 whose accept
 * queue is already full and that never accepts, so Linux drops further SYNs (the client's
 * connect hangs, as with a firewall that drops packets). Node cannot do this itself (libuv
 * accepts at once), so a tiny python3 process holds the socket.
 */
import { spawnPeer } from './peer-process.js';
import { requireSystemPackages } from './system-packages.js';

const SCRIPT = `
import socket, sys, time
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(0)
port = s.getsockname()[1]
held = []
for _ in range(3):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(('127.0.0.1', port))
    except BlockingIOError:
        pass
    held.append(c)
time.sleep(0.2)
print(port, flush=True)
sys.stdin.read()
`;

export interface SilentPort {
  host: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts the silent listener; resolves with its port. */
export async function startSilentPort(): Promise<SilentPort> {
  requireSystemPackages(['python3']);
  // stdin stays open (a pipe): the script holds the socket until it closes.
  const proc = spawnPeer('/usr/bin/python3', ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`silent port did not start: ${proc.output()}`)), 10_000);
    proc.child.stdout?.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(Number(d.toString().trim()));
    });
    proc.child.once('exit', () => reject(new Error(`silent port exited: ${proc.output()}`)));
  });
  return { host: '127.0.0.1', port, stop: () => proc.stop() };
}
