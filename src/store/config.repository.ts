/**
 * The config-managed entities: senders, queues, mailboxes (normalized spec + encrypted secrets),
 * pause reasons and settings. Rows are soft-deleted so history keeps its references.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB, MailboxesTable, QueuesTable, SendersTable } from './schema.js';

export type SenderRow = Selectable<SendersTable>;
export type QueueRow = Selectable<QueuesTable>;
export type MailboxRow = Selectable<MailboxesTable>;

export type EntityTable = 'senders' | 'queues' | 'mailboxes';

export class ConfigRepository {
  constructor(private readonly db: Kysely<DB>) {}

  listSenders(): Promise<SenderRow[]> {
    return this.db.selectFrom('senders').selectAll().where('deleted_at', 'is', null).orderBy('id').execute();
  }

  listQueues(): Promise<QueueRow[]> {
    return this.db.selectFrom('queues').selectAll().where('deleted_at', 'is', null).orderBy('id').execute();
  }

  listMailboxes(): Promise<MailboxRow[]> {
    return this.db.selectFrom('mailboxes').selectAll().where('deleted_at', 'is', null).orderBy('id').execute();
  }

  findMailbox(id: number): Promise<MailboxRow | undefined> {
    return this.db.selectFrom('mailboxes').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  }

  findSender(id: number): Promise<SenderRow | undefined> {
    return this.db.selectFrom('senders').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  }

  findQueue(id: number): Promise<QueueRow | undefined> {
    return this.db.selectFrom('queues').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  }

  async insertSender(v: { name: string; type: SenderRow['type']; spec: unknown; secretsEnc: string | null }): Promise<number> {
    const r = await this.db
      .insertInto('senders')
      .values({ name: v.name, type: v.type, spec: JSON.stringify(v.spec), secrets_enc: v.secretsEnc })
      .returning('id')
      .executeTakeFirstOrThrow();
    return r.id;
  }

  async updateSender(id: number, v: { type: SenderRow['type']; spec: unknown; secretsEnc: string | null }): Promise<void> {
    await this.db
      .updateTable('senders')
      .set({ type: v.type, spec: JSON.stringify(v.spec), secrets_enc: v.secretsEnc, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  async insertQueue(v: { name: string; senderId: number; spec: unknown }): Promise<number> {
    const r = await this.db.insertInto('queues').values({ name: v.name, sender_id: v.senderId, spec: JSON.stringify(v.spec) }).returning('id').executeTakeFirstOrThrow();
    return r.id;
  }

  async updateQueue(id: number, v: { senderId: number; spec: unknown }): Promise<void> {
    await this.db.updateTable('queues').set({ sender_id: v.senderId, spec: JSON.stringify(v.spec), updated_at: sql`now()` }).where('id', '=', id).execute();
  }

  async insertMailbox(v: { name: string; protocol: MailboxRow['protocol']; queueId: number; spec: unknown; secretsEnc: string | null; enabled: boolean }): Promise<number> {
    const r = await this.db
      .insertInto('mailboxes')
      .values({
        name: v.name,
        protocol: v.protocol,
        queue_id: v.queueId,
        spec: JSON.stringify(v.spec),
        secrets_enc: v.secretsEnc,
        enabled: v.enabled,
        status_state: v.enabled ? 'connecting' : 'disabled',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return r.id;
  }

  async updateMailbox(id: number, v: { protocol: MailboxRow['protocol']; queueId: number; spec: unknown; secretsEnc: string | null; enabled: boolean }): Promise<void> {
    await this.db
      .updateTable('mailboxes')
      .set({ protocol: v.protocol, queue_id: v.queueId, spec: JSON.stringify(v.spec), secrets_enc: v.secretsEnc, enabled: v.enabled, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  async softDelete(table: EntityTable, id: number): Promise<void> {
    await this.db.updateTable(table).set({ deleted_at: sql`now()` }).where('id', '=', id).execute();
  }

  listPauseReasons() {
    return this.db.selectFrom('pause_reasons').selectAll().where('deleted_at', 'is', null).orderBy('position').orderBy('code').execute();
  }

  async upsertPauseReason(v: { code: string; label: string; productive: boolean; max_minutes: number | null; position: number }): Promise<void> {
    await this.db
      .insertInto('pause_reasons')
      .values({ ...v, deleted_at: null })
      .onConflict((oc) => oc.column('code').doUpdateSet({ label: v.label, productive: v.productive, max_minutes: v.max_minutes, position: v.position, deleted_at: null }))
      .execute();
  }

  async deletePauseReason(code: string): Promise<void> {
    await this.db.updateTable('pause_reasons').set({ deleted_at: sql`now()` }).where('code', '=', code).execute();
  }

  async getSetting(key: string) {
    return this.db.selectFrom('settings').selectAll().where('key', '=', key).executeTakeFirst();
  }

  async putSetting(key: string, value: unknown, secretsEnc: string | null): Promise<void> {
    await this.db
      .insertInto('settings')
      .values({ key, value: JSON.stringify(value), secrets_enc: secretsEnc })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(value), secrets_enc: secretsEnc, updated_at: sql`now()` }))
      .execute();
  }

  async deleteSetting(key: string): Promise<void> {
    await this.db.deleteFrom('settings').where('key', '=', key).execute();
  }

  /** Serializes config applies across nodes for the rest of the transaction. */
  async lockForApply(): Promise<void> {
    await sql`select pg_advisory_xact_lock(7042118312)`.execute(this.db);
  }
}
