/** Where the package lives (for the built web app) and its version, found from this file upward. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: { root: string; version: string } | undefined;

export function packageInfo(): { root: string; version: string } {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mailroom') return (cached = { root: dir, version: pkg.version ?? '0.0.0' });
    }
    const up = path.dirname(dir);
    if (up === dir) return (cached = { root: process.cwd(), version: '0.0.0' });
    dir = up;
  }
}
