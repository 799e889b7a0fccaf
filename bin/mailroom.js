#!/usr/bin/env node
// The `mailroom` command. Builds first when the compiled code is missing or older than the
// sources (a fresh clone after `npm ci`), then runs the CLI from dist/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist', 'src', 'cli', 'main.js');
const stamp = path.join(root, 'dist', '.build-stamp');

function newestMtime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function needsBuild() {
  if (!existsSync(path.join(root, 'src'))) return false; // an installed package ships dist/ only
  if (!existsSync(entry) || !existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  return newestMtime(path.join(root, 'src')) > built || newestMtime(path.join(root, 'web')) > built;
}

if (needsBuild()) {
  process.stderr.write('Building Mailroom (first run, or the sources changed)…\n');
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { stdio: ['ignore', 2, 2] });
  if (r.status !== 0) {
    process.stderr.write('The build failed (see above). Run `npm ci` to install the build tools, then try again.\n');
    process.exit(1);
  }
}

const { main } = await import(pathToFileURL(entry).href);
const args = process.argv.slice(2);
const code = await main(args);
// `start` keeps serving until a signal; every other command ends here.
if (code !== 0 || args[0] !== 'start') process.exit(code);
