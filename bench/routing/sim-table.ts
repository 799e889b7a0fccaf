/** Runs scenarios × load levels and prints the result table (shared by the CLI and the benchmark). */
import { simulate } from './routing-simulator.js';
import type { SimSummary } from './sim-metrics.js';
import type { Scenario } from './sim-scenarios.js';

export interface LoadLevel {
  utilisation: number;
  burst?: number;
}

/** The load levels of issue 6: 0.7, 0.85, 0.95, and 0.85 with a 1.1 burst in the middle third. */
export const LOAD_LEVELS: LoadLevel[] = [{ utilisation: 0.7 }, { utilisation: 0.85 }, { utilisation: 0.95 }, { utilisation: 0.85, burst: 1.1 }];

export function runMatrix(scenarios: Scenario[], loads: LoadLevel[], seed: number, log: (line: string) => void): SimSummary[] {
  const rows: SimSummary[] = [];
  for (const scenario of scenarios) {
    for (const load of loads) {
      const row = simulate({ scenario, utilisation: load.utilisation, ...(load.burst !== undefined ? { burst: load.burst } : {}), seed });
      log(`${scenario.name} ρ=${row.load}: ${row.arrivals} arrivals, SLA ${row.slaPct} %, p95 wait ${row.waitP95S} s (${row.wallMs} ms)`);
      rows.push(row);
    }
  }
  return rows;
}

const COLUMNS: [keyof SimSummary, string][] = [
  ['scenario', 'scenario'],
  ['load', 'ρ'],
  ['policy', 'policy'],
  ['arrivals', 'arrivals'],
  ['slaPct', 'SLA %'],
  ['waitP50S', 'wait p50 s'],
  ['waitP95S', 'wait p95 s'],
  ['waitMaxS', 'wait max s'],
  ['occupancyPct', 'occupancy %'],
  ['fairnessJain', 'fairness (Jain)'],
  ['relaxedPct', 'after relax %'],
  ['stickyHitPct', 'sticky hits %'],
  ['reoffersPer100', 're-offers /100'],
  ['notRespondingPauses', 'not-resp. pauses'],
  ['unservedAtEnd', 'unserved at end'],
  ['backlogClearedMin', 'backlog cleared min'],
];

/** A Markdown table, one row per run. */
export function formatTable(rows: SimSummary[]): string {
  const head = `| ${COLUMNS.map(([, h]) => h).join(' | ')} |`;
  const sep = `|${COLUMNS.map(() => '---').join('|')}|`;
  const body = rows.map((r) => `| ${COLUMNS.map(([k]) => (r[k] === null ? '—' : String(r[k]))).join(' | ')} |`);
  return [head, sep, ...body].join('\n');
}
