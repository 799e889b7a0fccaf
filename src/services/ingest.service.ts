/**
 * The ingest pipeline: every message whose raw bytes are committed (`received`) is parsed in
 * the worker pool (attachments streamed into the database), classified, threaded and filed in
 * one transaction: a new conversation, a reply joining one (or reopening it), a machine-made
 * message kept without work, or a quarantine with the reason. A message that cannot be parsed
 * is never dropped and never blocks the next; a crash re-runs it from its stored bytes.
 */
import type { Logger } from 'pino';
import type { SecretBox } from '../auth/secret-box.js';
import { queueSchema, type QueueSpec } from '../config/schema.js';
import { errorMessage } from '../domain/errors.js';
import type { EventBus } from '../domain/events.js';
import {
  classifyMessage,
  detectLanguage,
  lookupsFromMaps,
  normalizeMessageId,
  resolveThread,
  threadingKeys,
  type LanguageDetection,
  type ParsedMessage,
  type ParserPool,
  type ThreadDecision,
} from '../ingest/index.js';
import type { MailboxRow } from '../store/config.repository.js';
import type { WholeAttachment } from '../store/attachment.repository.js';
import type { Repos, Store } from '../store/store.js';
import type { UserRecord } from '../store/user.repository.js';
import { databaseAttachmentSink } from './attachment-sink.js';
import type { AutoAckContext } from './auto-ack.js';
import { fallbackFields } from './ingest-fallback.js';
import { addressOf } from './reply-composer.js';
import { fileableInGroup, newMessageOutcome, fileMessage, fileNewMany, type Filed, type FilingInput } from './ingest-filing.js';
import type { RoutingService } from './routing.service.js';
import { FreshRaw } from './fresh-raw.js';
import { threadMaps } from './thread-maps.js';
import { Wakeup } from './wakeup.js';

export interface IngestDeps {
  store: Store;
  bus: EventBus;
  secrets: SecretBox;
  routing: RoutingService;
  pool: ParserPool;
  logger: Logger;
  /** Told when an automatic reply was queued. */
  onOutbox?: () => void;
}

type QueueRef = { id: number; name: string; spec: QueueSpec };

/**
 * Lookups shared by the messages of one pass over the pending ones (up to BATCH messages):
 * a backlog mostly comes from one mailbox into one queue, and reading the mailbox, its queue and
 * every user (four queries) again for each message was about a fifth of its database time
 * (ingest-throughput.bench.ts). A config change is seen from the next pass on.
 */
interface PassLookups {
  mailboxes: Map<number, Promise<MailboxRow | undefined>>;
  queues: Map<number, Promise<QueueRef | undefined>>;
  users?: Promise<UserRecord[]>;
  /** Our addresses and X-Loop id for the auto-acknowledgement's loop guard. */
  autoAck?: Promise<AutoAckContext>;
}

const newPass = (): PassLookups => ({ mailboxes: new Map(), queues: new Map() });

/**
 * Messages read per pass, and how many of them are parsed ahead of the one being filed (the
 * parser workers kept busy while the main thread files), as long as their raw sizes together stay
 * within PARALLEL_BYTES (a backlog of 50 MB messages is taken one at a time). Consecutive
 * messages are filed together, up to GROUP in one transaction: on a backlog one commit and
 * four statements per message were most of the filing's time (a round trip each, and on
 * PostgreSQL a flush to disk per commit); each statement costs the embedded database about
 * half a millisecond whatever its size. Groups of 64: fewer statements than groups of 32, and
 * shorter turns on the embedded database's one connection than groups of 128, with which the
 * connector's commits ran ahead while filing, the slower part, fell behind (ingest-throughput,
 * 6,000 messages, warm, alternated runs: filed 744-767 msg/s with 32, 762-822 with 64, 663-777
 * with 128). The parse runs well ahead of the group being filed: with fewer parsed ahead than a
 * group holds, the workers finished their share early in each group's transaction and then
 * waited for the next (16/32 ahead of groups of 32/128 filed at 0.40x the baseline, 256 ahead
 * at 0.46-0.48x, the machine's busy cores 1.52 -> 1.67 of 2). A message arriving alone is
 * filed alone, at once. After an idle moment the groups start small: the first waits for the
 * parse of its first message only, each next one for twice as many (up to GROUP), and every
 * group takes the messages already parsed after it without waiting. So the first email of a
 * backlog after an outage reaches its queue once it is parsed, not once the first GROUP are
 * (cold, 64 parses took ~0.4 s); the backlog's first 63 take six transactions instead of one.
 */
