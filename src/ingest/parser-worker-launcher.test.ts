import { describe, expect, it } from 'vitest';
import { workerExecArgv } from './parser-worker-launcher.js';

describe('workerExecArgv', () => {
  it('passes the process profiling flags on to a parser worker, with their values', () => {
    expect(workerExecArgv(['--cpu-prof', '--cpu-prof-dir=/tmp/p', '--cpu-prof-interval', '250', '--heap-prof', '--heap-prof-dir', '/tmp/h'])).toEqual([
      '--cpu-prof',
      '--cpu-prof-dir=/tmp/p',
      '--cpu-prof-interval',
      '250',
      '--heap-prof',
      '--heap-prof-dir',
      '/tmp/h',
    ]);
  });

  it('passes nothing else: module loaders, GC and V8 pool flags stay with the process', () => {
    expect(workerExecArgv(['--v8-pool-size=0', '--import', 'tsx', '--expose-gc', '--max-old-space-size=512', '--cpu-profiler-x'])).toEqual([]);
    expect(workerExecArgv([])).toEqual([]);
  });

  it('keeps the other flags out even when they sit between profiling flags', () => {
    expect(workerExecArgv(['--cpu-prof', '--import', 'tsx', '--cpu-prof-name', 'p.cpuprofile'])).toEqual(['--cpu-prof', '--cpu-prof-name', 'p.cpuprofile']);
  });
});
