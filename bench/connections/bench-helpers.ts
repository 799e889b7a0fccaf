/**
 * Shared by the connection benchmarks: a Mailroom server in a process of its own (so its memory
 * and CPU are its own), read from /proc; the machine's load average; an APPEND that times
 * only the command itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import pg from 'pg';
import { SERVER_NODE_FLAGS } from '../lib/server-flags.js';

const BIN = path.resolve('bin/mailroom.js');
const TICKS_PER_SECOND = 100;
const PAGE_SIZE = 4096;

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  /** Where the embedded database lives, or the PostgreSQL database in use. */
  database: string;
  stop(): Promise<void>;
}

/**
 * Starts `mailroom start` on a free port with its own data folder, on the embedded database or
 * (`postgres`) a fresh database of the PostgreSQL server at MAILROOM_TEST_PG / 127.0.0.1:5432.
 */
export async function startServer(db: 'pglite' | 'postgres', log: (line: string) => void): Promise<ServerProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailroom-bench-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    LOG_LEVEL: 'warn',
    PORT: '0',
    MAILROOM_DATA: dir,
    MAILROOM_ADMIN_PASSWORD: 'bench-password-1',
  };
  let dropDatabase: (() => Promise<void>) | undefined;
  let database = `embedded (${dir})`;
  if (db === 'postgres') {
    const adminUrl = process.env.MAILROOM_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const name = `mailroom_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    env.DATABASE_URL = adminUrl.replace(/\/[^/]*$/, `/${name}`);
    env.MAILROOM_SECRET_KEY = randomBytes(32).toString('base64');
    database = `PostgreSQL (${name})`;
    dropDatabase = async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  }
  const proc = spawn(process.execPath, [...SERVER_NODE_FLAGS, BIN, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 180 s:\n${out}`)), 180_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.length > 100_000) out = out.slice(-50_000);
      const m = /is running at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`the server exited (${code}):\n${out}`)));
  });
  // Keep draining its output (warnings) so the pipe never blocks it.
  proc.stdout!.on('data', () => undefined);
  proc.stderr!.on('data', (d: Buffer) => {
    const text = d.toString().trim();
    if (/"level":(50|60)/.test(text)) log(`server: ${text.slice(0, 300)}`);
  });
  return {
    proc,
    url,
    database,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      await dropDatabase?.().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resident memory of a process, in bytes (/proc/PID/statm). */
export function rssBytes(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/statm`, 'utf8').trim().split(/\s+/);
  return Number(fields[1]) * PAGE_SIZE;
}

/** CPU time (user + system) a process has used so far, in seconds (/proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND;
}

/**
 * Samples a process for `seconds`: RSS every second (median and max) and the CPU it used over
 * the whole window, as a share of one core.
 */
export async function sampleAtRest(pid: number, seconds: number): Promise<{ rssMedianMb: number; rssMaxMb: number; cpuPercent: number }> {
  const rss: number[] = [];
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  for (let i = 0; i < seconds; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    rss.push(rssBytes(pid));
  }
  const cpu = cpuSeconds(pid) - cpu0;
  const elapsed = (performance.now() - t0) / 1000;
  rss.sort((a, b) => a - b);
  return { rssMedianMb: rss[Math.floor(rss.length / 2)]! / 2 ** 20, rssMaxMb: rss.at(-1)! / 2 ** 20, cpuPercent: (100 * cpu) / elapsed };
}

/** The load average as `uptime` prints it. */
export function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(', ');
}

/**
 * APPENDs one message as `user` on a connection of its own; resolves with the time
 * (performance.now()) at which the server's tagged OK arrived, the moment the message exists.
 */
export async function appendTimed(host: string, port: number, user: string, pass: string, raw: Buffer): Promise<number> {
  const client = new ImapFlow({ host, port, secure: false, doSTARTTLS: false, auth: { user, pass }, logger: false });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.append('INBOX', raw);
    return performance.now();
  } finally {
    void client.logout().catch(() => client.close());
  }
}
