/** Starts a real Mailroom (HTTP on a free port) on PGlite or PostgreSQL, capturing its logs. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { settingsFromEnv } from '../../src/config/env.js';
import { Runtime } from '../../src/runtime.js';
import { createLogger } from '../../src/server/logger.js';
import { createPgDatabase, type DatabaseKind } from './databases.js';

export const ADMIN_PASSWORD = 'admin-password-1';

export interface TestRuntime {
  runtime: Runtime;
  url: string;
  logs: string[];
  printed: string[];
  dataDir: string;
  /** Stops the server; `keepData` leaves the database for a restart. */
  close(opts?: { keepData?: boolean }): Promise<void>;
  restart(): Promise<TestRuntime>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Serve the built web app (dist/web, built by `npm test` before the tests run). */
  web?: boolean;
  /** Reuse a data folder / database from an earlier runtime (restart). */
  reuse?: { dataDir: string; databaseUrl?: string; secretKey: string };
}

export async function startRuntime(kind: DatabaseKind, opts: StartOptions = {}): Promise<TestRuntime> {
  const dataDir = opts.reuse?.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'mailroom-test-')));
  const secretKey = opts.reuse?.secretKey ?? randomBytes(32).toString('base64');
  let databaseUrl = opts.reuse?.databaseUrl;
  let drop: (() => Promise<void>) | undefined;
  if (kind === 'postgres' && !databaseUrl) {
    const created = await createPgDatabase();
    databaseUrl = created.url;
    drop = created.drop;
  }
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    MAILROOM_DATA: dataDir,
    MAILROOM_SECRET_KEY: secretKey,
    MAILROOM_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: 'info',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...opts.env,
  };
  const logs: string[] = [];
  const printed: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const settings = settingsFromEnv(env);
  const runtime = await Runtime.start({
    settings,
    env,
    logger: createLogger({ level: settings.logLevel, destination }),
    print: (line) => printed.push(line),
    ...(opts.web ? { webRoot: path.resolve('dist/web') } : {}),
  });
  const self: TestRuntime = {
    runtime,
    url: runtime.url,
    logs,
    printed,
    dataDir,
    async close(closeOpts = {}) {
      await runtime.close();
      if (closeOpts.keepData) return;
      await drop?.();
      await rm(dataDir, { recursive: true, force: true });
    },
    async restart() {
      await runtime.close();
      return startRuntime(kind, { env: opts.env ?? {}, ...(opts.web ? { web: true } : {}), reuse: { dataDir, secretKey, ...(databaseUrl ? { databaseUrl } : {}) } });
    },
  };
  return self;
}
