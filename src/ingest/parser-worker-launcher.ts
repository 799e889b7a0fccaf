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
 * Starts a worker on `entry` with a V8 heap of `heapMb` (old generation). The young generation is
 * kept small: it bounds the garbage a worker holds between collections, i.e. the RSS a large
 * message adds, at a small cost in throughput.
 */
export function startParserWorker(entry: URL, heapMb: number): Worker {
  const resourceLimits = { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 };
  if (entry.pathname.endsWith('.ts')) return new Worker(tsxBootstrap(entry), { eval: true, resourceLimits });
  return new Worker(entry, { resourceLimits, execArgv: [] });
}
