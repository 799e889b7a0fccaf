/** The threading lookups of ingest: what stored conversations some messages' keys point at. */
import type { ConversationRef, threadingKeys } from '../ingest/index.js';
import type { Repos } from '../store/store.js';

/** The stored conversations the threading keys of some messages point at (two queries for all of them). */
export async function threadMaps(r: Repos, wants: ReturnType<typeof threadingKeys>[]) {
  const byMessageId = new Map<string, ConversationRef>();
  for (const m of await r.conversations.byMessageIds([...new Set(wants.flatMap((w) => w.messageIds))])) {
    byMessageId.set(m.message_id, { id: String(m.conversation_id), customerAddress: m.customer_address, state: m.state });
  }
  const ids = [...new Set(wants.flatMap((w) => [...w.conversationIds.map(Number), ...w.numbers]))].filter((n) => Number.isSafeInteger(n) && n > 0);
  const byId = new Map<string, ConversationRef>();
  for (const c of await r.conversations.refs(ids)) byId.set(String(c.id), { id: String(c.id), customerAddress: c.customer_address, state: c.state });
  const byNumber = new Map([...byId.values()].map((c) => [Number(c.id), c]));
  return { byMessageId, byId, byNumber };
}
