/** The quarantine for admins: what was kept but not routed, released (routed anyway) or deleted. */
import { notFound } from '../domain/errors.js';
import type { Actor } from '../domain/types.js';
import type { Store } from '../store/store.js';

export class QuarantineService {
  constructor(private readonly deps: { store: Store; kick: () => void }) {}

  list(beforeId: number | null, limit: number) {
    return this.deps.store.repos.quarantine.list(beforeId, limit);
  }

  /** Routes it anyway: back into the pipeline, which files it whatever its classification. */
  async release(id: number, actor: Actor): Promise<void> {
    const done = await this.deps.store.transaction(async (r) => {
      const row = await r.quarantine.get(id);
      if (!row) return false;
      await r.quarantine.release(id, actor.login);
      await r.audit.write(actor, [{ action: 'quarantine.release', entityType: 'messages', entityKey: String(id), before: { reason: row.quarantine_reason, subject: row.subject, from: row.from_address } }]);
      return true;
    });
    if (!done) throw notFound(`Quarantined message ${id}`, 'List the quarantine with GET /api/v1/quarantine.');
    this.deps.kick();
  }

  async delete(id: number, actor: Actor): Promise<void> {
    const done = await this.deps.store.transaction(async (r) => {
      const row = await r.quarantine.get(id);
      if (!row) return false;
      await r.quarantine.delete(id);
      await r.audit.write(actor, [{ action: 'quarantine.delete', entityType: 'messages', entityKey: String(id), before: { reason: row.quarantine_reason, subject: row.subject, from: row.from_address } }]);
      return true;
    });
    if (!done) throw notFound(`Quarantined message ${id}`, 'List the quarantine with GET /api/v1/quarantine.');
  }
}
