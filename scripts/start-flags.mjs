/**
 * The Node.js flags `npm start` runs Mailroom with, read from package.json's start script
 * (`node <flags> bin/mailroom.js start`). Plain JavaScript: `npm run bench` reads them before
 * any TypeScript loader is there, and the benchmarks (bench/lib/server-flags.ts) read them too.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** @returns {string[]} */
export function startFlags() {
  const start = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.start;
  const m = /^node((?:\s+--\S+)*)\s+bin\/mailroom\.js\s+start$/.exec(start);
  if (!m) throw new Error(`package.json's start script is not "node [flags] bin/mailroom.js start": ${start}`);
  return m[1].trim().split(/\s+/).filter(Boolean);
}
