/**
 * Benchmarks are not tests (CONVENTIONS.md): each `bench/**\/*.bench.ts` measures, compares with a
 * baseline run in the same process where one exists, and returns a report that `npm run bench`
 * writes to `bench/results/NAME.json` and `NAME.md`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface BenchReport {
  name: string;
  /** What was measured and how, in a sentence or two. */
  description: string;
  /** Headline figures, flat: `{ 'start_fresh_ms': 812, 'ratio_vs_baseline': 0.83 }`. */
  figures: Record<string, number | string | null>;
  /** Optional Markdown table with the details. */
  table?: string;
  /** Targets from the issue and whether they were met. */
  targets?: { name: string; target: string; actual: string; met: boolean }[];
  notes?: string[];
}

export interface Bench {
  name: string;
  run(opts: { quick: boolean; log: (line: string) => void }): Promise<BenchReport>;
}

export function machine() {
  return { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(os.totalmem() / 2 ** 30) };
}

export async function writeReport(dir: string, report: BenchReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  const at = new Date().toISOString();
  await writeFile(path.join(dir, `${report.name}.json`), `${JSON.stringify({ ...report, at, machine: machine() }, null, 2)}\n`);
  const lines = [`# ${report.name}`, '', report.description, '', `Run ${at} on Node ${process.version}, ${os.cpus().length} cores.`, '', '| figure | value |', '|---|---|'];
  for (const [k, v] of Object.entries(report.figures)) lines.push(`| ${k} | ${v ?? '—'} |`);
  if (report.targets?.length) {
    lines.push('', '| target | wanted | measured | met |', '|---|---|---|---|');
    for (const t of report.targets) lines.push(`| ${t.name} | ${t.target} | ${t.actual} | ${t.met ? 'yes' : 'NO'} |`);
  }
  if (report.table) lines.push('', report.table);
  if (report.notes?.length) lines.push('', ...report.notes.map((n) => `- ${n}`));
  const md = `${lines.join('\n')}\n`;
  await writeFile(path.join(dir, `${report.name}.md`), md);
  return md;
}

/** Percentile of an unsorted sample (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (v: number, digits = 2): number => Math.round(v * 10 ** digits) / 10 ** digits;
