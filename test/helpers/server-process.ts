/**
 * Mailroom as a real child process that a test can `kill -9` and start again on the same data
 * folder, and a look into its embedded database while it is down.
 *
 * The child runs the compiled CLI in dist/ directly. `bin/mailroom.js` would rebuild first
 * whenever a source file is newer than the build, so a test that restarts the server twenty
 * times while someone edits the tree would wait for builds (15–20 s each) and could pick up a
 * half-edited tree between two restarts. `ensureBuilt()` builds once, before the first start
 * (`npm test` has built already, so it is a no-op there); every restart then runs the same code.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { BIN, cleanEnv, watchProcess, type MailroomProcess } from './process.js';

/**
 * `MAILROOM_TEST_DIST` runs the server from another build (a copy of dist/ with a deliberate
 * bug, to see that a test catches it); it is used as it is, never rebuilt.
 */
const DIST = process.env.MAILROOM_TEST_DIST ? path.resolve(process.env.MAILROOM_TEST_DIST) : undefined;
const ENTRY = path.join(DIST ?? path.resolve('dist'), 'src/cli/main.js');

const children = new Set<ChildProcess>();
let hooked = false;

/** A test that crashes must not leave servers behind holding data folders. */
function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const c of children) c.kill('SIGKILL');
  });
}

let built = false;

/** Builds dist/ if the sources are newer (what `bin/mailroom.js` does), once per test file. */
export function ensureBuilt(): void {
  if (built || DIST) return;
  const r = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8', env: cleanEnv({}) });
  if (r.status !== 0) throw new Error(`building Mailroom failed:\n${r.stdout}\n${r.stderr}`);
  built = true;
}

export interface ServerProcess extends MailroomProcess {
  /** SIGKILL, resolved once the process is gone (its sockets closed, its files as they were). */
  kill9(): Promise<void>;
  /** SIGTERM (a clean stop: connectors close, the database closes), resolved at exit. */
  stop(): Promise<void>;
}

const RUNNING = /is running at (http:\/\/\S+)/;

/** Spawns `mailroom start` from dist/ without waiting for it to be ready. */
export function spawnServer(env: Record<string, string>): ServerProcess {
  ensureBuilt();
  const script = `const { main } = await import(${JSON.stringify(pathToFileURL(ENTRY).href)}); const code = await main(['start']); if (code !== 0) process.exit(code);`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { env: cleanEnv({ PORT: '0', ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
  track(proc);
  const watched = watchProcess(proc, 90_000);
  const gone = async (signal: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await watched.exited;
  };
  return { ...watched, kill9: () => gone('SIGKILL'), stop: () => gone('SIGTERM') };
}

/** Starts a server and waits until it serves (its URL printed). */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess & { url: string }> {
  const p = spawnServer(env);
  try {
    const m = await p.waitFor(RUNNING);
    return Object.assign(p, { url: m[1]! });
  } catch (err) {
    await p.kill9();
    throw err;
  }
}

/** Resolves with the URL once `p` prints it. */
export async function serverUrl(p: ServerProcess): Promise<string> {
  return (await p.waitFor(RUNNING))[1]!;
}

/**
 * Opens the embedded database of a data folder whose server is stopped (or killed: PGlite
 * recovers from its WAL as the server would at its next start), runs `fn`, closes it. Never
 * while a server runs on the folder: PGlite is one process per data folder.
 */
export async function withStoppedStore<T>(dataDir: string, fn: (pg: PGlite) => Promise<T>): Promise<T> {
  const pg = new PGlite(path.join(dataDir, 'pgdata'));
  try {
    await pg.waitReady;
    return await fn(pg);
  } finally {
    await pg.close();
  }
}

export interface StoredInbound {
  id: number;
  mailboxId: number;
  sourceKey: string | null;
  /** sha256 of the stored raw bytes, computed here (not the column the server wrote). */
  sha: string;
  acked: boolean;
  ingestState: string;
  conversationId: number | null;
  quarantineReason: string | null;
}

/** Every inbound message of a stopped server's database, with the sha256 of its raw bytes. */
export async function storedInbound(dataDir: string): Promise<StoredInbound[]> {
  const { createHash } = await import('node:crypto');
  return withStoppedStore(dataDir, async (pg) => {
    const res = await pg.query<{
      id: number;
      mailbox_id: number;
      source_key: string | null;
      raw: Uint8Array;
      acked: boolean;
      ingest_state: string;
      conversation_id: number | null;
      quarantine_reason: string | null;
    }>(
      `select id::int as id, mailbox_id::int as mailbox_id, source_key, raw,
              exists (select 1 from mailbox_uidls u where u.mailbox_id = messages.mailbox_id and u.uidl = messages.source_key and u.acked_at is not null) as acked, ingest_state,
              conversation_id::int as conversation_id, quarantine_reason
         from messages where direction = 'inbound' order by id`,
    );
    return res.rows.map((r) => ({
      id: r.id,
      mailboxId: r.mailbox_id,
      sourceKey: r.source_key,
      sha: createHash('sha256').update(r.raw).digest('hex'),
      acked: r.acked,
      ingestState: r.ingest_state,
      conversationId: r.conversation_id,
      quarantineReason: r.quarantine_reason,
    }));
  });
}
