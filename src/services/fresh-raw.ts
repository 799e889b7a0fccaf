/** A byte-budgeted hand-over of just-committed raw mail from the connectors to ingest. */

/**
 * The raw bytes of messages this process has just committed, by id, oldest dropped first past
 * the byte budget. Taking one removes it: a retry (after a failed or interrupted attempt, which
 * may have left attachments behind) reads the row again and clears those.
 */
export class FreshRaw {
  private readonly items = new Map<number, Uint8Array>();
  private bytes = 0;

  constructor(private readonly budget: number) {}

  put(id: number, raw: Uint8Array): void {
    if (raw.length > this.budget) return;
    this.items.set(id, raw);
    this.bytes += raw.length;
    for (const [oldId, old] of this.items) {
      if (this.bytes <= this.budget) break;
      this.items.delete(oldId);
      this.bytes -= old.length;
    }
  }

  take(id: number): Uint8Array | undefined {
    const raw = this.items.get(id);
    if (raw) {
      this.items.delete(id);
      this.bytes -= raw.length;
    }
    return raw;
  }
}
