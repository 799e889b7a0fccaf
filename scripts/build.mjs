// `npm run build`: TypeScript to dist/src, the web app to dist/web, then a stamp that
// bin/mailroom.js compares with the sources' times to know whether to build again.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

function run(label, cmd, args) {
  const t = Date.now();
  process.stderr.write(`build: ${label}…\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`build: ${label} failed.\n`);
    process.exit(r.status ?? 1);
  }
  process.stderr.write(`build: ${label} done in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
}

if (!existsSync(bin('tsc'))) {
  process.stderr.write('build: TypeScript is not installed. Run `npm ci` first.\n');
  process.exit(1);
}
run('server (tsc)', bin('tsc'), ['-p', 'tsconfig.build.json']);
if (existsSync(path.join(root, 'web', 'index.html'))) run('web app (vite)', bin('vite'), ['build', '--config', 'web/vite.config.ts', '--logLevel', 'warn']);
mkdirSync(path.join(root, 'dist'), { recursive: true });
writeFileSync(path.join(root, 'dist', '.build-stamp'), new Date().toISOString());
