/**
 * Starting a parser worker thread, from compiled JavaScript (`dist/`) or from the TypeScript
 * sources (vitest, tsx), with its memory limits.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** The worker entry beside this module: `.ts` when running from sources, `.js` from dist/. */
export function defaultWorkerUrl(): URL {
  const ext = new URL(import.meta.url).pathname.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./parser-worker.${ext}`, import.meta.url);
}

/**
 * Node 20 does not apply `--import tsx` from a worker's execArgv before it loads a `.ts` entry
 * (ERR_UNKNOWN_FILE_EXTENSION), so a TypeScript worker starts from a tiny bootstrap that
 * registers tsx's ESM hooks and then imports the entry.
 */
function tsxBootstrap(entry: URL): string {
  const req = createRequire(import.meta.url);
  // tsx/esm/api's "import" condition (its "require" one, which require.resolve sees, is .cjs).
  const api = pathToFileURL(req.resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
}

/**
 * Node's profiling flags, which a worker thread only applies when they are in its own execArgv.
 * Group 1: a flag with a value (`-dir`, `-name`, `-interval`); group 2: the value follows `=`.
 */
const PROFILE_FLAG = /^--(?:cpu|heap)-prof(-(?:dir|name|interval))?(=|$)/;

/**
 * The Node.js flags a parser worker starts with: only the process's profiling flags
 * (`node --cpu-prof --cpu-prof-dir=… bin/mailroom.js start` then writes a profile for every
 * parser worker too, as for the main thread). Nothing else is passed on: the process's other
 * flags (such as `--import tsx` in tests and benchmarks) would load into each worker for nothing.
 */
export function workerExecArgv(processArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < processArgv.length; i++) {
    const arg = processArgv[i]!;
    const flag = PROFILE_FLAG.exec(arg);
    if (!flag) continue;
    out.push(arg);
    // `--cpu-prof-dir /path`: the value is the next argument.
    if (flag[1] && flag[2] !== '=' && i + 1 < processArgv.length) out.push(processArgv[++i]!);
  }
  return out;
}

/**
 * Starts a worker on `entry` with a V8 heap of `heapMb` (old generation, the limit a hostile
 * message runs into) and a young generation of `youngMb` (`ParseLimits.workerYoungMb`: the
 * garbage a worker may hold between collections, traded against their cost).
 */
export function startParserWorker(entry: URL, heapMb: number, youngMb: number): Worker {
  const resourceLimits = { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: youngMb, stackSizeMb: 4 };
  if (entry.pathname.endsWith('.ts')) return new Worker(tsxBootstrap(entry), { eval: true, resourceLimits });
  return new Worker(entry, { resourceLimits, execArgv: workerExecArgv(process.execArgv) });
}
