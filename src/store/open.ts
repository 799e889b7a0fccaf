/** Opens the database the settings name: a PostgreSQL server, or the embedded one (locked). */
import path from 'node:path';
import { DataLock } from './data-lock.js';
import type { Database } from './database.js';
import { PGliteDatabase } from './pglite-database.js';
import { PostgresDatabase } from './postgres-database.js';

export interface OpenedDatabase {
  database: Database;
  /** Held for the embedded folder; released by `close()`. */
  lock: DataLock | null;
  close(): Promise<void>;
}

export async function openDatabase(opts: { databaseUrl: string | undefined; dataDir: string; onPoolError?: (err: Error) => void }): Promise<OpenedDatabase> {
  if (opts.databaseUrl) {
    const database = new PostgresDatabase({ url: opts.databaseUrl, ...(opts.onPoolError ? { onError: opts.onPoolError } : {}) });
    return { database, lock: null, close: () => database.close() };
  }
  const lock = await DataLock.acquire(opts.dataDir);
  try {
    const database = await PGliteDatabase.open(path.join(opts.dataDir, 'pgdata'));
    return {
      database,
      lock,
      async close() {
        try {
          await database.close();
        } finally {
          await lock.release();
        }
      },
    };
  } catch (err) {
    await lock.release();
    throw err;
  }
}