const BATCH = 1024;
const PARALLEL = 256;
const PARALLEL_BYTES = 32 * 1024 * 1024;
const GROUP = 64;
/** A group waits for the parse of a next message up to this size; a larger one is not waited for. */
const WAIT_FOR_BYTES = 1024 * 1024;
/** Stands for the id of a conversation of the group being filed, not yet written. */
const PENDING = 'pending-';
/** Bytes of just-committed messages kept in memory for their parse; older ones are read back. */
const FRESH_BYTES = 64 * 1024 * 1024;

/** Its queue routes by detected language (API.md `language: auto`). */
const detectsLanguage = (p: { queue?: { spec: QueueSpec } | undefined }): boolean => p.queue?.spec.language === 'auto';

/** A message parsed and classified, waiting for its turn to be threaded and filed. */
interface ParsedReady extends Omit<FilingInput, 'decision' | 'autoAck' | 'language'> {
  kind: 'parsed';
  /** Its attachments small enough to be held until it is filed (written in the same transaction). */
  attachments: WholeAttachment[];
}
type PendingRow = Awaited<ReturnType<Store['repos']['inbound']['pending']>>[number];
type Prepared = ParsedReady | { kind: 'done'; ok: boolean } | { kind: 'failed'; err: unknown };

export class IngestService {
  private readonly wake = new Wakeup();
  private readonly fresh = new FreshRaw(FRESH_BYTES);
  private loop: Promise<void> | undefined;
  private idleResolvers: (() => void)[] = [];
  private busy = false;
  /** How many messages the next group waits for the parse of: 1 after an idle moment, doubling up to GROUP. */
  private patience = 1;

  constructor(private readonly deps: IngestDeps) {}

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * New raw messages were committed. `stored`: their bytes, kept for a while so the parse need
   * not read back what the connector has just written.
   */
  kick(stored: { id: number; raw: Uint8Array }[] = []): void {
    for (const s of stored) this.fresh.put(s.id, s.raw);
    this.wake.kick();
  }

  async stop(): Promise<void> {
    this.wake.stop();
    await this.loop;
  }

