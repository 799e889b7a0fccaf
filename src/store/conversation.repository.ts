/** Conversations, their messages and attachments, and the events that make up their history. */
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { ConversationState } from '../domain/types.js';
import type { ConversationsTable, DB, MessagesTable } from './schema.js';

export type ConversationRow = Selectable<ConversationsTable>;
export type MessageRow = Omit<Selectable<MessagesTable>, 'raw'>;

export interface NewConversation {
  queueId: number;
  mailboxId: number | null;
  subject: string;
  customerAddress: string;
  customerName: string | null;
  language: string | null;
  priority: number;
  receivedAt: Date;
  slaDueAt: Date | null;
}

/** What parsing learned about an inbound message, and where it is filed (`fileInbound`). */
export interface InboundFiling {
  conversationId: number | null;
  messageIdHeader: string | null;
  inReplyTo: string | null;
  references: string[];
  fromAddress: string | null;
  fromName: string | null;
  to: unknown;
  cc: unknown;
  subject: string;
  sentDate: Date | null;
  text: string | null;
  html: string | null;
  /** The raw bytes hold HTML still to be sanitized when the message is first shown. */
  displayPending?: boolean;
  classification: unknown;
  quarantineReason: string | null;
}

export interface ConversationFilter {
  states?: ConversationState[];
  queueId?: number;
  assigneeId?: number;
  /** Agents see their own conversations and those offered to them. */
  visibleTo?: number;
}

/** Every message column but the raw bytes (read those with `raw()`). */
const MESSAGE_COLUMNS = [
  'id', 'conversation_id', 'mailbox_id', 'direction', 'source_key', 'message_id', 'in_reply_to', 'refs', 'from_address', 'from_name',
  'to_addrs', 'cc_addrs', 'subject', 'sent_date', 'text_body', 'html_body', 'display_pending', 'raw_sha256', 'size', 'ingest_state',
  'quarantine_reason', 'classification', 'author_id', 'delivery_state', 'delivery_phase', 'delivery_error', 'delivery_attempts',
  'next_attempt_at', 'sent_at', 'received_at',
] as const;

const conversationColumns = (c: NewConversation) => ({
  queue_id: c.queueId,
  mailbox_id: c.mailboxId,
  subject: c.subject,
  customer_address: c.customerAddress,
  customer_name: c.customerName,
  language: c.language,
  priority: c.priority,
  received_at: c.receivedAt,
  sla_due_at: c.slaDueAt,
});

export class ConversationRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async create(c: NewConversation): Promise<ConversationRow> {
    return this.db
      .insertInto('conversations')
      .values({ ...conversationColumns(c), queued_at: sql`now()` })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /**
   * Several new conversations in one statement (a backlog's group filing), returned in the order
   * given, with ids increasing in that order (each id drawn as its row is read, in order). One
   * statement, not a second one to draw the ids first: each costs the embedded database about
   * half a millisecond of the main thread whatever its size.
   */
  async createMany(rows: NewConversation[]): Promise<ConversationRow[]> {
    if (rows.length === 0) return [];
    // Dates become ISO strings in the JSON, read back as timestamptz.
    const json = JSON.stringify(rows.map((c, n) => ({ n, ...conversationColumns(c) })));
    const r = await sql<ConversationRow & { n: number }>`
      with v as materialized (
        select nextval(pg_get_serial_sequence('conversations', 'id')) as id, r.*
        from (select * from jsonb_to_recordset(${json}::jsonb) as x(n integer, queue_id bigint, mailbox_id bigint, subject text, customer_address text,
          customer_name text, language text, priority integer, received_at timestamptz, sla_due_at timestamptz) order by n) r
      ), c as (
        insert into conversations (id, queue_id, mailbox_id, subject, customer_address, customer_name, language, priority, received_at, queued_at, sla_due_at)
        overriding system value
        select id, queue_id, mailbox_id, subject, customer_address, customer_name, language, priority, received_at, now(), sla_due_at from v
        returning *
      )
      select c.*, v.n from c join v on v.id = c.id order by v.n`.execute(this.db);
    return r.rows.map(({ n: _n, ...c }) => c as ConversationRow);
  }

