/** The audit log: who changed what, with before/after (never secrets: callers pass redacted specs). */
import type { Kysely } from 'kysely';
import type { Actor } from '../domain/types.js';
import type { DB } from './schema.js';

export interface AuditEntry {
  action: string;
  entityType: string;
  entityKey: string;
  before?: unknown;
  after?: unknown;
}

export class AuditRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async write(actor: Actor, entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    for (let i = 0; i < entries.length; i += 500) {
      await this.db
        .insertInto('audit_log')
        .values(
          entries.slice(i, i + 500).map((e) => ({
            actor_kind: actor.kind,
            actor_login: actor.login,
            action: e.action,
            entity_type: e.entityType,
            entity_key: e.entityKey,
            before: e.before === undefined ? null : JSON.stringify(e.before),
            after: e.after === undefined ? null : JSON.stringify(e.after),
          })),
        )
        .execute();
    }
  }

  list(opts: { entityType?: string; entityKey?: string; limit?: number } = {}) {
    let q = this.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(opts.limit ?? 100);
    if (opts.entityType) q = q.where('entity_type', '=', opts.entityType);
    if (opts.entityKey) q = q.where('entity_key', '=', opts.entityKey);
    return q.execute();
  }
}
