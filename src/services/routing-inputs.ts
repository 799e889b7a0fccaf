/** From store rows to what the routing engine takes: queue policies, agents, conversations. */
import { queueSchema, type QueueSpec } from '../config/schema.js';
import type { AgentInput, ConversationInput } from '../routing/routing-types.js';
import type { ConversationRow } from '../store/conversation.repository.js';
import type { QueueRow } from '../store/config.repository.js';
import type { UserRecord } from '../store/user.repository.js';

export interface QueueDirectory {
  byId: Map<number, { name: string; spec: QueueSpec }>;
  byName: Map<string, { id: number; spec: QueueSpec }>;
}

export function queueDirectory(rows: QueueRow[]): QueueDirectory {
  const byId = new Map<number, { name: string; spec: QueueSpec }>();
  const byName = new Map<string, { id: number; spec: QueueSpec }>();
  for (const row of rows) {
    const spec = queueSchema.parse(row.spec);
    byId.set(row.id, { name: row.name, spec });
    byName.set(row.name, { id: row.id, spec });
  }
  return { byId, byName };
}

export function agentInput(u: UserRecord, load: number): AgentInput {
  return {
    id: u.id,
    login: u.login,
    skills: u.skills,
    languages: u.languages,
    capacity: u.capacity,
    state: u.state,
    pauseReason: u.state_reason,
    load,
    idleSince: (u.idle_since ?? u.state_since).getTime(),
    missedOffers: u.missed_offers,
  };
}

export function conversationInput(c: ConversationRow, queue: { name: string; spec: QueueSpec }, excluded: number[], lastAgentQueue: string | null): ConversationInput {
  return {
    id: c.id,
    queue: queue.name,
    // A fixed queue language is the queue's requirement (undefined); with `auto`, the detected one or none.
    ...(queue.spec.language === 'auto' ? { language: c.language } : {}),
    priority: c.priority,
    arrivedAt: c.queued_at.getTime(),
    slaDueAt: c.sla_due_at?.getTime() ?? null,
    lastAgentId: c.last_agent_id,
    lastAgentAt: c.last_agent_at?.getTime() ?? null,
    lastAgentQueue,
    excluded,
  };
}
