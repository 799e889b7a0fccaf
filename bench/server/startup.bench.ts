/**
 * Server start time (embedded database, fresh and existing data folder), measured from process
 * spawn to the first successful /api/v1/health, and /api/v1/health requests/s from a keep-alive
 * client in this process (the server runs in its own process) on embedded and PostgreSQL.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { percentile, round, type Bench } from '../lib/report.js';
import { SERVER_NODE_FLAGS } from '../lib/server-flags.js';

const BIN = path.resolve('bin/mailroom.js');

async function startAndTime(env: Record<string, string>): Promise<{ ms: number; url: string; stop: () => Promise<void> }> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, [...SERVER_NODE_FLAGS, BIN, 'start'], { env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /is running at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', () => reject(new Error(`server exited: ${out}`)));
  });
  for (;;) {
    const ok = await fetch(`${url}/api/v1/health`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  return {
    ms,
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        proc.on('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** Requests/s against `url` with `concurrency` keep-alive connections for `seconds`. */
async function load(url: string, seconds: number, concurrency: number): Promise<{ rps: number; p50: number; p99: number; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t = performance.now();
      http
        .get(url, { agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - t);
            else errors++;
            resolve();
          });
        })
        .on('error', () => {
          errors++;
          resolve();
        });
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  agent.destroy();
  return { rps: latencies.length / ((performance.now() - t0) / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
}

const bench: Bench = {
  name: 'server-startup',
  async run({ quick, log }) {
    const runs = quick ? 2 : 5;
    const seconds = quick ? 3 : 10;
    const fresh: number[] = [];
    const existing: number[] = [];
    const dirs: string[] = [];
    let embedded: Awaited<ReturnType<typeof load>> | undefined;
    for (let i = 0; i < runs; i++) {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'mailroom-bench-'));
      dirs.push(dir);
      const env = { MAILROOM_DATA: dir, MAILROOM_ADMIN_PASSWORD: 'bench-password-1' };
      const a = await startAndTime(env);
      fresh.push(a.ms);
      await a.stop();
      const b = await startAndTime(env);
      existing.push(b.ms);
      log(`run ${i + 1}: fresh ${Math.round(a.ms)} ms, existing ${Math.round(b.ms)} ms`);
      if (i < runs - 1) await b.stop();
      else {
        embedded = await load(`${b.url}/api/v1/health`, seconds, 32);
        log(`embedded /health: ${Math.round(embedded.rps)} req/s`);
        await b.stop();
      }
    }
    if (!embedded) throw new Error('no embedded load run');

    // The same on a PostgreSQL server (a database of its own, dropped after).
    const admin = new pg.Client({ connectionString: process.env.MAILROOM_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
    await admin.connect();
    const dbName = `mailroom_bench_${randomBytes(4).toString('hex')}`;
    await admin.query(`create database ${dbName}`);
    let postgres: Awaited<ReturnType<typeof load>> | undefined;
    let pgStart: number | undefined;
    try {
      const s = await startAndTime({
        DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${dbName}`,
        MAILROOM_SECRET_KEY: randomBytes(32).toString('base64'),
        MAILROOM_ADMIN_PASSWORD: 'bench-password-1',
        MAILROOM_DATA: dirs[0]!,
      });
      pgStart = s.ms;
      postgres = await load(`${s.url}/api/v1/health`, seconds, 32);
      log(`postgres /health: ${Math.round(postgres.rps)} req/s`);
      await s.stop();
    } finally {
      await admin.query(`drop database if exists ${dbName} with (force)`);
      await admin.end();
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    }
    const med = (v: number[]) => round(percentile(v, 50), 0);
    return {
      name: 'server-startup',
      description:
        'Start time from spawning `node bin/mailroom.js start` to the first 200 from /api/v1/health (median of the runs), on a fresh and on an existing embedded data folder; ' +
        '/api/v1/health (which pings the database) requests/s with 32 keep-alive connections from the benchmark process, server in its own process, both on this 2-core machine.',
      figures: {
        runs,
        start_fresh_embedded_ms_p50: med(fresh),
        start_fresh_embedded_ms_max: round(Math.max(...fresh), 0),
        start_existing_embedded_ms_p50: med(existing),
        start_existing_embedded_ms_max: round(Math.max(...existing), 0),
        start_fresh_postgres_ms: pgStart === undefined ? null : round(pgStart, 0),
        health_rps_embedded: round(embedded.rps, 0),
        health_latency_ms_p50_embedded: round(embedded.p50),
        health_latency_ms_p99_embedded: round(embedded.p99),
        health_rps_postgres: postgres ? round(postgres.rps, 0) : null,
        health_latency_ms_p99_postgres: postgres ? round(postgres.p99) : null,
        health_errors: embedded.errors + (postgres?.errors ?? 0),
      },
      notes: ['The load generator shares the 2 cores with the server, so requests/s is a floor, not the ceiling of one core.'],
    };
  },
};

export default bench;
