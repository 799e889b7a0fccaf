/**
 * Runs pending migrations under a session advisory lock, so several nodes starting at once
 * apply each migration exactly once (the others wait, then find nothing to do). Each migration
 * and its bookkeeping row commit in one transaction.
 */
import { sql } from 'kysely';
import type { Database } from './database.js';
import { MIGRATIONS, type MigrationScript } from './migrations/index.js';

/** An arbitrary constant: the advisory-lock key that serializes migrations across nodes. */
const MIGRATION_LOCK_KEY = 7_042_118_311;

export interface MigrateResult {
  applied: string[];
  current: string | null;
}

export async function migrate(
  database: Database,
  opts: { migrations?: readonly MigrationScript[]; onProgress?: (msg: string) => void } = {},
): Promise<MigrateResult> {
  const migrations = opts.migrations ?? MIGRATIONS;
  const applied: string[] = [];
  await database.db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
    try {
      await sql`create table if not exists mailroom_migrations (name text primary key, applied_at timestamptz not null default now())`.execute(conn);
      const done = new Set((await sql<{ name: string }>`select name from mailroom_migrations`.execute(conn)).rows.map((r) => r.name));
      for (const m of migrations) {
        if (done.has(m.name)) continue;
        opts.onProgress?.(`applying migration ${m.name}`);
        await conn.transaction().execute(async (tx) => {
          await sql.raw(m.up).execute(tx);
          await sql`insert into mailroom_migrations (name) values (${m.name})`.execute(tx);
        });
        applied.push(m.name);
      }
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(conn);
    }
  });
  return { applied, current: migrations.at(-1)?.name ?? null };
}
