/** How values read on screen: invisible characters made visible, sizes, durations, times. */

/**
 * Bidi controls (UAX #9) and zero-width characters in a name can reorder or hide what an agent
 * reads: `invoice\u202Efdp.exe` shows as "invoiceexe.pdf". They are shown as `[U+202E]`, so the
 * text reads in its real order. (Legitimate right-to-left letters are kept; the views wrap names
 * in <bdi> so they cannot pull the text around them.)
 */
const INVISIBLE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

export function showInvisible(text: string | null | undefined): string {
  return (text ?? '').replace(INVISIBLE, (c) => `[U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}

/** "Carla Customer <carla@example.com>", or just the address. */
export function formatAddress(a: { name?: string | null; address?: string | null } | null | undefined): string {
  if (!a) return 'unknown sender';
  const name = showInvisible(a.name);
  const address = showInvisible(a.address);
  // Some senders put the whole "Name <address>" into the name: show it once.
  if (name && address) return name.includes(address) ? name : `${name} <${address}>`;
  return name || address || 'unknown sender';
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A span of time as people say it: "45 s", "12 min", "3 h 5 min", "2 d". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/** A countdown as m:ss. */
export function formatClock(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const sameDay = (a: Date, b: Date) => a.toDateString() === b.toDateString();

/** Today: "14:05"; otherwise "3 Mar, 14:05" (the agent's locale). */
export function formatTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const d = new Date(iso);
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (sameDay(d, new Date(now))) return time;
  return `${d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', ...(d.getFullYear() !== new Date(now).getFullYear() ? { year: 'numeric' } : {}) })}, ${time}`;
}

export const STATE_LABEL: Record<string, string> = {
  queued: 'Queued',
  offered: 'Offered',
  assigned: 'Open',
  waiting: 'Waiting for customer',
  handled: 'Handled',
};
