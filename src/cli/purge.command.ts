/** `mailroom purge [--dry-run]`: purge handled conversations past their queue's retention, with progress. */
import { settingsFromEnv } from '../config/env.js';
import { openAdminClient } from './admin-client.js';
import type { Output } from './output.js';

export async function purgeCommand(env: NodeJS.ProcessEnv, o: Output, opts: { dryRun?: boolean }): Promise<void> {
  const client = await openAdminClient(settingsFromEnv(env), env);
  try {
    if (client.via === 'api') o.err('Purging through the running server (its log shows the progress)…');
    const result = await client.purge(opts.dryRun ?? false, (p) => o.err(`  ${p.queue}: ${p.done}/${p.total} (${Math.round((100 * p.done) / p.total)}%)`));
    for (const q of result.queues) o.out(`${q.name}: ${q.purged} handled conversation(s) older than ${q.retentionDays} days ${result.dryRun ? 'would be purged' : 'purged'}`);
    if (result.queues.length === 0) o.out('No queues are configured: nothing to purge.');
  } finally {
    await client.close();
  }
}
