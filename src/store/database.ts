/**
 * The `Database` port: one Kysely instance over PostgreSQL, served either by embedded PGlite
 * (a data folder, single process) or by a PostgreSQL server (`DATABASE_URL`). Same SQL, same
 * migrations; the only differences are connection handling and `kind`.
 */
import type { Kysely } from 'kysely';
import type { DB } from './schema.js';

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  readonly db: Kysely<DB>;
  /**
   * The same database for work nobody waits on as it happens (storing and filing mail,
   * retention). The embedded database lets everything else use its one connection first
   * (connection-queue.ts); a PostgreSQL server has connections enough: there it is `db`.
   */
  readonly background: Kysely<DB>;
  /** Runs a script of several statements (DDL in migrations). */
  exec(script: string): Promise<void>;
  /** Resolves when the database answers within `timeoutMs`, else rejects. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Rejects after `ms` unless `promise` settles first; the timer never keeps the process alive. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
