/**
 * `npm run bench -- NAME --rounds N`: the same benchmark N times, each in a fresh process (a
 * benchmark of a server just started is only cold once per process), summarized as the median,
 * lowest and highest of every figure. One run on a shared machine moves by ±10 %; a target judged
 * on one run is met or missed by chance near its line.
 */
import type { BenchReport } from './report.js';
import { round } from './report.js';

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Digits a figure is shown with: as many as its rounds were reported with. */
function digitsOf(values: number[]): number {
  return Math.max(0, ...values.map((v) => (String(v).split('.')[1] ?? '').length));
}

/**
 * One report from the reports of the same benchmark's rounds (in their order): each numeric
 * figure's median, with min, max and every round's value in the table; each target met when it
 * was met in more than half of the rounds, its measured values listed.
 */
export function summarizeRounds(reports: BenchReport[]): BenchReport {
  const first = reports[0];
  if (!first) throw new Error('summarizeRounds: no rounds');
  const names = new Set(reports.map((r) => r.name));
  if (names.size !== 1) throw new Error(`summarizeRounds: rounds of different benchmarks (${[...names].join(', ')})`);
  const n = reports.length;
  const figures: BenchReport['figures'] = { rounds: n };
  const rows: string[] = ['| figure | median | min | max | each round |', '|---|---|---|---|---|'];
  for (const key of Object.keys(first.figures)) {
    const values = reports.map((r) => r.figures[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    if (values.length === 0) continue;
    const m = round(median(values), digitsOf(values));
    figures[key] = m;
    const each = reports.map((r) => (typeof r.figures[key] === 'number' ? String(r.figures[key]) : '—')).join(' / ');
    rows.push(`| ${key} | ${m} | ${Math.min(...values)} | ${Math.max(...values)} | ${each} |`);
  }
  const targets = (first.targets ?? []).map((t) => {
    const each = reports.map((r) => r.targets?.find((x) => x.name === t.name));
    const met = each.filter((x) => x?.met).length;
    return { name: t.name, target: t.target, actual: `met in ${met} of ${n} rounds (${each.map((x) => x?.actual ?? '—').join(', ')})`, met: met * 2 > n };
  });
  return {
    name: `${first.name}-rounds`,
    description: `${n} rounds of ${first.name}, each in a fresh process, one after another: the median of each figure, its lowest and highest, and every round's value. A target counts as met when more than half of the rounds met it. The last round's whole report is ${first.name}.md. ${first.description}`,
    figures,
    table: rows.join('\n'),
    ...(targets.length ? { targets } : {}),
    notes: [`Rounds run one after another on the same machine: a change of its load between rounds shows as spread, which one run alone hides.`],
  };
}
