/**
 * The domain of DESIGN.md as tables. Config-managed entities (senders, queues, mailboxes) keep
 * their normalized config in `spec` (what export writes back) with secrets only in `secrets_enc`
 * (AES-256-GCM, see auth/secret-box.ts); the columns beside `spec` are what queries need.
 * Deletions of config entities are soft (`deleted_at`): conversations and messages keep
 * pointing at what they came from.
 */
export const name = '001-initial';

export const up = `
create table settings (
  key text primary key,
  value jsonb not null,
  secrets_enc text,
  updated_at timestamptz not null default now()
);

create table users (
  id bigint generated always as identity primary key,
  login text not null,
  name text not null,
  email text,
  password_hash text,
  password_fp text,
  capacity integer not null default 3 check (capacity between 1 and 100),
  state text not null default 'offline' check (state in ('offline', 'available', 'paused')),
  state_reason text,
  state_since timestamptz not null default now(),
  idle_since timestamptz,
  missed_offers integer not null default 0,
  managed_by_config boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);
create unique index users_login_key on users (lower(login)) where deleted_at is null;

create table user_roles (
  user_id bigint not null references users (id) on delete cascade,
  role text not null check (role in ('agent', 'supervisor', 'admin')),
  primary key (user_id, role)
);

create table user_skills (
  user_id bigint not null references users (id) on delete cascade,
  skill text not null,
  level integer not null check (level between 1 and 10),
  primary key (user_id, skill)
);

create table user_languages (
  user_id bigint not null references users (id) on delete cascade,
  language text not null,
  proficiency integer not null check (proficiency between 1 and 10),
  primary key (user_id, language)
);

create table agent_state_history (
  id bigint generated always as identity primary key,
  user_id bigint not null references users (id) on delete cascade,
  state text not null,
  reason text,
  started_at timestamptz not null default now(),
  ended_at timestamptz,
  actor text not null
);
create index agent_state_history_user on agent_state_history (user_id, started_at);

create table sessions (
  id_hash text primary key,
  user_id bigint not null references users (id) on delete cascade,
  csrf_token text not null,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index sessions_user on sessions (user_id);

create table api_tokens (
  id bigint generated always as identity primary key,
  user_id bigint not null references users (id) on delete cascade,
  name text not null,
  token_hash text not null unique,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

create table pause_reasons (
  code text primary key,
  label text not null,
  productive boolean not null default false,
  max_minutes integer,
  position integer not null default 0,
  deleted_at timestamptz
);

create table senders (
  id bigint generated always as identity primary key,
  name text not null,
  type text not null check (type in ('smtp', 'graph', 'ews')),
  spec jsonb not null,
  secrets_enc text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);
create unique index senders_name_key on senders (name) where deleted_at is null;

create table queues (
  id bigint generated always as identity primary key,
  name text not null,
  sender_id bigint not null references senders (id),
  spec jsonb not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);
create unique index queues_name_key on queues (name) where deleted_at is null;

create table mailboxes (
  id bigint generated always as identity primary key,
  name text not null,
  protocol text not null check (protocol in ('imap', 'pop3', 'graph', 'ews')),
  queue_id bigint not null references queues (id),
  spec jsonb not null,
  secrets_enc text,
  enabled boolean not null default true,
  status_state text not null default 'connecting' check (status_state in ('connecting', 'connected', 'error', 'disabled')),
  status_since timestamptz not null default now(),
  status_error jsonb,
  -- What the last connection should make an admin look at (plain text, TLS unverified, expiry soon).
  status_warnings jsonb not null default '[]',
  last_sync_at timestamptz,
  imported_count bigint not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);
create unique index mailboxes_name_key on mailboxes (name) where deleted_at is null;

-- The sync position: IMAP UIDVALIDITY + last UID (+ HIGHESTMODSEQ), Graph delta link, EWS state.
create table mailbox_sync (
  mailbox_id bigint primary key references mailboxes (id) on delete cascade,
  uidvalidity bigint,
  last_uid bigint not null default 0,
  highest_modseq text,
  cursor text,
  updated_at timestamptz not null default now()
);

-- Every source key (IMAP uidvalidity:uid, POP3 UIDL, item id) imported from a mailbox,
-- committed with the message and before DELE/flag/move; kept when messages are purged, so a
-- message left on a POP3 server is never imported twice.
create table mailbox_uidls (
  mailbox_id bigint not null references mailboxes (id) on delete cascade,
  uidl text not null,
  imported_at timestamptz not null default now(),
  primary key (mailbox_id, uidl)
);

-- The connection log (GET /mailboxes/:id/events).
create table mailbox_events (
  id bigint generated always as identity primary key,
  mailbox_id bigint references mailboxes (id) on delete cascade,
  sender_id bigint references senders (id) on delete cascade,
  at timestamptz not null default now(),
  kind text not null,
  message text not null,
  detail jsonb
);
create index mailbox_events_mailbox on mailbox_events (mailbox_id, id);
create index mailbox_events_sender on mailbox_events (sender_id, id);

create table conversations (
  id bigint generated always as identity primary key,
  queue_id bigint not null references queues (id),
  mailbox_id bigint references mailboxes (id),
  state text not null default 'queued' check (state in ('queued', 'offered', 'assigned', 'waiting', 'handled')),
  subject text not null default '',
  customer_address text not null,
  customer_name text,
  language text,
  priority integer not null default 5,
  assignee_id bigint references users (id),
  last_agent_id bigint references users (id),
  last_agent_at timestamptz,
  received_at timestamptz not null default now(),
  queued_at timestamptz not null default now(),
  sla_due_at timestamptz,
  first_response_at timestamptz,
  handled_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index conversations_state on conversations (state, queue_id);
create index conversations_assignee on conversations (assignee_id) where assignee_id is not null;
create index conversations_customer on conversations (lower(customer_address));

create table messages (
  id bigint generated always as identity primary key,
  conversation_id bigint references conversations (id),
  mailbox_id bigint references mailboxes (id),
  direction text not null check (direction in ('inbound', 'outbound')),
  source_key text,
  message_id text,
  in_reply_to text,
  refs text[] not null default '{}',
  from_address text,
  from_name text,
  to_addrs jsonb not null default '[]',
  cc_addrs jsonb not null default '[]',
  subject text not null default '',
  sent_date timestamptz,
  text_body text,
  html_body text,
  raw bytea not null,
  raw_sha256 text not null,
  size integer not null,
  -- Inbound: received (raw committed, not yet parsed) → done | quarantined. Outbound: done.
  ingest_state text not null default 'done' check (ingest_state in ('received', 'done', 'quarantined')),
  -- Inbound: when the source was told (flag, move, delete) after the commit; null = still to do.
  source_acked_at timestamptz,
  quarantine_reason text,
  classification jsonb,
  author_id bigint references users (id),
  delivery_state text check (delivery_state in ('queued', 'sending', 'sent', 'failed')),
  -- While sending: 'connecting' until the last byte before the final dot is handed to the server,
  -- then 'final' (committed before the dot goes out): a crash in 'final' may have delivered.
  delivery_phase text,
  delivery_error text,
  delivery_attempts integer not null default 0,
  next_attempt_at timestamptz,
  sent_at timestamptz,
  received_at timestamptz not null default now()
);
-- Exactly once: a mailbox never stores the same source message twice (UID, UIDL or item id).
create unique index messages_source_key on messages (mailbox_id, source_key) where source_key is not null;
create index messages_sha on messages (mailbox_id, raw_sha256);
create index messages_conversation on messages (conversation_id, id);
create index messages_message_id on messages (message_id) where message_id is not null;
create index messages_quarantine on messages (id) where quarantine_reason is not null;
create index messages_outbox on messages (next_attempt_at) where delivery_state in ('queued', 'sending');
create index messages_pending_ingest on messages (id) where ingest_state = 'received';
create index messages_unacked on messages (mailbox_id, id) where source_key is not null and source_acked_at is null;

create table attachments (
  id bigint generated always as identity primary key,
  message_id bigint not null references messages (id) on delete cascade,
  filename text,
  content_type text not null,
  size integer not null,
  sha256 text not null,
  content_id text,
  inline boolean not null default false,
  -- False until the last chunk is stored: a parse interrupted by a crash leaves an incomplete
  -- attachment, which the retry deletes before parsing again.
  complete boolean not null default false
);
create index attachments_message on attachments (message_id);

-- Attachment bytes in chunks, so a 50 MB attachment is written and read as a stream.
create table attachment_chunks (
  attachment_id bigint not null references attachments (id) on delete cascade,
  seq integer not null,
  data bytea not null,
  primary key (attachment_id, seq)
);

create table offers (
  id bigint generated always as identity primary key,
  conversation_id bigint not null references conversations (id),
  user_id bigint not null references users (id),
  state text not null default 'pending' check (state in ('pending', 'accepted', 'declined', 'expired', 'cancelled')),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  decided_at timestamptz
);
create index offers_pending on offers (expires_at) where state = 'pending';
create index offers_user on offers (user_id) where state = 'pending';
create index offers_conversation on offers (conversation_id);

-- Why each offer went where it did (GET /conversations/:id/routing).
create table routing_decisions (
  id bigint generated always as identity primary key,
  conversation_id bigint not null references conversations (id),
  at timestamptz not null default now(),
  step text not null,
  outcome text not null,
  agent_id bigint references users (id),
  -- The engine's audit: candidates (login, eligible, reason, score), requirement, filtered counts.
  detail jsonb not null default '{}'
);
create index routing_decisions_conversation on routing_decisions (conversation_id, id);

-- Every conversation transition with its time and actor: reports are computed from these.
create table conversation_events (
  id bigint generated always as identity primary key,
  conversation_id bigint not null references conversations (id),
  at timestamptz not null default now(),
  type text not null,
  actor text not null,
  data jsonb
);
create index conversation_events_conversation on conversation_events (conversation_id, id);

create table audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  actor_kind text not null,
  actor_login text not null,
  action text not null,
  entity_type text not null,
  entity_key text not null,
  before jsonb,
  after jsonb
);
create index audit_log_entity on audit_log (entity_type, entity_key);

-- Cluster leases (DESIGN.md "cluster"): expiry on the database's clock, epoch fenced on commit.
create table leases (
  name text primary key,
  holder text not null,
  epoch bigint not null default 1,
  expires_at timestamptz not null
);
`;
