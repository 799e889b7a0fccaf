/**
 * Mailboxes, senders and queues as the API shows them. The stored spec already has
 * "********" where secrets were; auth is reduced further to the user name and method.
 */
import type { SenderSpec, TlsPolicySpec } from '../../config/schema.js';
import type { MailboxView, QueueView } from '../../services/directory.service.js';
import type { SenderRow } from '../../store/config.repository.js';

function presentAuth(auth: { user?: string | undefined; oauth?: { app: string } | undefined } | undefined) {
  if (!auth) return { method: 'none' as const };
  return auth.oauth ? { method: 'oauth' as const, app: auth.oauth.app } : { method: 'password' as const, user: auth.user ?? null };
}

function presentTls(tls: TlsPolicySpec) {
  return { verify: tls.verify, ...(tls.fingerprint ? { fingerprint: tls.fingerprint } : {}), customCa: Boolean(tls.ca) };
}

export function presentMailbox(v: MailboxView) {
  const { row, spec } = v;
  return {
    id: row.id,
    name: row.name,
    protocol: spec.protocol,
    host: spec.host,
    port: spec.port,
    security: spec.security,
    auth: presentAuth(spec.auth),
    folder: spec.folder,
    afterImport: spec.after_import,
    proxy: spec.proxy,
    tls: presentTls(spec.tls),
    liveness: spec.liveness,
    queue: v.queueName,
    enabled: row.enabled,
    status: {
      state: row.enabled ? row.status_state : 'disabled',
      since: row.status_since.toISOString(),
      lastError: row.status_error ?? null,
      lastSyncAt: row.last_sync_at?.toISOString() ?? null,
      imported: row.imported_count,
      warnings: row.status_warnings ?? [],
    },
  };
}

export function presentSender(v: { row: SenderRow; spec: SenderSpec }) {
  const { row, spec } = v;
  return {
    id: row.id,
    name: row.name,
    type: spec.type,
    host: spec.host,
    port: spec.port,
    security: spec.security,
    auth: presentAuth(spec.auth),
    from: spec.from,
    proxy: spec.proxy,
    tls: presentTls(spec.tls),
  };
}

export function presentQueue(v: QueueView) {
  const { row, spec } = v;
  return {
    id: row.id,
    name: row.name,
    waiting: v.waiting,
    oldestWaitS: v.oldestWaitS,
    slaPercent: v.slaPercent,
    skills: spec.skills,
    language: spec.language,
    priority: spec.priority,
    slaFirstResponseMinutes: spec.sla_first_response_minutes,
    sender: spec.sender,
    routing: { mode: spec.routing.mode, policy: spec.routing.policy },
  };
}
