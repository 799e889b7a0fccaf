/**
 * The one interface every mail source implements (IMAP, POP3, Graph, EWS): connect, read what
 * is new after a saved position, watch for more, and acknowledge (flag, move, delete) only after
 * the caller has committed the messages (DESIGN.md "Commit before acknowledging"). Capabilities
 * are declared, so callers never ask `if (protocol === 'imap')`.
 */

export interface SourceCapabilities {
  /** Pushes new mail (IMAP IDLE, Graph notifications); otherwise the caller polls. */
  push: boolean;
  /** Can move messages to another folder after import. */
  move: boolean;
  /** Can flag messages as seen after import. */
  flag: boolean;
  /** Offers a cheap "did anything change" marker (CONDSTORE HIGHESTMODSEQ, delta links). */
  changeMarker: boolean;
}

import type { SourceBatch, SyncPosition } from '../domain/mail-sync.js';

export { EMPTY_POSITION, type SourceBatch, type SourceMessage, type SyncPosition } from '../domain/mail-sync.js';

/** What the source reports while it runs (connection log, status). */
export interface SourceEvents {
  /** New mail may have arrived (IDLE EXISTS, a poll tick): read again. */
  onChange(): void;
  /** The connection ended (the caller reconnects with backoff). */
  onClose(reason: Error | null): void;
}

/** Which of these keys were imported already (committed), from the durable per-mailbox set. */
export type KnownKeys = (keys: string[]) => Promise<Set<string>>;

export interface MailSource {
  readonly capabilities: SourceCapabilities;
  /** Connects, authenticates and opens the folder; resolves when ready to read. */
  connect(events: SourceEvents): Promise<void>;
  /**
   * Reads everything after `position` (or, for sources without an order, everything whose key
   * `known` does not report), oldest first, in batches of bounded size. The caller's handler
   * commits each batch before the next is read; nothing is acknowledged here.
   */
  read(position: SyncPosition, handle: (batch: SourceBatch) => Promise<void>, known: KnownKeys): Promise<void>;
  /** Applies `after_import` to messages already committed (keys from SourceMessage.key). */
  acknowledge(keys: string[]): Promise<void>;
  /** Starts watching (IDLE) or returns at once when the source cannot push. */
  watch(): Promise<void>;
  close(): Promise<void>;
  /** What the current connection should make an admin look at (plain text, TLS not verified, a certificate about to expire). */
  warnings?(): string[];
}

/**
 * An error of the caller's `handle` or `known` (its store), carried through a source's own error
 * mapping so it is passed on as it is, never relabelled as an IMAP or POP3 failure.
 */
export class CallerError {
  constructor(readonly error: unknown) {}
}

/** Runs a caller's callback so that what it throws arrives as a {@link CallerError}. */
export const byCaller = async <T>(fn: () => Promise<T>): Promise<T> => {
  try {
    return await fn();
  } catch (err) {
    throw new CallerError(err);
  }
};
