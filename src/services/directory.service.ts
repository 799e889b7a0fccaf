/**
 * Read models of the configured entities for supervisors and admins: mailboxes with their
 * status, senders, queues with live numbers. Writes go through config apply.
 */
import { sql } from 'kysely';
import { mailboxSchema, queueSchema, senderSchema, type MailboxSpec, type QueueSpec, type SenderSpec } from '../config/schema.js';
import { notFound } from '../domain/errors.js';
import type { MailboxRow, QueueRow, SenderRow } from '../store/config.repository.js';
import type { Store } from '../store/store.js';

export interface MailboxView {
  row: MailboxRow;
  spec: MailboxSpec;
  queueName: string | null;
}

export interface QueueView {
  row: QueueRow;
  spec: QueueSpec;
  waiting: number;
  oldestWaitS: number | null;
  slaPercent: number | null;
}

export class DirectoryService {
  constructor(private readonly deps: { store: Store }) {}

  private async queueNames(): Promise<Map<number, string>> {
    return new Map((await this.deps.store.repos.config.listQueues()).map((q) => [q.id, q.name]));
  }

  async listMailboxes(): Promise<MailboxView[]> {
    const [rows, names] = await Promise.all([this.deps.store.repos.config.listMailboxes(), this.queueNames()]);
    return rows.map((row) => ({ row, spec: mailboxSchema.parse(row.spec), queueName: names.get(row.queue_id) ?? null }));
  }

  async getMailbox(id: number): Promise<MailboxView> {
    const row = await this.deps.store.repos.config.findMailbox(id);
    if (!row) throw notFound(`Mailbox ${id}`);
    const queue = await this.deps.store.repos.config.findQueue(row.queue_id);
    return { row, spec: mailboxSchema.parse(row.spec), queueName: queue?.name ?? null };
  }

  async listSenders(): Promise<{ row: SenderRow; spec: SenderSpec }[]> {
    return (await this.deps.store.repos.config.listSenders()).map((row) => ({ row, spec: senderSchema.parse(row.spec) }));
  }

  async getSender(id: number): Promise<{ row: SenderRow; spec: SenderSpec }> {
    const row = await this.deps.store.repos.config.findSender(id);
    if (!row) throw notFound(`Sender ${id}`);
    return { row, spec: senderSchema.parse(row.spec) };
  }

  /**
   * Queues with: conversations waiting for an agent, the oldest wait, and the share of the last
   * 24 h's decided conversations answered within the queue's first-response SLA.
   */
  async listQueues(): Promise<QueueView[]> {
    const rows = await this.deps.store.repos.config.listQueues();
    const stats = await this.deps.store.db
      .selectFrom('conversations')
      .select('queue_id')
      .select(sql<number>`count(*) filter (where state in ('queued', 'offered'))::int`.as('waiting'))
      .select(sql<number | null>`extract(epoch from now() - min(queued_at) filter (where state in ('queued', 'offered')))::float8`.as('oldest'))
      .select(
        sql<number>`count(*) filter (where received_at > now() - interval '24 hours' and sla_due_at is not null and (first_response_at is not null or sla_due_at < now()))::int`.as('decided'),
      )
      .select(
        sql<number>`count(*) filter (where received_at > now() - interval '24 hours' and sla_due_at is not null and first_response_at is not null and first_response_at <= sla_due_at)::int`.as('met'),
      )
      .groupBy('queue_id')
      .execute();
    const byQueue = new Map(stats.map((s) => [s.queue_id, s]));
    return rows.map((row) => {
      const s = byQueue.get(row.id);
      return {
        row,
        spec: queueSchema.parse(row.spec),
        waiting: s?.waiting ?? 0,
        oldestWaitS: s?.oldest == null ? null : Math.round(s.oldest),
        slaPercent: s && s.decided > 0 ? Math.round((1000 * s.met) / s.decided) / 10 : null,
      };
    });
  }
}
