/**
 * Sends what the outbox holds, one worker loop per node: claim due messages, send each through
 * its queue's sender, and record the outcome. 4xx and network failures retry with backoff; 5xx
 * fail with the server's answer; a message past its final phase is never sent twice.
 */
import type { Logger } from 'pino';
import type { MailSender } from '../connectors/mail-sender.js';
import { backoffCeiling } from '../connectors/net/backoff.js';
import { SendError } from '../connectors/smtp/smtp-sender.js';
import { errorMessage } from '../domain/errors.js';
import type { EventBus } from '../domain/events.js';
import type { OutboxItem } from '../store/outbox.repository.js';
import type { Store } from '../store/store.js';
import { Wakeup } from './wakeup.js';

export interface OutboxOptions {
  store: Store;
  bus: EventBus;
  logger: Logger;
  /** The sender for a sender id (cached by the caller; built from the sender's spec). */
  senderFor(senderId: number): Promise<MailSender>;
  /** Attempts before a message that keeps failing temporarily is given up (default 12 ≈ a day). */
  maxAttempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** A `sending` claim older than this belongs to a dead process (default 300 s). */
  staleSeconds?: number;
}

const addresses = (v: unknown): string[] => (Array.isArray(v) ? v.map((a) => (typeof a === 'string' ? a : String((a as { address?: string }).address ?? ''))).filter(Boolean) : []);

export class OutboxService {
  private readonly wake = new Wakeup();
  private loop: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly opts: OutboxOptions) {}

  /** Recovers what a crash left in `sending`, then starts sending. */
  async start(): Promise<void> {
    const r = await this.opts.store.repos.outbox.recover(0);
    if (r.requeued || r.uncertain) this.opts.logger.warn(r, 'outbox recovered messages left in sending by an earlier stop');
    this.loop ??= this.run();
  }

  kick(): void {
    this.wake.kick();
  }

  async stop(): Promise<void> {
    this.wake.stop();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  private async run(): Promise<void> {
    while (!this.wake.isStopped) {
      try {
        const items = await this.opts.store.transaction((r) => r.outbox.claimDue(20));
        // Each message on its own: a slow server delays only its own messages.
        for (const item of items) {
          const p = this.deliver(item).finally(() => this.inFlight.delete(p));
          this.inFlight.add(p);
        }
        if (items.length === 20) continue;
        const next = await this.opts.store.repos.outbox.nextDue();
        const wait = next ? Math.max(50, next.getTime() - Date.now()) : 60_000;
        await this.wake.wait(Math.min(wait, 60_000));
      } catch (err) {
        this.opts.logger.error({ err: errorMessage(err) }, 'outbox loop failed; retrying');
        await this.wake.wait(2000);
      }
    }
  }

  private publish(item: OutboxItem, delivery: 'sent' | 'failed' | 'queued', error: string | null): void {
    this.opts.bus.publish('message.delivery', { conversationId: item.conversation_id, messageId: item.id, delivery, error }, { kind: 'some', userIds: item.assignee_id ? [item.assignee_id] : [], roles: ['supervisor'] });
  }

  private async deliver(item: OutboxItem): Promise<void> {
    const { store, logger } = this.opts;
    const to = [...addresses(item.to_addrs), ...addresses(item.cc_addrs)];
    try {
      if (item.sender_id === null) throw new SendError('NO_SENDER', 'This message has no sender (its queue has none)', true, 'Give the queue a sender in the config.');
      const sender = await this.opts.senderFor(item.sender_id);
      const result = await sender.send({ from: item.from_address ?? '', to, raw: item.raw }, { beforeFinal: () => store.repos.outbox.markFinal(item.id) });
      // "Mark sent in the same breath": nothing else happens between the 250 and this commit.
      await store.repos.outbox.markSent(item.id, result.response);
      this.publish(item, 'sent', null);
    } catch (err) {
      const e = err instanceof SendError ? err : new SendError('SEND_FAILED', errorMessage(err), false, 'Mailroom retries with backoff.');
      const reason = `${e.code}: ${e.message}`;
      if (e.permanent || item.delivery_attempts >= (this.opts.maxAttempts ?? 12)) {
        await store.repos.outbox.markFailed(item.id, e.permanent ? reason : `${reason} (gave up after ${item.delivery_attempts} attempts)`);
        this.publish(item, 'failed', reason);
        logger.warn({ messageId: item.id, code: e.code }, 'outbound message failed');
      } else {
        const delay = backoffCeiling(item.delivery_attempts - 1, { baseMs: this.opts.retryBaseMs ?? 30_000, maxMs: this.opts.retryMaxMs ?? 3_600_000 });
        await store.repos.outbox.requeue(item.id, reason, new Date(Date.now() + delay));
        this.publish(item, 'queued', reason);
        this.wake.kick();
      }
    }
  }
}
