/** The shapes the API answers with (API.md), as the web app uses them. */
export type AgentState = 'available' | 'paused' | 'offline';
export type Role = 'agent' | 'supervisor' | 'admin';
export type ConversationState = 'queued' | 'offered' | 'assigned' | 'waiting' | 'handled';
export type Delivery = 'queued' | 'sent' | 'failed';

export interface Me {
  id: number;
  login: string;
  name: string;
  email: string | null;
  roles: Role[];
  state: AgentState;
  reason: string | null;
  since: string;
  capacity: number;
  csrfToken?: string;
}

export interface PauseReason {
  code: string;
  label: string;
}

export interface EventFrame<T = unknown> {
  type: string;
  data: T;
}

/** `{items, nextCursor}` of every list (API.md "Lists"). */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface Address {
  address: string;
  name?: string;
}

export interface ConversationItem {
  id: number;
  subject: string | null;
  customer: { address: string | null; name: string | null };
  queue: string | null;
  state: ConversationState;
  assignee: string | null;
  language?: string | null;
  priority?: number;
  receivedAt: string;
  slaDueAt: string | null;
  firstResponseAt?: string | null;
  handledAt?: string | null;
}

export interface Attachment {
  id: number;
  filename: string | null;
  size: number;
  contentType: string;
  inline?: boolean;
  contentId?: string | null;
}

export interface Message {
  id: number;
  direction: 'inbound' | 'outbound';
  from: Address | null;
  to: Address[];
  cc: Address[];
  subject: string | null;
  date: string;
  text: string | null;
  /** Sanitized on the server (API.md "Sanitized HTML"); shown only in the sandboxed frame. */
  html: string | null;
  attachments: Attachment[];
  delivery?: Delivery;
  deliveryError?: string | null;
  sentAt?: string | null;
  classification?: { kind?: string } & Record<string, unknown>;
}

export interface Conversation extends ConversationItem {
  messages: Message[];
}

/** An offer as the workspace shows it: the event's summary, or GET /me/offers + the conversation. */
export interface Offer {
  id: number;
  conversationId: number;
  expiresAt: string;
  subject: string | null;
  customer: string | null;
  queue: string | null;
}

export interface QueueStats {
  id: number;
  name: string;
  waiting: number;
  oldestWaitS: number | null;
  slaPercent: number | null;
}

export interface AgentRow {
  login: string;
  name: string;
  state: AgentState;
  reason: string | null;
  load: number;
  capacity: number;
  since: string;
}

export type MailboxState = 'connecting' | 'connected' | 'error' | 'disabled';

export interface MailboxStatus {
  state: MailboxState;
  since: string;
  lastError: { code: string; message: string; hint?: string } | null;
  lastSyncAt: string | null;
  warnings?: string[];
  imported: number;
}

export interface Mailbox {
  id: number;
  name: string;
  protocol: string;
  host: string;
  port: number;
  queue: string | null;
  status: MailboxStatus;
}

/** WebSocket event payloads (API.md "WebSocket events"). */
export type OfferCreatedEvent = Offer;
export interface OfferClosedEvent {
  id: number;
  conversationId: number;
  reason?: string;
}
export interface ConversationUpdatedEvent {
  id: number;
  state: ConversationState;
  assigneeId?: number | null;
  newMessageId?: number;
  created?: boolean;
}
export interface DeliveryEvent {
  conversationId: number;
  messageId: number;
  delivery: Delivery;
  error: string | null;
}
export interface AgentStateEvent {
  id: number;
  login: string;
  state: AgentState;
  reason: string | null;
  since: string;
}
export interface MailboxStatusEvent extends MailboxStatus {
  id: number;
  name: string;
}
