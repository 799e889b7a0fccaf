/**
 * The Node.js flags `npm start` runs Mailroom with, read from package.json's start script
 * (`node <flags> bin/mailroom.js start`), so a benchmark runs or starts the server as it runs in
 * production. `npm run bench` gives them to the benchmark process as well (scripts/bench.mjs),
 * for the benchmarks that run Mailroom in that process.
 */
import { startFlags } from '../../scripts/start-flags.mjs';

export const SERVER_NODE_FLAGS: readonly string[] = startFlags();

/** Says so (once per benchmark) when this process runs without them: its figures are not the server's. */
export function warnWithoutServerFlags(log: (line: string) => void): void {
  const missing = SERVER_NODE_FLAGS.filter((f) => !process.execArgv.includes(f));
  if (missing.length > 0) log(`this process runs without ${missing.join(' ')} (npm start's flags): run it with npm run bench, or add them`);
}
