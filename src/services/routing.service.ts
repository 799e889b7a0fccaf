/**
 * The router on this node: the pure engine (src/routing) kept in step with the store. It is
 * rebuilt from the store at start, updated by domain events and by the conversation services,
 * and every decision is committed before anyone hears of it. All engine work runs one task at a
 * time; one timer wakes it at the engine's `nextWakeAt()` (relaxation, expiry, sticky waits).
 */
import type { Logger } from 'pino';
import { AppError, errorMessage, notFound } from '../domain/errors.js';
import type { DomainEvent, EventBus } from '../domain/events.js';
import { SYSTEM_ACTOR } from '../domain/types.js';
import { RoutingEngine } from '../routing/routing-engine.js';
import type { CancelledOffer, DecideResult } from '../routing/routing-types.js';
import type { Store } from '../store/store.js';
import type { ConversationRow } from '../store/conversation.repository.js';
import { applyAssignment, applyCancel, applyExpiry, applyOffer, requeueIfIdle, type Notice } from './routing-apply.js';
import { queuePolicyFromSpec } from '../routing/queue-policy.js';
import { agentInput, conversationInput, queueDirectory, type QueueDirectory } from './routing-inputs.js';
import type { UsersService } from './users.service.js';

export interface RoutingServiceDeps {
  store: Store;
  bus: EventBus;
  users: UsersService;
  logger: Logger;
  clock?: () => number;
  seed?: number;
}

const offerGone = (state: string) =>
  new AppError('OFFER_CLOSED', `This offer is no longer open (${state})`, {
    status: 409,
    hint: 'It expired, was declined, or another agent took the conversation; wait for the next offer.',
  });