  /** Resolves once nothing is waiting to be processed (tests, benchmarks). */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleResolvers.push(resolve));
  }

  private async run(): Promise<void> {
    while (!this.wake.isStopped) {
      let retryLater = false;
      try {
        this.busy = true;
        const pending = await this.deps.store.repos.inbound.pending(BATCH);
        if (!(await this.processInOrder(pending))) retryLater = true;
        if (pending.length === BATCH && !retryLater && !this.wake.isStopped) continue;
      } catch (err) {
        this.deps.logger.error({ err: errorMessage(err) }, 'ingest failed; retrying');
        retryLater = true;
      }
      this.busy = false;
      this.patience = 1;
      for (const r of this.idleResolvers.splice(0)) r();
      await this.wake.wait(retryLater ? 5_000 : 60_000);
    }
  }

  /**
   * Parses up to PARALLEL messages at once (the parser workers busy while the main thread files)
   * and files them one by one in their arrival order, so a reply that arrived after its original
   * still threads into the conversation the original created. False when any should be retried.
   */
  private async processInOrder(messages: PendingRow[]): Promise<boolean> {
    const pass = newPass();
    const started: Promise<Prepared>[] = [];
    /** Those whose preparation has finished (a group takes them without waiting). */
    const settled = new Set<Promise<Prepared>>();
    let inFlightBytes = 0;
    /** Starts the next ones while the window allows; `filed`: how many are done with. */
    const fill = (filed: number) => {
      while (started.length < messages.length && !this.wake.isStopped) {
        const next = messages[started.length]!;
        const idle = started.length === filed;
        if (!idle && (started.length - filed >= PARALLEL || inFlightBytes + next.size > PARALLEL_BYTES)) return;
        inFlightBytes += next.size;
        const p = this.prepare(next, pass).catch((err: unknown): Prepared => ({ kind: 'failed', err }));
        void p.then(() => settled.add(p));
        started.push(p);
      }
    };
    fill(0);
    let allDone = true;
    try {
      for (let i = 0; i < started.length; ) {
        // This one and those after it being parsed, filed together in arrival order. A large
        // message (slow to parse) that is not ready yet heads the next group instead.
        const group: ParsedReady[] = [];
        do {
          const p = await started[i]!;
          inFlightBytes -= messages[i]!.size;
          i++;
          fill(i);
          if (p.kind === 'failed') {
            this.deps.logger.error({ messageId: messages[i - 1]!.id, err: errorMessage(p.err) }, 'ingest of a message failed; will retry');
            allDone = false;
          } else if (p.kind === 'done') {
            allDone &&= p.ok;
          } else group.push(p);
        } while (i < started.length && group.length < GROUP && (settled.has(started[i]!) || (group.length < this.patience && messages[i]!.size <= WAIT_FOR_BYTES)));
        if (group.length > 0 && !this.wake.isStopped) allDone = (await this.fileGroup(group, pass)) && allDone;
        this.patience = Math.min(GROUP, this.patience * 2);
      }
    } finally {
      // Nothing may still be parsing or writing when stop() returns and the store closes.
      await Promise.allSettled(started);
    }
    return allDone;
  }

  /** Everything that does not depend on the messages before this one: read, parse, classify. */
  private async prepare(pending: PendingRow, pass: PassLookups): Promise<Prepared> {
    const { store, logger } = this.deps;
    const messageId = pending.id;
    const fresh = this.fresh.take(messageId);
    // Otherwise read back, and what an interrupted earlier attempt left behind goes in the same statement.
    const row = fresh ? { ...pending, raw: fresh, ingest_state: 'received' } : await store.repos.inbound.forParsing(messageId);
    if (!row || row.ingest_state !== 'received') return { kind: 'done', ok: true };
    // Released from quarantine by an admin: route it whatever it is.
    const force = Boolean((row.classification as { release?: unknown } | null)?.release);
    const mailbox = row.mailbox_id === null ? undefined : await this.mailboxOf(row.mailbox_id, pass);
    const queue = mailbox ? await this.queueOf(mailbox.queue_id, pass) : undefined;

    const sink = databaseAttachmentSink(store, messageId);
    const result = await this.deps.pool.parse(row.raw, {
      sink,
      // The HTML is sanitized when it is first shown (message-display.ts).
      omitHtml: true,
      ...(queue ? { limits: { maxMessageBytes: queue.spec.max_message_mb * 1024 * 1024 } } : {}),
    });
    if (!result.ok) {
      if (result.failure.retryable) {
        logger.warn({ messageId, code: result.failure.code }, 'parse failed for a transient reason; will retry');
        return { kind: 'done', ok: false };
      }
      await store.repos.attachments.deleteForMessage(messageId);
      const reason = `${result.failure.code}: ${result.failure.reason}`;
      // Too large is not hostile: the customer's mail reaches an agent, with a note, unopened.
      const tooLarge = result.failure.code === 'PARSE_TOO_LARGE' || result.failure.code === 'PARSE_ATTACHMENT_TOO_LARGE';
      if ((force || tooLarge) && queue) {
        return { kind: 'done', ok: await this.fileUnparseable(messageId, row.raw, row.received_at, row.mailbox_id, queue, reason, tooLarge ? 'too-large' : 'released') };
      }
      await this.quarantine(messageId, reason);
      return { kind: 'done', ok: true };
    }
    const parsed = result.message;
    const classification = classifyMessage(parsed);
    return {
      kind: 'parsed',
      messageId,
      receivedAt: row.received_at,
      mailboxId: row.mailbox_id,
      queue,
      force,
      parsed,
      classification,
      displayPending: parsed.hasHtml,
      attachments: sink.held,
    };
  }

  /**
   * Threads and files prepared messages, in their order and after every message that arrived
   * before them, in one transaction. The threading lookups of the whole group are read at once;
   * consecutive messages that thread into nothing (most of a backlog) are filed together with
   * one statement per table (`fileNewMany`); any other message first writes those before it,
   * then is threaded and filed on its own inside the same transaction, so a reply still finds
   * the conversation its original opened a moment earlier. If the group fails, each is filed on
   * its own, so one message the database refuses does not hold back the others.
   */
  private async fileGroup(group: ParsedReady[], pass: PassLookups): Promise<boolean> {
    if (group.length === 1) return this.file(group[0]!, pass);
    const keys = this.deps.secrets.deriveKeys('reply-token');
    const autoAck = group.some((p) => p.queue?.spec.auto_ack) ? await (pass.autoAck ??= this.autoAckContext(keys)) : undefined;
    // Read outside the transaction (the embedded database has one connection for both).
    if (group.some(detectsLanguage)) await (pass.users ??= this.deps.store.repos.users.listAll());
    let filed: Filed[];
    try {
      filed = await this.deps.store.transaction(async (r) => {
        const out: Filed[] = [];
        await r.attachments.insertMany(group.flatMap((p) => p.attachments));
        const wants = group.map((p) => threadingKeys(p.parsed, { replyTokenKeys: keys }));
        const maps = await threadMaps(r, wants);
        let run: FilingInput[] = [];
        const flush = async () => {
          if (run.length > 0) out.push(...(await fileNewMany(r, run)));
          run = [];
        };
        for (const p of group) {
          const decision = resolveThread(p.parsed, lookupsFromMaps(maps), { replyTokenKeys: keys });
          const candidate = await this.filingInput(p, decision, autoAck, pass);
          // A decision about a conversation of this group not yet written is left to fileOne.
          if (fileableInGroup(candidate) && !candidate.decision.rejected.some((x) => x.conversationId.startsWith(PENDING))) {
            run.push(candidate);
            // A later message of the group answering this one must not be taken for a new one.
            const id = p.parsed.messageId ? normalizeMessageId(p.parsed.messageId) : null;
            if (id) maps.byMessageId.set(id, { id: `${PENDING}${p.messageId}`, customerAddress: p.parsed.from?.address ?? '', state: 'queued' });
            continue;
          }
          await flush();
          const one = await this.fileOne(r, p, keys, autoAck, pass);
          out.push(one);
          const id = p.parsed.messageId ? normalizeMessageId(p.parsed.messageId) : null;
          if (one.created && id) maps.byMessageId.set(id, { id: String(one.created.id), customerAddress: one.created.customer_address, state: one.created.state });
        }
        await flush();
        return out;
      });
    } catch (err) {
      this.deps.logger.warn({ messages: group.length, err: errorMessage(err) }, 'filing a group of messages failed; filing them one by one');
      let ok = true;
      for (const p of group) ok = (await this.file(p, pass)) && ok;
      return ok;
    }
    await this.announce(...filed);
    return true;
  }

  /** Threads and files one prepared message in a transaction of its own. */
  private async file(p: ParsedReady, pass: PassLookups): Promise<boolean> {
    const { store, logger } = this.deps;
    const { messageId, queue } = p;
    const keys = this.deps.secrets.deriveKeys('reply-token');
    let filed: Filed;
    try {
      const autoAck = queue?.spec.auto_ack ? await (pass.autoAck ??= this.autoAckContext(keys)) : undefined;
      if (detectsLanguage(p)) await (pass.users ??= store.repos.users.listAll());
      filed = await store.transaction(async (r) => {
        await r.attachments.insertMany(p.attachments);
        return this.fileOne(r, p, keys, autoAck, pass);
      });
    } catch (err) {
      // SQLSTATE class 22 (data exception): the database refuses this message's content and
      // always will; retrying every few seconds forever would leave it invisible in `received`.
      if (/^22/.test(String((err as { code?: unknown }).code ?? ''))) {
        await this.quarantine(messageId, `FILING_FAILED: the database refused the parsed content (${errorMessage(err)})`);
        return true;
      }
      logger.error({ messageId, err: errorMessage(err) }, 'filing a parsed message failed; will retry');
      return false;
    }
    await this.announce(filed);
    return true;
  }

  /** Threads and files one message (its held attachments already written) inside the caller's transaction. */
  private async fileOne(r: Repos, p: ParsedReady, keys: Buffer[], autoAck: AutoAckContext | undefined, pass: PassLookups): Promise<Filed> {
    return fileMessage(r, await this.filingInput(p, await this.thread(r, p.parsed, keys), autoAck, pass));
  }

  /**
   * A threaded message as filing takes it. The routing language is detected here, on the main
   * thread, only for a message that opens a conversation in a `language: auto` queue: a reply
   * joins a conversation whose language is set, and mail kept unrouted needs none. (ELD reads at
   * most ~350 bytes of words: ~40 µs a message on the corpus.) `pass.users` is read before the
   * transaction.
   */
  private async filingInput(p: ParsedReady, decision: ThreadDecision, autoAck: AutoAckContext | undefined, pass: PassLookups): Promise<FilingInput> {
    const { kind: _kind, attachments: _held, ...input } = p;
    const c: FilingInput = { ...input, decision, language: null, ...(autoAck && p.queue?.spec.auto_ack ? { autoAck } : {}) };
    if (detectsLanguage(p) && decision.action === 'new' && newMessageOutcome(c).kind === 'conversation') {
      c.language = await this.routableLanguage(detectLanguage(p.parsed.text), p.queue!.spec, pass);
    }
    return c;
  }

  /** After the commit: the events, the outbox and the router hear of it (the router in one step). */
  private async announce(...filed: Filed[]): Promise<void> {
    for (const f of filed) for (const n of f.notices) this.deps.bus.publish(n.type, n.data, n.audience);
    if (filed.some((f) => f.outbox)) this.deps.onOutbox?.();
    await this.deps.routing.enqueueMany(filed.flatMap((f) => (f.route !== null ? [{ id: f.route, ...(f.created ? { created: f.created } : {}) }] : [])));
    for (const f of filed) if (f.agentChanged !== null) await this.deps.routing.agentChanged(f.agentChanged);
  }

  private async quarantine(messageId: number, reason: string): Promise<void> {
    await this.deps.store.repos.conversations.quarantine(messageId, reason);
    this.deps.bus.publish('message.quarantined', { id: messageId, reason }, { kind: 'roles', roles: ['admin'] });
    this.deps.logger.warn({ messageId, reason }, 'message quarantined');
  }

  /** Our X-Loop value and every address of ours, for the auto-acknowledgement's loop guard. */
  private async autoAckContext(keys: Buffer[]): Promise<AutoAckContext> {
    const { config } = this.deps.store.repos;
    const [mailboxes, senders] = await Promise.all([config.listMailboxes(), config.listSenders()]);
    const own = [
      ...mailboxes.map((m) => (m.spec as { auth?: { user?: string } }).auth?.user ?? ''),
      ...senders.map((s) => addressOf((s.spec as { from?: string }).from ?? '')),
    ].filter((a) => a.includes('@'));
    return { keys, loopId: `mailroom-${keys[0]!.subarray(0, 8).toString('hex')}`, ownAddresses: own };
  }

  /** A released message that still cannot be parsed: a conversation from its raw header lines. */
  private async fileUnparseable(
    messageId: number,
    raw: Uint8Array,
    receivedAt: Date,
    mailboxId: number | null,
    queue: { id: number; name: string; spec: QueueSpec },
    reason: string,
    why: 'released' | 'too-large',
  ): Promise<boolean> {
    const f = fallbackFields(Buffer.from(raw), messageId, reason, why);
    const convId = await this.deps.store.transaction(async (r) => {
      const conv = await r.conversations.create({
        queueId: queue.id,
        mailboxId,
        subject: f.subject,
        customerAddress: f.fromAddress,
        customerName: f.fromName,
        language: null,
        priority: queue.spec.priority,
        receivedAt,
        slaDueAt: new Date(receivedAt.getTime() + queue.spec.sla_first_response_minutes * 60_000),
      });
      await r.conversations.fileInbound(messageId, {
        conversationId: conv.id,
        messageIdHeader: null,
        inReplyTo: null,
        references: [],
        fromAddress: f.fromAddress,
        fromName: f.fromName,
        to: [],
        cc: [],
        subject: f.subject,
        sentDate: null,
        text: f.text,
        html: null,
        classification: { kind: why === 'too-large' ? 'too-large' : 'unparseable', released: why === 'released', reason },
        quarantineReason: null,
      });
      await r.conversations.addEvent(conv.id, 'created', 'ingest', { messageId, [why]: reason });
      return conv.id;
    });
    this.deps.bus.publish('conversation.updated', { id: convId, state: 'queued', queue: queue.name, created: true }, { kind: 'roles', roles: ['supervisor'] });
    await this.deps.routing.enqueue(convId);
    return true;
  }

  private async thread(r: Repos, parsed: ParsedMessage, keys: Buffer[]): Promise<ThreadDecision> {
    const maps = await threadMaps(r, [threadingKeys(parsed, { replyTokenKeys: keys })]);
    return resolveThread(parsed, lookupsFromMaps(maps), { replyTokenKeys: keys });
  }

  /**
   * API.md `language: auto`: the detected language is a requirement only when detection is
   * confident and an agent who qualifies for the queue speaks it; otherwise none.
   */
  private async routableLanguage(detected: LanguageDetection, spec: QueueSpec, pass: PassLookups): Promise<string | null> {
    if (!detected.confident || !detected.language) return null;
    const lang = detected.language;
    const qualifies = (u: UserRecord) =>
      Object.keys(u.languages).some((l) => l.split('-')[0] === lang) && Object.entries(spec.skills).every(([skill, min]) => (u.skills[skill] ?? 0) >= min);
    pass.users ??= this.deps.store.repos.users.listAll();
    return (await pass.users).some(qualifies) ? lang : null;
  }

  private mailboxOf(id: number, pass: PassLookups): Promise<MailboxRow | undefined> {
    let found = pass.mailboxes.get(id);
    if (!found) pass.mailboxes.set(id, (found = this.deps.store.repos.config.findMailbox(id)));
    return found;
  }

  private queueOf(id: number, pass: PassLookups): Promise<QueueRef | undefined> {
    let found = pass.queues.get(id);
    if (!found) {
      found = this.deps.store.repos.config.findQueue(id).then((q) => (q ? { id: q.id, name: q.name, spec: queueSchema.parse(q.spec) } : undefined));
      pass.queues.set(id, found);
    }
    return found;
  }
}
