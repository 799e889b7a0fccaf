/**
 * Who may see and act on a conversation (API.md): supervisors any; an agent the ones assigned to
 * them, and for reading also the ones currently offered to them (to decide on the offer).
 */
import { can, type Principal } from '../auth/policy.js';
import { AppError, notFound } from '../domain/errors.js';
import type { ConversationRow } from '../store/conversation.repository.js';
import type { Store } from '../store/store.js';

export async function canRead(store: Store, p: Principal, c: ConversationRow): Promise<boolean> {
  if (can(p, 'conversations.readAll')) return true;
  if (p.userId === null) return false;
  if (c.assignee_id === p.userId) return true;
  const offers = await store.repos.routing.pendingFor(p.userId);
  return offers.some((o) => o.conversation_id === c.id);
}

/** The conversation, or 404 (also when it exists but is not the caller's: no existence leak). */
export async function readable(store: Store, p: Principal, id: number): Promise<ConversationRow> {
  const c = await store.repos.conversations.get(id);
  if (!c || !(await canRead(store, p, c))) throw notFound(`Conversation ${id}`);
  return c;
}

/** Reply, mark handled, transfer: the assignee or a supervisor. */
export async function actionable(store: Store, p: Principal, id: number): Promise<ConversationRow> {
  const c = await readable(store, p, id);
  if (can(p, 'conversations.readAll') || (p.userId !== null && c.assignee_id === p.userId)) return c;
  throw new AppError('NOT_ASSIGNEE', 'This conversation is not assigned to you', {
    status: 403,
    hint: 'Accept the offer first; a supervisor can transfer it to you.',
  });
}
