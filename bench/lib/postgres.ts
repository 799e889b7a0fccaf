/** A PostgreSQL server for the benchmarks' server variants (MAILROOM_TEST_PG, else the local one). */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A fresh, empty database for one run, or null when no server is reachable. */
export async function benchPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> } | null> {
  const adminUrl = process.env.MAILROOM_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const admin = new pg.Client({ connectionString: adminUrl });
  try {
    await admin.connect();
  } catch {
    return null;
  }
  const name = `mailroom_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`create database ${name}`);
  return {
    url: adminUrl.replace(/\/[^/]*$/, `/${name}`),
    drop: async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
