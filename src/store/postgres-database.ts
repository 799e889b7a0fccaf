/** A PostgreSQL server via `DATABASE_URL`, through node-postgres' pool. */
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import { withTimeout, type Database } from './database.js';
import type { DB } from './schema.js';

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    // int8 ids and counts fit in a double for any realistic contact center (< 2^53).
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

export interface PostgresOptions {
  url: string;
  max?: number;
  onError?: (err: Error) => void;
}

export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  readonly db: Kysely<DB>;
  /** Background work shares the pool: a server has connections enough (Database.background). */
  get background(): Kysely<DB> {
    return this.db;
  }
  readonly pool: pg.Pool;

  constructor(opts: PostgresOptions) {
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.max ?? 10,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      types,
      application_name: 'mailroom',
    });
    // An idle client whose server went away emits 'error' on the pool; without a listener that
    // would crash the process. The next query reconnects (and /health reports the outage).
    this.pool.on('error', (err) => opts.onError?.(err));
    this.db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: this.pool }) });
  }

  async exec(script: string): Promise<void> {
    // No parameters: node-postgres uses the simple query protocol, which allows several statements.
    await this.pool.query(script);
  }

  async ping(timeoutMs = 2000): Promise<void> {
    await withTimeout(this.pool.query('select 1'), timeoutMs, 'the database server did not answer');
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
