/**
 * Counts passed, failed and skipped tests for `npm test`'s last line (`N passed, N failed,
 * N skipped`, which CI reads). A file that fails to load, or an unhandled error, counts as failed.
 */
import { writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class CountReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of testModules) {
      let inModule = 0;
      for (const t of m.children.allTests()) {
        inModule++;
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      if (m.state() === 'failed' && inModule === 0) failed++;
      else if (m.errors().length > 0 && ![...m.children.allTests()].some((t) => t.result().state === 'failed')) failed++;
    }
    failed += unhandledErrors.length;
    const file = process.env.MAILROOM_TEST_COUNTS;
    if (file) writeFileSync(file, JSON.stringify({ passed, failed, skipped }));
  }
}
