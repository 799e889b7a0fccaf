/**
 * Once per test run: a run id that names this run's PostgreSQL databases (each medium test file
 * creates its own `mailroom_t_<run>_<n>`), and a teardown that drops whatever is left of them.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

export const PG_ADMIN_URL = process.env.MAILROOM_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    runId: string;
    pgAdminUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const runId = randomBytes(4).toString('hex');
  project.provide('runId', runId);
  project.provide('pgAdminUrl', PG_ADMIN_URL);
  return async () => {
    const client = new pg.Client({ connectionString: PG_ADMIN_URL });
    try {
      await client.connect();
      const { rows } = await client.query<{ datname: string }>('select datname from pg_database where datname like $1', [`mailroom_t_${runId}_%`]);
      for (const r of rows) await client.query(`drop database if exists "${r.datname}" with (force)`);
    } catch {
      // PostgreSQL was not reachable: the medium tests that needed it have failed and said why.
    } finally {
      await client.end().catch(() => undefined);
    }
  };
}
