// `npm run bench`: builds (benchmarks that start the server use dist/), then runs bench/run.ts.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFlags } from './start-flags.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
// npm start's Node.js flags, for the benchmarks that run Mailroom in this process.
const serverFlags = startFlags();
const r = spawnSync(process.execPath, [...serverFlags, '--import', 'tsx', '--expose-gc', path.join(root, 'bench', 'run.ts'), ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
