/**
 * A real SOCKS5 proxy (Dante 1.4, `danted`) on a free port, with no authentication or with
 * RFC 1929 username/password. Dante's `username` method checks system accounts, so the
 * username variant creates one (`useradd`, idempotent) and sets its password (`chpasswd`).
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { removeFolder, spawnPeer, trackFolder, type PeerProcess } from './peer-process.js';
import { getFreePort, waitForPort } from './ports.js';
import { isRoot, requireSystemPackages } from './system-packages.js';

const exec = promisify(execFile);

/** The system account the username tests use; every test file shares it, so the password is fixed. */
export const DANTE_TEST_USER = 'mailroom-proxy-test';
export const DANTE_TEST_PASSWORD = 'proxy-pass-1';

export interface DanteOptions {
  /** `none`, or a system account Dante checks (default account: DANTE_TEST_USER). */
  auth: 'none' | { user: string; password: string };
}

export interface DantePeer {
  host: string;
  port: number;
  /** `socks5://[user:pass@]127.0.0.1:port` for this proxy. */
  url: string;
  logPath: string;
  log(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Creates (if missing) the system account and sets its password. Two test files may run this
 * at once: useradd then fails on the passwd lock or "already exists", so it retries briefly.
 */
export async function ensureSystemAccount(user: string, password: string): Promise<void> {
  if (!isRoot()) throw new Error('Dante username authentication needs a system account: run the tests as root');
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) throw new Error(`not a valid system user name: ${user}`);
  for (let attempt = 1; ; attempt++) {
    const exists = await exec('id', ['-u', user]).then(() => true, () => false);
    if (exists) break;
    try {
      await exec('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user]);
      break;
    } catch (err) {
      if (attempt >= 20) throw new Error(`useradd ${user} failed: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const child = execFile('chpasswd');
      const done = new Promise<void>((resolve, reject) =>
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd exited with ${code}`)))),
      );
      child.stdin?.end(`${user}:${password}\n`);
      await done;
      return;
    } catch (err) {
      if (attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function config(port: number, logPath: string, username: boolean): string {
  const method = username ? 'username' : 'none';
  return `# Written by test/peers/dante.ts
logoutput: ${logPath}
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
clientmethod: none
socksmethod: ${method}
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  log: error
}
socks pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  command: connect
  log: error connect
}
`;
}

/** Starts danted; resolves when it accepts connections. */
export async function startDante(opts: DanteOptions = { auth: 'none' }): Promise<DantePeer> {
  requireSystemPackages(['dante']);
  const auth = opts.auth === 'none' ? undefined : opts.auth;
  if (auth) await ensureSystemAccount(auth.user, auth.password);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailroom-dante-'));
  trackFolder(dir);
  await chmod(dir, 0o755);
  const configPath = path.join(dir, 'danted.conf');
  const logPath = path.join(dir, 'danted.log');
  let proc: PeerProcess | undefined;
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await getFreePort();
    await writeFile(configPath, config(port, logPath, auth !== undefined));
    proc = spawnPeer('/usr/sbin/danted', ['-f', configPath, '-p', path.join(dir, 'danted.pid')]);
    const current = proc;
    try {
      await waitForPort('127.0.0.1', port, {
        alive: () => {
          const reason = current.exited();
          return reason ? `danted stopped: ${reason}\n${current.output()}` : undefined;
        },
      });
      break;
    } catch (err) {
      await current.stop();
      const log = await readFile(logPath, 'utf8').catch(() => '');
      if (attempt < 3 && /in use/i.test(`${log}${current.output()}`)) continue;
      await removeFolder(dir);
      throw new Error(`Dante did not start: ${(err as Error).message}\n${log}`);
    }
  }
  const running = proc;
  const creds = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@` : '';
  return {
    host: '127.0.0.1',
    port,
    url: `socks5://${creds}127.0.0.1:${port}`,
    logPath,
    log: () => readFile(logPath, 'utf8').catch(() => ''),
    async stop() {
      await running.stop();
      await removeFolder(dir);
    },
  };
}
