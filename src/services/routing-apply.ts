/**
 * Applies what the routing engine decided to the store, one transaction per decision, and
 * returns the notices to publish once it has committed (never before: a notice about an offer
 * that rolled back would show the agent something that does not exist).
 */
import type { Audience } from '../domain/events.js';
import type { AssignDecision, CancelledOffer, DecisionAudit, ExpiredOffer, OfferDecision } from '../routing/routing-types.js';
import type { Repos } from '../store/store.js';

export interface Notice {
  type: string;
  data: unknown;
  audience: Audience;
}

/** The audit as stored and shown by GET /conversations/:id/routing. */
export function auditDetail(a: DecisionAudit) {
  return {
    candidates: a.candidates.map((c) => ({ login: c.login, eligible: c.eligible, reason: c.reason, score: c.score })),
    requirement: a.requirement,
    filtered: a.filtered,
    workScore: a.workScore,
    policy: a.policy,
    scoreMeaning: a.scoreMeaning,
    sticky: a.sticky,
    agentsKnown: a.agentsKnown,
  };
}

export interface ConversationSummary {
  subject: string;
  customer: string;
  queue: string;
}

const supervisors: Audience = { kind: 'roles', roles: ['supervisor'] };

export async function applyOffer(r: Repos, d: OfferDecision, summary: ConversationSummary): Promise<Notice[]> {
  const conv = await r.conversations.getForUpdate(d.conversationId);
  if (!conv || (conv.state !== 'queued' && conv.state !== 'offered')) return [];
  const offers = await r.routing.createOffers(d.conversationId, d.agentIds, new Date(d.expiresAt));
  await r.conversations.update(d.conversationId, { state: 'offered' });
  await r.routing.addDecision({ conversationId: d.conversationId, step: d.audit.stepLabel, outcome: 'offered', agentId: d.agentIds[0] ?? null, detail: auditDetail(d.audit) });
  await r.conversations.addEvent(d.conversationId, 'offered', 'router', { agents: d.agentIds, expiresAt: new Date(d.expiresAt).toISOString() });
  return [
    ...offers.map((o) => ({
      type: 'offer.created',
      data: { id: o.id, conversationId: d.conversationId, expiresAt: o.expires_at.toISOString(), ...summary },
      audience: { kind: 'users', userIds: [o.user_id] } as Audience,
    })),
    { type: 'conversation.updated', data: { id: d.conversationId, state: 'offered' }, audience: supervisors },
  ];
}

export async function applyAssignment(r: Repos, d: AssignDecision): Promise<Notice[]> {
  const conv = await r.conversations.getForUpdate(d.conversationId);
  if (!conv || (conv.state !== 'queued' && conv.state !== 'offered')) return [];
  await r.conversations.update(d.conversationId, { state: 'assigned', assignee_id: d.agentId });
  await r.routing.addDecision({ conversationId: d.conversationId, step: d.audit.stepLabel, outcome: 'assigned', agentId: d.agentId, detail: auditDetail(d.audit) });
  await r.conversations.addEvent(d.conversationId, 'assigned', 'router', { agent: d.agentId });
  return [{ type: 'conversation.updated', data: { id: d.conversationId, state: 'assigned', assigneeId: d.agentId }, audience: { kind: 'some', userIds: [d.agentId], roles: ['supervisor'] } }];
}

/** Back to `queued` when no offer of it is pending any more. */
export async function requeueIfIdle(r: Repos, conversationId: number): Promise<void> {
  const conv = await r.conversations.getForUpdate(conversationId);
  if (conv?.state === 'offered' && (await r.routing.countPending(conversationId)) === 0) await r.conversations.update(conversationId, { state: 'queued' });
}

export async function applyExpiry(r: Repos, e: ExpiredOffer): Promise<Notice[]> {
  const offer = await r.routing.closeOffer(e.conversationId, e.agentId, 'expired');
  await r.routing.setMissedOffers(e.agentId, e.missedOffers);
  await r.routing.addDecision({ conversationId: e.conversationId, step: 'offer', outcome: 'expired', agentId: e.agentId, detail: { missedOffers: e.missedOffers } });
  await requeueIfIdle(r, e.conversationId);
  return offer ? [{ type: 'offer.expired', data: { id: offer.id, conversationId: e.conversationId }, audience: { kind: 'users', userIds: [e.agentId] } }] : [];
}

export async function applyCancel(r: Repos, c: CancelledOffer): Promise<Notice[]> {
  const offer = await r.routing.closeOffer(c.conversationId, c.agentId, 'cancelled');
  await requeueIfIdle(r, c.conversationId);
  return offer ? [{ type: 'offer.cancelled', data: { id: offer.id, conversationId: c.conversationId, reason: c.reason }, audience: { kind: 'users', userIds: [c.agentId] } }] : [];
}
