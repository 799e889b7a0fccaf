/**
 * Retention (API.md `retention_days`): handled conversations older than their queue's limit
 * are purged, a batch per transaction, with progress reported as it goes. Runs once a day on
 * its own and on demand (`mailroom purge`, `POST /api/v1/retention/run`).
 */
import type { Logger } from 'pino';
import { queueSchema } from '../config/schema.js';
import { errorMessage } from '../domain/errors.js';
import type { Actor } from '../domain/types.js';
import type { Store } from '../store/store.js';

export interface RetentionProgress {
  queue: string;
  done: number;
  total: number;
}

export interface RetentionResult {
  dryRun: boolean;
  queues: { name: string; retentionDays: number; purged: number }[];
}

const BATCH = 100;
const DAY_MS = 24 * 3600_000;

export class RetentionService {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionResult> | undefined;

  constructor(private readonly deps: { store: Store; logger: Logger; now?: () => number }) {}

  /** Runs every day, the first time an hour after start (not in the middle of a busy start). */
  schedule(firstDelayMs = 3600_000): void {
    this.timer = setTimeout(() => {
      void this.run({}, { kind: 'system', userId: null, login: 'system' }).catch((err: unknown) => this.deps.logger.error({ err: errorMessage(err) }, 'retention purge failed'));
      this.schedule(DAY_MS);
    }, firstDelayMs);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** One purge at a time: a second call waits for the one under way. */
  run(opts: { dryRun?: boolean; onProgress?: (p: RetentionProgress) => void }, actor: Actor): Promise<RetentionResult> {
    this.running ??= this.purge(opts, actor).finally(() => (this.running = undefined));
    return this.running;
  }

  private async purge(opts: { dryRun?: boolean; onProgress?: (p: RetentionProgress) => void }, actor: Actor): Promise<RetentionResult> {
    const { store, logger } = this.deps;
    const now = this.deps.now?.() ?? Date.now();
    const result: RetentionResult = { dryRun: opts.dryRun ?? false, queues: [] };
    for (const q of await store.repos.config.listQueues()) {
      const days = queueSchema.parse(q.spec).retention_days;
      const before = new Date(now - days * DAY_MS);
      const total = await store.repos.retention.countDue(q.id, before);
      const entry = { name: q.name, retentionDays: days, purged: 0 };
      result.queues.push(entry);
      if (total === 0 || opts.dryRun) {
        entry.purged = opts.dryRun ? total : 0;
        continue;
      }
      for (;;) {
        const ids = await store.repos.retention.due(q.id, before, BATCH);
        if (ids.length === 0) break;
        await store.transaction((r) => r.retention.purge(ids));
        entry.purged += ids.length;
        opts.onProgress?.({ queue: q.name, done: entry.purged, total });
        logger.info({ queue: q.name, done: entry.purged, total }, 'retention purge progress');
      }
      await store.repos.audit.write(actor, [{ action: 'retention.purge', entityType: 'queues', entityKey: q.name, after: { purged: entry.purged, olderThan: before.toISOString() } }]);
    }
    return result;
  }
}
