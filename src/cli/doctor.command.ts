/**
 * `mailroom doctor`: the connection test of every mailbox and sender, as a table, then for each
 * failure the step that failed and what to do. Exits 1 when any test failed.
 */
import { settingsFromEnv } from '../config/env.js';
import { openAdminClient, type DoctorResult, type DoctorTarget } from './admin-client.js';
import type { Output } from './output.js';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function formatDoctor(rows: { target: DoctorTarget; result: DoctorResult }[]): { table: string; details: string[] } {
  const lines = rows.map(({ target, result }) => {
    const failed = result.steps.find((s) => !s.ok);
    const warnings = result.steps.flatMap((s) => s.warnings);
    const trail = result.steps.map((s) => `${s.name}${s.ok ? '✓' : '✗'}`).join(' ');
    const status = !target.enabled ? 'DISABLED' : result.ok ? (warnings.length ? 'WARN' : 'OK') : 'FAIL';
    return [pad(target.kind, 8), pad(target.name, 24), pad(status, 9), pad(failed?.code ?? (warnings.length ? `${warnings.length} warning(s)` : ''), 26), trail];
  });
  const header = [pad('KIND', 8), pad('NAME', 24), pad('RESULT', 9), pad('CODE', 26), 'STEPS'];
  const table = [header, ...lines].map((cols) => cols.join(' ').trimEnd()).join('\n');
  const details: string[] = [];
  for (const { target, result } of rows) {
    const failed = result.steps.find((s) => !s.ok);
    if (failed) details.push(`${target.kind} ${target.name}: ${failed.name} failed (${failed.code}): ${failed.detail}\n  What to do: ${failed.hint ?? 'see the connection log of this ' + target.kind}`);
    for (const w of result.steps.flatMap((s) => s.warnings.map((x) => `${s.name}: ${x}`))) details.push(`${target.kind} ${target.name}: warning, ${w}`);
  }
  return { table, details };
}

export async function doctorCommand(env: NodeJS.ProcessEnv, o: Output): Promise<number> {
  const client = await openAdminClient(settingsFromEnv(env), env);
  try {
    const targets = await client.doctorTargets();
    if (targets.length === 0) {
      o.out('No mailboxes or senders are configured: nothing to test. Apply a config first (mailroom config apply FILE).');
      return 0;
    }
    const rows: { target: DoctorTarget; result: DoctorResult }[] = [];
    for (const [i, target] of targets.entries()) {
      o.err(`Testing ${target.kind} ${target.name} (${i + 1}/${targets.length})…`);
      rows.push({ target, result: await client.runTest(target) });
    }
    const { table, details } = formatDoctor(rows);
    o.out(table);
    if (details.length) o.out(`\n${details.join('\n')}`);
    const failed = rows.filter((r) => r.target.enabled && !r.result.ok).length;
    o.out(`\n${failed === 0 ? 'All connections work.' : `${failed} of ${rows.length} failed.`}`);
    return failed === 0 ? 0 : 1;
  } finally {
    await client.close();
  }
}
