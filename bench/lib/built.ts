/**
 * Mailroom's modules as `npm start` runs them: the compiled JavaScript in dist/src (built by
 * `npm run bench` before any benchmark), loaded by Node itself. A benchmark that imported
 * src/ would measure the TypeScript loader too: tsx compiles each module as it is first
 * imported, resolves and loads every module of a parser worker through a hooks thread of its own
 * (a synchronous request per module), and turns source maps on, which makes every Error's stack
 * more expensive to build. Typed by the sources they are built from.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'src');

/** `rel`: the module's path under src/ without extension (`runtime`, `config/env`). */
export async function built<T>(rel: string): Promise<T> {
  const file = path.join(dist, `${rel}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: build first (npm run build), or run the benchmark with npm run bench, which builds`);
  return (await import(pathToFileURL(file).href)) as T;
}
