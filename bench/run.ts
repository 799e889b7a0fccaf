/**
 * `npm run bench [NAME…] [--quick] [--rounds N]`: runs every `bench/**\/*.bench.ts` (or those
 * whose name contains one of NAME) one after another and writes each report to bench/results/.
 * `--rounds N` runs them N times, each round in a fresh process with this one's Node.js flags,
 * and adds NAME-rounds (the median, lowest and highest of every figure, see lib/rounds.ts).
 */
import { spawnSync } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeReport, type Bench, type BenchReport } from './lib/report.js';
import { summarizeRounds } from './lib/rounds.js';

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
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 1;
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`--rounds needs a whole number of rounds, 1 or more (got ${args[roundsAt + 1] ?? 'nothing'}): npm run bench -- ingest-throughput --rounds 5`);
  process.exit(2);
}
if (rounds > 1) process.exit(await runRounds(rounds, args.filter((_, i) => i !== roundsAt && i !== roundsAt + 1)));
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

/** Runs this script `n` times with `rest` in fresh processes, then writes the rounds' summaries. */
async function runRounds(n: number, rest: string[]): Promise<number> {
  const results = path.join(here, 'results');
  const byName = new Map<string, BenchReport[]>();
  let failed = 0;
  for (let i = 1; i <= n; i++) {
    console.error(`\n=== round ${i} of ${n}`);
    const started = Date.now();
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...rest], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) failed++;
    // The reports this round wrote: it rewrote their files.
    for (const f of (await readdir(results)).filter((x) => x.endsWith('.json'))) {
      const file = path.join(results, f);
      if ((await stat(file)).mtimeMs < started) continue;
      const report = JSON.parse(await readFile(file, 'utf8')) as BenchReport;
      byName.set(report.name, [...(byName.get(report.name) ?? []), report]);
    }
  }
  for (const reports of byName.values()) console.log(await writeReport(results, summarizeRounds(reports)));
  if (failed) console.error(`${failed} of ${n} rounds failed: their reports are missing from the summary.`);
  return failed ? 1 : 0;
}
