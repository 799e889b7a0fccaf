/**
 * Databases for medium tests: the same suite runs against embedded PGlite and the PostgreSQL
 * server on 127.0.0.1:5432, each test file on a database of its own, dropped after the run.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { Database } from '../../src/store/database.js';
import { migrate } from '../../src/store/migrate.js';
import { PGliteDatabase } from '../../src/store/pglite-database.js';
import { PostgresDatabase } from '../../src/store/postgres-database.js';

export type DatabaseKind = 'pglite' | 'postgres';
export const DATABASE_KINDS: DatabaseKind[] = ['pglite', 'postgres'];

/** Creates an empty PostgreSQL database for this run; returns its URL and a drop function. */
export async function createPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = inject('pgAdminUrl');
  const name = `mailroom_t_${inject('runId')}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${adminUrl} (${(err as Error).message}). Start it (pg_ctlcluster 15 main start) or set MAILROOM_TEST_PG.`);
  }
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists "${name}" with (force)`);
      await c.end();
    },
  };
}

export interface TestDatabase {
  database: Database;
  /** For a server started on the same database (postgres only). */
  url?: string;
  close(): Promise<void>;
}

/** A migrated database of the given kind. PGlite runs in memory unless a folder is given. */
export async function openTestDatabase(kind: DatabaseKind, opts: { migrated?: boolean } = {}): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const database = await PGliteDatabase.open(undefined);
    if (opts.migrated ?? true) await migrate(database);
    return { database, close: () => database.close() };
  }
  const created = await createPgDatabase();
  const database = new PostgresDatabase({ url: created.url });
  if (opts.migrated ?? true) await migrate(database);
  return {
    database,
    url: created.url,
    close: async () => {
      await database.close();
      await created.drop();
    },
  };
}
