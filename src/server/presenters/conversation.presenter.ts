/** Conversations and messages as the API shows them (API.md). HTML is the sanitized copy. */
import type { ConversationRow, MessageRow } from '../../store/conversation.repository.js';

interface Addr {
  address: string;
  name?: string;
}

const addrList = (v: unknown): Addr[] => (Array.isArray(v) ? (v as Addr[]).map((a) => ({ address: a.address, ...(a.name ? { name: a.name } : {}) })) : []);

export function presentConversationItem(c: ConversationRow, names: { queue: (id: number) => string | null; login: (id: number | null) => string | null }) {
  return {
    id: c.id,
    subject: c.subject,
    customer: { address: c.customer_address, name: c.customer_name },
    queue: names.queue(c.queue_id),
    state: c.state,
    assignee: names.login(c.assignee_id),
    language: c.language,
    priority: c.priority,
    receivedAt: c.received_at.toISOString(),
    slaDueAt: c.sla_due_at?.toISOString() ?? null,
    firstResponseAt: c.first_response_at?.toISOString() ?? null,
    handledAt: c.handled_at?.toISOString() ?? null,
  };
}

export interface AttachmentRowLite {
  id: number;
  message_id: number;
  filename: string | null;
  content_type: string;
  size: number;
  content_id: string | null;
  inline: boolean;
}

export function presentMessage(m: MessageRow, attachments: AttachmentRowLite[]) {
  return {
    id: m.id,
    direction: m.direction,
    from: m.from_address ? { address: m.from_address, ...(m.from_name ? { name: m.from_name } : {}) } : null,
    to: addrList(m.to_addrs),
    cc: addrList(m.cc_addrs),
    subject: m.subject,
    date: (m.sent_date ?? m.received_at).toISOString(),
    text: m.text_body,
    html: m.html_body,
    attachments: attachments
      .filter((a) => a.message_id === m.id)
      .map((a) => ({ id: a.id, filename: a.filename, size: a.size, contentType: a.content_type, inline: a.inline, contentId: a.content_id })),
    ...(m.direction === 'outbound' ? { delivery: m.delivery_state, deliveryError: m.delivery_error, sentAt: m.sent_at?.toISOString() ?? null } : {}),
    ...(m.classification ? { classification: m.classification } : {}),
  };
}
