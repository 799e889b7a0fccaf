// `npm run bench`: builds (benchmarks that start the server use dist/), then runs bench/run.ts.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
// npm start's Node.js flags (package.json), for the benchmarks that run Mailroom in this process
// (read the same way by bench/lib/server-flags.ts, for those that start it).
const start = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.start;
const m = /^node((?:\s+--\S+)*)\s+bin\/mailroom\.js\s+start$/.exec(start);
if (!m) throw new Error(`package.json's start script is not "node [flags] bin/mailroom.js start": ${start}`);
const serverFlags = m[1].trim().split(/\s+/).filter(Boolean);
const r = spawnSync(process.execPath, [...serverFlags, '--import', 'tsx', '--expose-gc', path.join(root, 'bench', 'run.ts'), ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
