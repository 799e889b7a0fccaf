/** The vocabulary of reading a mailbox exactly once: positions, messages, batches. */

/**
 * Where a source is in its mailbox. IMAP: UIDVALIDITY + last UID (+ HIGHESTMODSEQ);
 * POP3: nothing here (the set of imported UIDLs is kept per message); Graph/EWS: a cursor.
 */
export interface SyncPosition {
  uidvalidity: number | null;
  lastUid: number;
  highestModseq: string | null;
  cursor: string | null;
}

export const EMPTY_POSITION: SyncPosition = { uidvalidity: null, lastUid: 0, highestModseq: null, cursor: null };

export interface SourceMessage {
  /** Identity of the message in its mailbox, stable while the mailbox is: `uidvalidity:uid`, a UIDL, an item id. */
  key: string;
  raw: Buffer;
  internalDate: Date | null;
}

export interface SourceBatch {
  messages: SourceMessage[];
  /** The position once this batch is committed. */
  position: SyncPosition;
  /** The folder was reset (UIDVALIDITY changed): keys of earlier messages are void, dedupe by content. */
  reset: boolean;
}
