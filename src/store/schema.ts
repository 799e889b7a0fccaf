/** Kysely's view of the tables created by `migrations/`. Keep in step with every migration. */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T = unknown> = ColumnType<T, string | T, string | T>;
type Bytes = ColumnType<Uint8Array, Uint8Array, Uint8Array>;

export interface SettingsTable {
  key: string;
  value: Json;
  secrets_enc: string | null;
  updated_at: Generated<Date>;
}

export interface UsersTable {
  id: Generated<number>;
  login: string;
  name: string;
  email: string | null;
  password_hash: string | null;
  password_fp: string | null;
  capacity: Generated<number>;
  state: Generated<'offline' | 'available' | 'paused'>;
  state_reason: string | null;
  state_since: Generated<Date>;
  idle_since: NullableTimestamp;
  missed_offers: Generated<number>;
  managed_by_config: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: NullableTimestamp;
}

export interface UserRolesTable {
  user_id: number;
  role: 'agent' | 'supervisor' | 'admin';
}

export interface UserSkillsTable {
  user_id: number;
  skill: string;
  level: number;
}

export interface UserLanguagesTable {
  user_id: number;
  language: string;
  proficiency: number;
}

export interface AgentStateHistoryTable {
  id: Generated<number>;
  user_id: number;
  state: string;
  reason: string | null;
  started_at: Generated<Date>;
  ended_at: NullableTimestamp;
  actor: string;
}

export interface SessionsTable {
  id_hash: string;
  user_id: number;
  csrf_token: string;
  created_at: Generated<Date>;
  last_seen_at: Generated<Date>;
  expires_at: Timestamp;
}

export interface ApiTokensTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  token_hash: string;
  created_at: Generated<Date>;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface PauseReasonsTable {
  code: string;
  label: string;
  productive: boolean;
  max_minutes: number | null;
  position: number;
  deleted_at: NullableTimestamp;
}

export interface SendersTable {
  id: Generated<number>;
  name: string;
  type: 'smtp' | 'graph' | 'ews';
  spec: Json;
  secrets_enc: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: NullableTimestamp;
}

export interface QueuesTable {
  id: Generated<number>;
  name: string;
  sender_id: number;
  spec: Json;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: NullableTimestamp;
}

export interface MailboxesTable {
  id: Generated<number>;
  name: string;
  protocol: 'imap' | 'pop3' | 'graph' | 'ews';
  queue_id: number;
  spec: Json;
  secrets_enc: string | null;
  enabled: Generated<boolean>;
  status_state: Generated<'connecting' | 'connected' | 'error' | 'disabled'>;
  status_since: Generated<Date>;
  status_error: Json<{ code: string; message: string; hint: string } | null> | null;
  status_warnings: ColumnType<string[], string | undefined, string>;
  last_sync_at: NullableTimestamp;
  imported_count: Generated<number>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: NullableTimestamp;
}

export interface MailboxSyncTable {
  mailbox_id: number;
  uidvalidity: number | null;
  last_uid: Generated<number>;
  highest_modseq: string | null;
  cursor: string | null;
  updated_at: Generated<Date>;
}

export interface MailboxUidlsTable {
  mailbox_id: number;
  uidl: string;
  imported_at: Generated<Date>;
  /** When `after_import` was applied on the server; null: still to do (migration 003). */
  acked_at: NullableTimestamp;
}

export interface MailboxEventsTable {
  id: Generated<number>;
  mailbox_id: number | null;
  sender_id: number | null;
  at: Generated<Date>;
  kind: string;
  message: string;
  detail: Json | null;
}

export interface ConversationsTable {
  id: Generated<number>;
  queue_id: number;
  mailbox_id: number | null;
  state: Generated<'queued' | 'offered' | 'assigned' | 'waiting' | 'handled'>;
  subject: Generated<string>;
  customer_address: string;
  customer_name: string | null;
  language: string | null;
  priority: Generated<number>;
  assignee_id: number | null;
  last_agent_id: number | null;
  last_agent_at: NullableTimestamp;
  received_at: Generated<Date>;
  queued_at: Generated<Date>;
  sla_due_at: NullableTimestamp;
  first_response_at: NullableTimestamp;
  handled_at: NullableTimestamp;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface MessagesTable {
  id: Generated<number>;
  conversation_id: number | null;
  mailbox_id: number | null;
  direction: 'inbound' | 'outbound';
  source_key: string | null;
  message_id: string | null;
  in_reply_to: string | null;
  refs: Generated<string[]>;
  from_address: string | null;
  from_name: string | null;
  to_addrs: Json;
  cc_addrs: Json;
  subject: Generated<string>;
  sent_date: NullableTimestamp;
  text_body: string | null;
  html_body: string | null;
  /** The HTML is still to be sanitized from the raw bytes (on first display). */
  display_pending: Generated<boolean>;
  raw: Bytes;
  raw_sha256: string;
  size: number;
  ingest_state: Generated<'received' | 'done' | 'quarantined'>;
  quarantine_reason: string | null;
  classification: Json | null;
  author_id: number | null;
  delivery_state: 'queued' | 'sending' | 'sent' | 'failed' | null;
  delivery_phase: 'connecting' | 'final' | null;
  delivery_error: string | null;
  delivery_attempts: Generated<number>;
  next_attempt_at: NullableTimestamp;
  sent_at: NullableTimestamp;
  received_at: Generated<Date>;
}

export interface AttachmentsTable {
  id: Generated<number>;
  message_id: number;
  filename: string | null;
  content_type: string;
  size: number;
  sha256: string;
  content_id: string | null;
  inline: Generated<boolean>;
  complete: Generated<boolean>;
}

export interface AttachmentChunksTable {
  attachment_id: number;
  seq: number;
  data: Bytes;
}

export interface OffersTable {
  id: Generated<number>;
  conversation_id: number;
  user_id: number;
  state: Generated<'pending' | 'accepted' | 'declined' | 'expired' | 'cancelled'>;
  created_at: Generated<Date>;
  expires_at: Timestamp;
  decided_at: NullableTimestamp;
}

export interface RoutingDecisionsTable {
  id: Generated<number>;
  conversation_id: number;
  at: Generated<Date>;
  step: string;
  outcome: string;
  agent_id: number | null;
  detail: Json;
}

export interface ConversationEventsTable {
  id: Generated<number>;
  conversation_id: number;
  at: Generated<Date>;
  type: string;
  actor: string;
  data: Json | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: Generated<Date>;
  actor_kind: string;
  actor_login: string;
  action: string;
  entity_type: string;
  entity_key: string;
  before: Json | null;
  after: Json | null;
}

export interface LeasesTable {
  name: string;
  holder: string;
  epoch: Generated<number>;
  expires_at: Timestamp;
}

export interface DB {
  settings: SettingsTable;
  users: UsersTable;
  user_roles: UserRolesTable;
  user_skills: UserSkillsTable;
  user_languages: UserLanguagesTable;
  agent_state_history: AgentStateHistoryTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  pause_reasons: PauseReasonsTable;
  senders: SendersTable;
  queues: QueuesTable;
  mailboxes: MailboxesTable;
  mailbox_sync: MailboxSyncTable;
  mailbox_uidls: MailboxUidlsTable;
  mailbox_events: MailboxEventsTable;
  conversations: ConversationsTable;
  messages: MessagesTable;
  attachments: AttachmentsTable;
  attachment_chunks: AttachmentChunksTable;
  offers: OffersTable;
  routing_decisions: RoutingDecisionsTable;
  conversation_events: ConversationEventsTable;
  audit_log: AuditLogTable;
  leases: LeasesTable;
}