  /** An outgoing message, queued in the outbox with its final bytes. Returns its id. */
  async insertOutbound(m: {
    conversationId: number;
    messageId: string;
    inReplyTo: string | null;
    references: string[];
    from: string;
    fromAddress: string;
    to: string[];
    cc: string[];
    subject: string;
    text: string;
    html: string | null;
    raw: Buffer;
    authorId: number | null;
  }): Promise<number> {
    const row = await this.db
      .insertInto('messages')
      .values({
        conversation_id: m.conversationId,
        direction: 'outbound',
        message_id: m.messageId,
        in_reply_to: m.inReplyTo,
        refs: m.references,
        from_address: m.fromAddress,
        from_name: m.from,
        to_addrs: JSON.stringify(m.to.map((address) => ({ address, name: '' }))),
        cc_addrs: JSON.stringify(m.cc.map((address) => ({ address, name: '' }))),
        subject: m.subject,
        sent_date: new Date(),
        text_body: m.text,
        html_body: m.html,
        raw: m.raw,
        raw_sha256: createHash('sha256').update(m.raw).digest('hex'),
        size: m.raw.length,
        author_id: m.authorId,
        delivery_state: 'queued',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** Stores what parsing learned about an inbound message and files it (or not) in a conversation. */
  async fileInbound(messageId: number, f: InboundFiling): Promise<void> {
    await this.fileInboundMany([{ ...f, messageId }]);
  }

  /** `fileInbound` for several messages in one statement (a backlog's group filing); dates become ISO strings in the JSON. */
  async fileInboundMany(rows: (InboundFiling & { messageId: number })[]): Promise<void> {
    if (rows.length === 0) return;
    const json = JSON.stringify(
      rows.map((f) => ({
        id: f.messageId,
        conversation_id: f.conversationId,
        message_id: f.messageIdHeader,
        in_reply_to: f.inReplyTo,
        refs: f.references,
        from_address: f.fromAddress,
        from_name: f.fromName,
        to_addrs: f.to,
        cc_addrs: f.cc,
        subject: f.subject,
        sent_date: f.sentDate,
        text_body: f.text,
        html_body: f.html,
        display_pending: f.displayPending ?? false,
        classification: f.classification,
        quarantine_reason: f.quarantineReason,
      })),
    );
    await sql`
      update messages as m set conversation_id = v.conversation_id, message_id = v.message_id, in_reply_to = v.in_reply_to, refs = v.refs,
        from_address = v.from_address, from_name = v.from_name, to_addrs = v.to_addrs, cc_addrs = v.cc_addrs, subject = v.subject,
        sent_date = v.sent_date, text_body = v.text_body, html_body = v.html_body, display_pending = v.display_pending,
        classification = v.classification, quarantine_reason = v.quarantine_reason,
        ingest_state = case when v.quarantine_reason is null then 'done' else 'quarantined' end
      from jsonb_to_recordset(${json}::jsonb) as v(id bigint, conversation_id bigint, message_id text, in_reply_to text, refs text[],
        from_address text, from_name text, to_addrs jsonb, cc_addrs jsonb, subject text, sent_date timestamptz, text_body text, html_body text,
        display_pending boolean, classification jsonb, quarantine_reason text)
      where m.id = v.id`.execute(this.db);
  }

  /** Several conversation events in one statement. */
  async addEvents(rows: { conversationId: number; type: string; actor: string; data?: unknown }[]): Promise<void> {
    if (rows.length === 0) return;
    const json = JSON.stringify(rows.map((e) => ({ conversation_id: e.conversationId, type: e.type, actor: e.actor, data: e.data ?? null })));
    await sql`
      insert into conversation_events (conversation_id, type, actor, data)
      select (e.v->>'conversation_id')::bigint, e.v->>'type', e.v->>'actor', nullif(e.v->'data', 'null'::jsonb)
      from jsonb_array_elements(${json}::jsonb) with ordinality as e(v, n)
      order by e.n`.execute(this.db);
  }

  /** Quarantines a message that could not be parsed: stored, visible to admins, not routed. */
  async quarantine(messageId: number, reason: string): Promise<void> {
    await this.db.updateTable('messages').set({ ingest_state: 'quarantined', quarantine_reason: reason }).where('id', '=', messageId).execute();
  }

  /** Conversations by id, for threading lookups. */
  async refs(ids: number[]): Promise<ConversationRow[]> {
    if (ids.length === 0) return [];
    return this.db.selectFrom('conversations').selectAll().where('id', 'in', ids).execute();
  }

  /** When we sent automatic replies to this address (newest first), for the loop guard. */
  async autoAckHistory(recipient: string, since: Date): Promise<Date[]> {
    const rows = await this.db
      .selectFrom('messages')
      .select('received_at')
      .where('direction', '=', 'outbound')
      .where(sql<boolean>`classification @> ${JSON.stringify({ autoAck: true })}::jsonb`)
      .where(sql<boolean>`to_addrs @> ${JSON.stringify([{ address: recipient }])}::jsonb`)
      .where('received_at', '>', since)
      .orderBy('id', 'desc')
      .execute();
    return rows.map((r) => r.received_at);
  }

  /** Marks an outgoing message as one of our automatic replies. */
  async markAutoAck(messageId: number): Promise<void> {
    await this.db.updateTable('messages').set({ classification: JSON.stringify({ autoAck: true }) }).where('id', '=', messageId).execute();
  }

  /** An outgoing message of ours by its Message-ID (a bounce names it). */
  outboundByMessageId(messageId: string) {
    return this.db.selectFrom('messages').select(['id', 'conversation_id', 'delivery_state']).where('message_id', '=', messageId).where('direction', '=', 'outbound').executeTakeFirst();
  }

  get(id: number): Promise<ConversationRow | undefined> {
    return this.db.selectFrom('conversations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Locks the row for the rest of the transaction (state changes race with offers and replies). */
  getForUpdate(id: number): Promise<ConversationRow | undefined> {
    return this.db.selectFrom('conversations').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  }

  async update(id: number, fields: Partial<Omit<ConversationRow, 'id' | 'created_at'>>): Promise<ConversationRow> {
    return this.db.updateTable('conversations').set({ ...fields, updated_at: sql`now()` }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  }

  /** One page by id: ascending after `afterId`, or descending before it (`desc`, null = newest). */
  async list(filter: ConversationFilter, afterId: number | null, limit: number, desc = false): Promise<ConversationRow[]> {
    let q = this.db.selectFrom('conversations').selectAll().orderBy('id', desc ? 'desc' : 'asc').limit(limit);
    if (afterId !== null) q = q.where('id', desc ? '<' : '>', afterId);
    if (filter.states?.length) q = q.where('state', 'in', filter.states);
    if (filter.queueId !== undefined) q = q.where('queue_id', '=', filter.queueId);
    if (filter.assigneeId !== undefined) q = q.where('assignee_id', '=', filter.assigneeId);
    if (filter.visibleTo !== undefined) {
      const uid = filter.visibleTo;
      q = q.where((eb) =>
        eb.or([
          eb('assignee_id', '=', uid),
          eb('id', 'in', eb.selectFrom('offers').select('conversation_id').where('user_id', '=', uid).where('state', '=', 'pending')),
        ]),
      );
    }
    return q.execute();
  }

  /** Conversations waiting for an agent, oldest first (the router's start-up state). */
  waiting(): Promise<ConversationRow[]> {
    return this.db.selectFrom('conversations').selectAll().where('state', 'in', ['queued', 'offered']).orderBy('id').execute();
  }

  /** Which conversation each of these Message-IDs belongs to (threading by References). */
  async byMessageIds(ids: string[]): Promise<{ message_id: string; conversation_id: number; customer_address: string; state: ConversationState }[]> {
    if (ids.length === 0) return [];
    return this.db
      .selectFrom('messages')
      .innerJoin('conversations', 'conversations.id', 'messages.conversation_id')
      .select(['messages.message_id as message_id', 'conversations.id as conversation_id', 'conversations.customer_address', 'conversations.state'])
      .where('messages.message_id', 'in', ids)
      .execute() as Promise<{ message_id: string; conversation_id: number; customer_address: string; state: ConversationState }[]>;
  }

  async addEvent(conversationId: number, type: string, actor: string, data?: unknown): Promise<void> {
    await this.db.insertInto('conversation_events').values({ conversation_id: conversationId, type, actor, data: data === undefined ? null : JSON.stringify(data) }).execute();
  }

  events(conversationId: number) {
    return this.db.selectFrom('conversation_events').selectAll().where('conversation_id', '=', conversationId).orderBy('id').execute();
  }

  messages(conversationId: number): Promise<MessageRow[]> {
    return this.db.selectFrom('messages').select(MESSAGE_COLUMNS).where('conversation_id', '=', conversationId).orderBy('id').execute() as Promise<MessageRow[]>;
  }

  message(id: number): Promise<MessageRow | undefined> {
    return this.db.selectFrom('messages').select(MESSAGE_COLUMNS).where('id', '=', id).executeTakeFirst() as Promise<MessageRow | undefined>;
  }

  /**
   * Stores the HTML prepared for display (sanitized) of a message still pending, with any new
   * warnings appended to its classification. Undefined when it was no longer pending.
   */
  async setDisplayHtml(messageId: number, html: string | null, warnings: string[]): Promise<MessageRow | undefined> {
    const row = await this.db
      .updateTable('messages')
      .set({
        html_body: html,
        display_pending: false,
        ...(warnings.length
          ? { classification: sql`jsonb_set(coalesce(classification, '{}'::jsonb), '{warnings}', coalesce(classification->'warnings', '[]'::jsonb) || ${JSON.stringify(warnings)}::jsonb)` }
          : {}),
      })
      .where('id', '=', messageId)
      .where('display_pending', '=', true)
      .returning(MESSAGE_COLUMNS)
      .executeTakeFirst();
    return row as MessageRow | undefined;
  }

  async raw(messageId: number): Promise<Buffer | undefined> {
    const row = await this.db.selectFrom('messages').select('raw').where('id', '=', messageId).executeTakeFirst();
    return row ? Buffer.from(row.raw) : undefined;
  }

  attachmentsOf(messageIds: number[]) {
    if (messageIds.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('attachments')
      .select(['id', 'message_id', 'filename', 'content_type', 'size', 'sha256', 'content_id', 'inline'])
      .where('message_id', 'in', messageIds)
      .where('complete', '=', true)
      .orderBy('id')
      .execute();
  }

  attachment(id: number) {
    return this.db.selectFrom('attachments').selectAll().where('id', '=', id).where('complete', '=', true).executeTakeFirst();
  }

  /** The attachment's bytes, chunk by chunk, never all at once. */
  async *attachmentChunks(id: number): AsyncGenerator<Buffer> {
    let seq = -1;
    for (;;) {
      const rows = await this.db.selectFrom('attachment_chunks').select(['seq', 'data']).where('attachment_id', '=', id).where('seq', '>', seq).orderBy('seq').limit(8).execute();
      if (rows.length === 0) return;
      for (const r of rows) {
        seq = r.seq;
        yield Buffer.from(r.data);
      }
    }
  }

  /** Open conversations per assignee (what counts against capacity). */
  async loads(): Promise<Map<number, number>> {
    const rows = await this.db
      .selectFrom('conversations')
      .select(['assignee_id'])
      .select(sql<number>`count(*)::int`.as('n'))
      .where('state', '=', 'assigned')
      .where('assignee_id', 'is not', null)
      .groupBy('assignee_id')
      .execute();
    return new Map(rows.map((r) => [r.assignee_id!, r.n]));
  }
}
