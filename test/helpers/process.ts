/** Runs `bin/mailroom.js` as a real process and reads what it prints. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const BIN = path.resolve('bin/mailroom.js');

export interface MailroomProcess {
  proc: ChildProcess;
  output: () => string;
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Keeps a child's environment free of the test runner's settings. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn' };
  return { ...env, ...extra };
}

export function spawnMailroom(args: string[], env: Record<string, string>, stdin?: string): MailroomProcess {
  const proc = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  if (stdin !== undefined) proc.stdin!.end(stdin);
  else proc.stdin!.end();
  return watchProcess(proc, 60_000);
}

/** Collects a child's output (stdout and stderr together) and lets a test wait for a line in it. */
export function watchProcess(proc: ChildProcess, defaultWaitMs: number): MailroomProcess {
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString('utf8');
    for (const l of listeners) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    output: () => out,
    exited,
    waitFor(pattern, ms = defaultWaitMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; output so far:\n${out}`));
        }, ms);
        listeners.add(check);
        void exited.then(() =>
          setTimeout(() => {
            if (listeners.has(check)) {
              listeners.delete(check);
              clearTimeout(timer);
              reject(new Error(`the process exited before printing ${pattern}; output:\n${out}`));
            }
          }, 50),
        );
        check();
      });
    },
  };
}

/** Runs a CLI command to its end. */
export async function runMailroom(args: string[], env: Record<string, string>, stdin?: string): Promise<{ code: number | null; output: string }> {
  const p = spawnMailroom(args, env, stdin);
  const { code } = await p.exited;
  return { code, output: p.output() };
}

/** Starts a server and waits for its URL. */
export async function startServer(env: Record<string, string>): Promise<MailroomProcess & { url: string }> {
  const p = spawnMailroom(['start'], { PORT: '0', ...env });
  const m = await p.waitFor(/is running at (http:\/\/\S+)/);
  return Object.assign(p, { url: m[1]! });
}
