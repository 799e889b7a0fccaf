/**
 * `npm run bench [NAME…] [--quick]`: runs every `bench/**\/*.bench.ts` (or those whose name
 * contains one of NAME) one after another and writes each report to bench/results/.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeReport, type Bench } from './lib/report.js';

const here = path.dirname(fileURLToPath(import.meta.url));

async function findBenches(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'results' && e.name !== 'lib') out.push(...(await findBenches(p)));
    else if (e.name.endsWith('.bench.ts')) out.push(p);
  }
  return out.sort();
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const filters = args.filter((a) => !a.startsWith('--'));
const files = (await findBenches(here)).filter((f) => filters.length === 0 || filters.some((n) => path.basename(f).includes(n)));
if (files.length === 0) {
  console.error(`No benchmark matches ${filters.join(', ')}. Available: ${(await findBenches(here)).map((f) => path.basename(f, '.bench.ts')).join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const file of files) {
  const mod = (await import(pathToFileURL(file).href)) as { default: Bench };
  const bench = mod.default;
  console.error(`\n== ${bench.name} (${path.relative(here, file)})`);
  const t = Date.now();
  try {
    const report = await bench.run({ quick, log: (line) => console.error(`   ${line}`) });
    const md = await writeReport(path.join(here, 'results'), report);
    console.log(md);
    console.error(`== ${bench.name} done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  } catch (err) {
    failed++;
    console.error(`== ${bench.name} FAILED:`, err);
  }
}
process.exit(failed ? 1 : 0);