export class RoutingService {
  private engine!: RoutingEngine;
  private queues: QueueDirectory = { byId: new Map(), byName: new Map() };
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private tickQueued = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: RoutingServiceDeps) {
    this.now = deps.clock ?? Date.now;
  }

  async start(): Promise<void> {
    await this.serial(() => this.rebuild());
    this.unsubscribe = this.deps.bus.subscribe((e) => this.onEvent(e));
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    await this.chain.catch(() => undefined);
  }

  /** Runs engine work one task at a time, in order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private onEvent(e: DomainEvent): void {
    if (this.stopped) return;
    if (e.type === 'agent.state') {
      const id = (e.data as { id?: number }).id;
      if (id !== undefined) void this.serial(() => this.refreshAgent(id)).then(() => this.schedule(), (err: unknown) => this.failed(err));
    } else if (e.type === 'config.applied') {
      void this.serial(() => this.reloadConfig()).then(() => this.schedule(), (err: unknown) => this.failed(err));
    }
  }

  private failed(err: unknown): void {
    this.deps.logger.error({ err: errorMessage(err) }, 'routing failed; rebuilding from the store');
    if (this.stopped) return;
    setTimeout(() => void this.serial(() => this.rebuild()).then(() => this.schedule(), (e: unknown) => this.failed(e)), 1000).unref();
  }

  /** The engine from scratch: queues, agents with their loads, waiting conversations, pending offers. */
  private async rebuild(): Promise<void> {
    const { store } = this.deps;
    const now = this.now();
    this.queues = queueDirectory(await store.repos.config.listQueues());
    this.engine = new RoutingEngine({ queues: [...this.queues.byName].map(([, q]) => queuePolicyFromSpec(q.spec)), seed: this.deps.seed ?? 1 });
    const loads = await store.repos.conversations.loads();
    for (const u of await store.repos.users.listAll()) this.engine.upsertAgent(agentInput(u, loads.get(u.id) ?? 0), now);
    for (const c of await store.repos.conversations.waiting()) await this.enqueueRow(c.id, now);
    for (const o of await store.repos.routing.pendingOffers()) {
      if (!this.engine.restoreOffer({ conversationId: o.conversation_id, agentId: o.user_id, expiresAt: o.expires_at.getTime() }, now)) {
        await store.transaction(async (r) => {
          await r.routing.closeOffer(o.conversation_id, o.user_id, 'cancelled');
          await requeueIfIdle(r, o.conversation_id);
        });
      }
    }
  }

  private async reloadConfig(): Promise<void> {
    const now = this.now();
    const next = queueDirectory(await this.deps.store.repos.config.listQueues());
    for (const q of next.byName.values()) this.engine.setQueue(queuePolicyFromSpec(q.spec), now);
    const cancelled: CancelledOffer[] = [];
    for (const name of this.queues.byName.keys()) {
      if (!next.byName.has(name)) cancelled.push(...this.engine.removeQueue(name, now).cancelled);
    }
    this.queues = next;
    const loads = await this.deps.store.repos.conversations.loads();
    const users = await this.deps.store.repos.users.listAll();
    const ids = new Set(users.map((u) => u.id));
    for (const u of users) cancelled.push(...this.engine.upsertAgent(agentInput(u, loads.get(u.id) ?? 0), now));
    for (const id of this.engine.ids().agents) if (!ids.has(id)) cancelled.push(...this.engine.removeAgent(id, now));
    await this.applyCancellations(cancelled);
  }

  private async refreshAgent(userId: number): Promise<void> {
    const u = await this.deps.store.repos.users.findById(userId);
    const now = this.now();
    if (!u) {
      await this.applyCancellations(this.engine.removeAgent(userId, now));
      return;
    }
    const load = (await this.deps.store.repos.conversations.loads()).get(userId) ?? 0;
    await this.applyCancellations(this.engine.upsertAgent(agentInput(u, load), now));
  }

  /** Puts a conversation (new, reopened, transferred) into the engine from its row. */
  private async enqueueRow(conversationId: number, now: number, created?: ConversationRow): Promise<CancelledOffer[]> {
    const { store } = this.deps;
    const c = created ?? (await store.repos.conversations.get(conversationId));
    if (!c || (c.state !== 'queued' && c.state !== 'offered')) return [];
    const queue = this.queues.byId.get(c.queue_id);
    if (!queue) {
      this.deps.logger.warn({ conversation: c.id, queueId: c.queue_id }, 'conversation waits in a queue that no longer exists; not routed');
      return [];
    }
    // A conversation created a moment ago has had no offers to exclude anyone.
    const excluded = created ? [] : await store.repos.routing.excluded(c.id, c.queued_at);
    return this.engine.enqueue(conversationInput(c, { name: queue.name, spec: queue.spec }, excluded, null), now);
  }

  /** Coalesces wake-ups into one decide() run. */
  schedule(): void {
    if (this.stopped || this.tickQueued) return;
    this.tickQueued = true;
    setImmediate(() => {
      this.tickQueued = false;
      void this.serial(() => this.tick()).catch((err: unknown) => this.failed(err));
    });
  }

  private async tick(): Promise<void> {
    const now = this.now();
    const result = this.engine.decide(now);
    await this.apply(result);
    clearTimeout(this.timer);
    const wake = this.engine.nextWakeAt();
    if (wake !== null && !this.stopped) {
      this.timer = setTimeout(() => this.schedule(), Math.max(0, wake - this.now()));
      this.timer.unref();
    }
  }

  private publish(notices: Notice[]): void {
    for (const n of notices) this.deps.bus.publish(n.type, n.data, n.audience);
  }

  private async apply(result: DecideResult): Promise<void> {
    const { store } = this.deps;
    for (const e of result.expired) this.publish(await store.transaction((r) => applyExpiry(r, e)));
    await this.applyCancellations(result.cancelled);
    for (const d of result.offers) {
      const c = await store.repos.conversations.get(d.conversationId);
      const summary = { subject: c?.subject ?? '', customer: c?.customer_address ?? '', queue: d.queue };
      this.publish(await store.transaction((r) => applyOffer(r, d, summary)));
    }
    for (const a of result.assignments) this.publish(await store.transaction((r) => applyAssignment(r, a)));
    for (const p of result.pauses) {
      this.deps.logger.info({ agent: p.login, missed: p.missedOffers }, 'agent paused: not responding to offers');
      await this.deps.users.setState(p.agentId, 'paused', 'not-responding', SYSTEM_ACTOR);
    }
  }

  private async applyCancellations(cancelled: CancelledOffer[]): Promise<void> {
    for (const c of cancelled) this.publish(await this.deps.store.transaction((r) => applyCancel(r, c)));
  }

  /** An agent accepts an offer: the first accept wins; the others' offers are withdrawn. */
  accept(offerId: number, userId: number): Promise<{ conversationId: number }> {
    return this.serial(async () => {
      const offer = await this.deps.store.repos.routing.offer(offerId);
      if (!offer || offer.user_id !== userId) throw notFound(`Offer ${offerId}`, 'List your open offers with GET /api/v1/me/offers.');
      if (offer.state !== 'pending') throw offerGone(offer.state);
      const result = this.engine.accept(offer.conversation_id, userId, this.now());
      if (!result.won) throw offerGone(result.reason ?? 'taken');
      const notices = await this.deps.store.transaction(async (r) => {
        await r.routing.closeOffer(offer.conversation_id, userId, 'accepted');
        const out: Notice[] = [];
        for (const c of result.cancelled) out.push(...(await applyCancel(r, c)));
        await r.conversations.update(offer.conversation_id, { state: 'assigned', assignee_id: userId });
        await r.routing.addDecision({ conversationId: offer.conversation_id, step: 'offer', outcome: 'accepted', agentId: userId, detail: {} });
        await r.conversations.addEvent(offer.conversation_id, 'accepted', `user:${userId}`, { offer: offerId });
        out.push({ type: 'conversation.updated', data: { id: offer.conversation_id, state: 'assigned', assigneeId: userId }, audience: { kind: 'some', userIds: [userId], roles: ['supervisor'] } });
        return out;
      });
      this.publish(notices);
      this.schedule();
      return { conversationId: offer.conversation_id };
    });
  }

  /** An agent declines: never offered this conversation again; it is routed to someone else. */
  decline(offerId: number, userId: number): Promise<void> {
    return this.serial(async () => {
      const offer = await this.deps.store.repos.routing.offer(offerId);
      if (!offer || offer.user_id !== userId) throw notFound(`Offer ${offerId}`, 'List your open offers with GET /api/v1/me/offers.');
      if (offer.state !== 'pending') throw offerGone(offer.state);
      this.engine.decline(offer.conversation_id, userId, this.now());
      await this.deps.store.transaction(async (r) => {
        await r.routing.closeOffer(offer.conversation_id, userId, 'declined');
        await r.routing.addDecision({ conversationId: offer.conversation_id, step: 'offer', outcome: 'declined', agentId: userId, detail: {} });
        await r.conversations.addEvent(offer.conversation_id, 'declined', `user:${userId}`, { offer: offerId });
        await requeueIfIdle(r, offer.conversation_id);
      });
      this.schedule();
    });
  }

  /**
   * A conversation (new, reopened, transferred to a queue) needs an agent. Call after its commit;
   * `created`: the row just inserted by the caller, so it need not be read again.
   */
  enqueue(conversationId: number, created?: ConversationRow): Promise<void> {
    return this.enqueueMany([{ id: conversationId, ...(created ? { created } : {}) }]);
  }

  /** Several conversations in one step of the router (a group filed by ingest), in order. */
  enqueueMany(items: { id: number; created?: ConversationRow }[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return this.serial(async () => {
      const now = this.now();
      for (const it of items) await this.applyCancellations(await this.enqueueRow(it.id, now, it.created));
      this.schedule();
    });
  }

  /** A conversation no longer needs routing (assigned directly, deleted). */
  remove(conversationId: number): Promise<void> {
    return this.serial(async () => {
      await this.applyCancellations(this.engine.remove(conversationId, this.now()));
      this.schedule();
    });
  }

  /** An agent's assigned conversations changed (handled, transferred, reassigned). */
  agentChanged(userId: number): Promise<void> {
    return this.serial(async () => {
      await this.refreshAgent(userId);
      this.schedule();
    });
  }

  /** The agent's open offers, with what the offer event says about each conversation. */
  async myOffers(userId: number) {
    const offers = await this.deps.store.repos.routing.pendingFor(userId);
    const convs = new Map((await this.deps.store.repos.conversations.refs(offers.map((o) => o.conversation_id))).map((c) => [c.id, c]));
    return offers.map((o) => {
      const c = convs.get(o.conversation_id);
      return { ...o, subject: c?.subject ?? '', customer: c?.customer_address ?? '', customerName: c?.customer_name ?? null, queue: (c && this.queues.byId.get(c.queue_id)?.name) ?? null };
    });
  }

  /** Waits until everything queued so far has been decided and applied (tests, shutdown). */
  async settle(): Promise<void> {
    await this.serial(() => this.tick());
  }
}
