/**
 * The sanitized HTML of an inbound message, prepared the first time somebody opens it rather
 * than while its mailbox's backlog is filed: DOMPurify on jsdom took about 3 ms of a parser
 * worker per message, most of the ingest's CPU (bench/mail/ingest-throughput.bench.ts), and most
 * messages of a backlog are read once, if ever, by an agent. The raw bytes are already stored,
 * so the HTML is parsed again from them in the worker pool, under its time and memory limits,
 * sanitized there, its `cid:` references pointed at the stored attachments, and kept: the next
 * reader gets it straight from the row. Until then `display_pending` marks the row.
 *
 * If the HTML cannot be prepared (time limit, too long to sanitize), the message is shown as
 * its text with a warning, as when ingest used to do it. A transient failure (the pool shutting
 * down) shows the text this time and tries again on the next read.
 */
import type { Logger } from 'pino';
import { resolveDisplayHtml, type ParserPool } from '../ingest/index.js';
import type { MessageRow } from '../store/conversation.repository.js';
import type { Store } from '../store/store.js';
import { storable } from '../store/storable.js';

export interface MessageDisplayDeps {
  store: Store;
  pool: ParserPool;
  logger?: Logger;
}

interface AttachmentRef {
  id: number;
  message_id: number;
  content_id: string | null;
}

export class MessageDisplay {
  /** One preparation per message at a time, whoever asks (two agents opening the same thread). */
  private readonly inFlight = new Map<number, Promise<MessageRow>>();

  constructor(private readonly deps: MessageDisplayDeps) {}

  /** `messages` with the HTML of every pending one prepared (and stored). */
  ready(messages: MessageRow[], attachments: readonly AttachmentRef[]): Promise<MessageRow[]> {
    return Promise.all(messages.map((m) => (m.display_pending ? this.prepare(m, attachments) : m)));
  }

  private prepare(m: MessageRow, attachments: readonly AttachmentRef[]): Promise<MessageRow> {
    let p = this.inFlight.get(m.id);
    if (!p) {
      p = this.run(m, attachments).finally(() => this.inFlight.delete(m.id));
      this.inFlight.set(m.id, p);
    }
    return p;
  }

  private async run(m: MessageRow, attachments: readonly AttachmentRef[]): Promise<MessageRow> {
    const { store, pool, logger } = this.deps;
    const raw = await store.repos.conversations.raw(m.id);
    if (!raw) return m;
    // It parsed at ingest under its queue's size limit; the same bytes may not fail on size now.
    const result = await pool.parse(raw, { display: true, limits: { maxMessageBytes: raw.length + 1 } });
    let html: string | null = null;
    const known = new Set(warningsOf(m));
    let warnings: string[];
    if (result.ok) {
      const contentIds = new Map(attachments.filter((a) => a.message_id === m.id && a.content_id).map((a) => [a.content_id!, a.id]));
      html = result.message.display ? resolveDisplayHtml(result.message.display, contentIds) : null;
      warnings = result.message.warnings.filter((w) => !known.has(w));
    } else if (result.failure.retryable) {
      logger?.warn({ messageId: m.id, code: result.failure.code }, 'preparing the HTML for display failed for a transient reason; the text is shown');
      return m;
    } else {
      logger?.warn({ messageId: m.id, code: result.failure.code, reason: result.failure.reason }, 'the HTML could not be prepared for display');
      warnings = [`The HTML could not be prepared for display (${result.failure.code}: ${result.failure.reason}); the text is shown instead`];
    }
    return (await store.repos.conversations.setDisplayHtml(m.id, storable(html), storable(warnings))) ?? (await store.repos.conversations.message(m.id)) ?? m;
  }
}

function warningsOf(m: MessageRow): string[] {
  const w = (m.classification as { warnings?: unknown } | null)?.warnings;
  return Array.isArray(w) ? w.filter((x): x is string => typeof x === 'string') : [];
}
