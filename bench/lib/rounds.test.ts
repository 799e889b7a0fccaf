import { describe, expect, it } from 'vitest';
import type { BenchReport } from './report.js';
import { median, summarizeRounds } from './rounds.js';

const round = (ratio: number, rate: number, note: string | null = null): BenchReport => ({
  name: 'ingest-throughput',
  description: 'A backlog.',
  figures: { ratio_vs_baseline: ratio, filed_msgs_per_s: rate, filed_as: 'conversation 10000', missing: note === null ? null : 1 },
  targets: [{ name: 'filed vs baseline', target: '≥ 0.5×', actual: `${ratio}×`, met: ratio >= 0.5 }],
});

describe('summarizeRounds', () => {
  it('reports the median of each numeric figure with its range and every round', () => {
    const s = summarizeRounds([round(0.41, 1036), round(0.52, 1210), round(0.47, 1100)]);
    expect(s.name).toBe('ingest-throughput-rounds');
    expect(s.figures).toEqual({ rounds: 3, ratio_vs_baseline: 0.47, filed_msgs_per_s: 1100 });
    expect(s.table).toContain('| ratio_vs_baseline | 0.47 | 0.41 | 0.52 | 0.41 / 0.52 / 0.47 |');
    expect(s.table).not.toContain('filed_as');
  });

  it('counts a target as met only when more than half of the rounds met it', () => {
    const once = summarizeRounds([round(0.41, 1), round(0.52, 1), round(0.47, 1)]).targets![0]!;
    expect(once.met).toBe(false);
    expect(once.actual).toBe('met in 1 of 3 rounds (0.41×, 0.52×, 0.47×)');
    expect(summarizeRounds([round(0.51, 1), round(0.52, 1), round(0.47, 1)]).targets![0]!.met).toBe(true);
    expect(summarizeRounds([round(0.51, 1), round(0.47, 1)]).targets![0]!.met).toBe(false);
  });

  it('takes a figure missing from some rounds from the others, and refuses mixed or no rounds', () => {
    expect(summarizeRounds([round(0.4, 1, 'x'), round(0.5, 1)]).figures.missing).toBe(1);
    expect(() => summarizeRounds([round(0.4, 1), { ...round(0.5, 1), name: 'push-latency' }])).toThrow(/different benchmarks/);
    expect(() => summarizeRounds([])).toThrow(/no rounds/);
  });
});

describe('median', () => {
  it('is the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});
