/**
 * Embedded PostgreSQL (PGlite, WASM) behind Kysely's own PostgresDialect. PGlite is one
 * connection, so the "pool" hands it out to one borrower at a time: a transaction holds it from
 * BEGIN to COMMIT and nothing else interleaves (which is also what makes `FOR UPDATE` and
 * advisory locks meaningful here).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import v8 from 'node:v8';
import { PGlite, types } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient, type PostgresQueryResult } from 'kysely';
import { ConnectionQueue, type Priority } from './connection-queue.js';
import { withTimeout, type Database } from './database.js';
import type { DB } from './schema.js';


function commandOf(sqlText: string): PostgresQueryResult<unknown>['command'] {
  // Kysely reads numAffectedRows only for these commands; a SELECT (or WITH … SELECT) has none.
  const m = /^\s*(insert|update|delete|merge)\b/i.exec(sqlText) ?? /\)\s*(insert|update|delete|merge)\b/i.exec(sqlText);
  return (m?.[1]?.toUpperCase() as PostgresQueryResult<unknown>['command'] | undefined) ?? 'SELECT';
}

/** PGlite as Kysely's pool: its one connection, taken from `queue` with this pool's priority. */
class PGlitePool implements PostgresPool {
  constructor(
    private readonly pg: PGlite,
    private readonly queue: ConnectionQueue,
    private readonly priority: Priority,
  ) {}

  async connect(): Promise<PostgresPoolClient> {
    const release = await this.queue.acquire(this.priority);
    const pg = this.pg;
    let released = false;
    const client = {
      async query<R>(sqlText: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
        if (parameters.length === 0 && sqlText.includes(';')) {
          const results = await pg.exec(sqlText);
          const last = results[results.length - 1];
          return { command: commandOf(sqlText), rowCount: last?.affectedRows ?? 0, rows: (last?.rows ?? []) as R[] };
        }
        const res = await pg.query<R>(sqlText, parameters as unknown[]);
        return { command: commandOf(sqlText), rowCount: res.affectedRows ?? res.rows.length, rows: res.rows };
      },
      release(): void {
        if (released) return;
        released = true;
        release();
      },
    };
    return client as PostgresPoolClient;
  }

  async end(): Promise<void> {
    // Closed by PGliteDatabase.close(), after Kysely lets go.
  }
}

/** bytea's hex text form (`\\x…`) to bytes. */
export function parseBytea(v: string): Uint8Array {
  return Buffer.from(v.slice(2), 'hex');
}

/**
 * Bytes as they are: PGlite sends a parameter that is bytes in the binary format, so raw mail
 * goes into the database without a hex text twice its size (built, measured and encoded in JS,
 * then parsed again by PostgreSQL).
 */
export function serializeBytea(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new Error('Invalid input for bytea type');
  return v;
}

/**
 * JSON parameters as UTF-8 bytes in the binary format (for jsonb: a version byte, 1,
 * then the text). PGlite measures a string parameter character by character in JS, twice, then
 * encodes it; a group of filed messages is a JSON parameter of megabytes. Node's own UTF-8
 * encoder does it in one native pass (a lone surrogate becomes U+FFFD, as with PGlite's).
 */
export function serializeUtf8(version: number | null) {
  return (v: unknown): Uint8Array => {
    const text = typeof v === 'string' ? v : JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
    if (version === null) return Buffer.from(text, 'utf8');
    const out = Buffer.allocUnsafe(1 + Buffer.byteLength(text, 'utf8'));
    out[0] = version;
    out.write(text, 1, 'utf8');
    return out;
  };
}

/**
 * The embedded database is WebAssembly, which V8 compiles a function at a time on first call,
 * by default with its baseline compiler (Liftoff), then again optimized in the background once
 * the function is hot. On a server just started with mail waiting, that second compilation takes
 * a core from the connector and the parsers while the database still runs its baseline code.
 * Compiling optimized at once (bench ingest-throughput, cold, six alternated rounds): 2.62
 * instead of 3.09 ms of CPU a message (median), filed at 0.50 instead of 0.46x the baseline;
 * bench backlog-statements: the database's first 2,000 messages 0.46 instead of 0.56 ms each.
 * The price is paid once per start, by what opening the database runs: a start takes about 1 s
 * longer (bench server-startup, medians: an existing data folder 5.0 s against 4.2 s, a new one
 * 11.2 s against 10.2 s). Set before the module is compiled; PGlite is the only WebAssembly
 * Mailroom runs.
 */
function compileWasmOptimized(): void {
  v8.setFlagsFromString('--no-liftoff');
}

export class PGliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  readonly db: Kysely<DB>;
  readonly background: Kysely<DB>;
  private readonly pool: PGlitePool;

  private constructor(private readonly pg: PGlite) {
    const queue = new ConnectionQueue();
    this.pool = new PGlitePool(pg, queue, 'interactive');
    this.db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: this.pool }) });
    this.background = new Kysely<DB>({ dialect: new PostgresDialect({ pool: new PGlitePool(pg, queue, 'background') }) });
  }

  /** Opens (creating when new) the database in `dir`; `undefined` keeps it in memory (tests). */
  static async open(dir: string | undefined): Promise<PGliteDatabase> {
    if (dir) await mkdir(dir, { recursive: true });
    compileWasmOptimized();
    const start = async () => {
      const pg = new PGlite(dir, {
        // int8 ids and counts fit in a double for any realistic contact center (< 2^53).
        // bytea out with Node's native hex codec, in as binary: PGlite's own builds a string per
        // byte, which was the largest part of storing a backlog's raw mail (ingest-throughput bench).
        parsers: { [types.INT8]: (v: string) => Number(v), [types.BYTEA]: parseBytea },
        // Its serializer type says string; a Uint8Array it sends as a binary parameter.
        // (JSON: see serializeUtf8. Not text: its serializer also makes the elements of text[].)
        serializers: {
          [types.BYTEA]: serializeBytea,
          [types.JSONB]: serializeUtf8(1),
          [types.JSON]: serializeUtf8(null),
        } as unknown as Record<number, (v: unknown) => string>,
      });
      await pg.waitReady;
      return pg;
    };
    const fresh = dir !== undefined && !existsSync(path.join(dir, 'PG_VERSION'));
    let pg = await start();
    if (fresh) {
      // Creating the cluster (initdb) grows the WASM memory to about 1 GB, and WASM memory never
      // shrinks: the process would keep that until its next start. A second instance on the
      // now-existing folder starts at a fraction of it (bench: 999 MB -> ~420 MB RSS at rest).
      await pg.close();
      pg = await start();
    }
    return new PGliteDatabase(pg);
  }

  async exec(script: string): Promise<void> {
    const client = await this.pool.connect();
    try {
      await this.pg.exec(script);
    } finally {
      client.release();
    }
  }

  async ping(timeoutMs = 2000): Promise<void> {
    await withTimeout(this.pg.query('select 1'), timeoutMs, 'the embedded database did not answer');
  }

  async close(): Promise<void> {
    await this.background.destroy();
    await this.db.destroy();
    if (!this.pg.closed) await this.pg.close();
  }
}
