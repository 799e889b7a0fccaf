/**
 * The shared MIME corpus (`../shared/corpus/mime` beside the project), as the tests and the
 * benchmarks read it: every `.eml` below it, in a stable order. The folder may be absent (a clone
 * without `../shared`); callers then print a visible skip or use their own stand-in messages.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const corpusDir = path.resolve(root, '../shared/corpus/mime');
export const hasCorpus = existsSync(corpusDir);

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => {
      const p = path.join(dir, f);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.eml') ? [p] : [];
    });
}

/** Paths of every corpus message, sorted; empty when the corpus is absent. */
export function corpusFiles(): string[] {
  return hasCorpus ? walk(corpusDir) : [];
}
