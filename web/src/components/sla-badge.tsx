import type { ConversationItem } from '../api/types.js';
import { formatDuration } from './text-format.js';

/**
 * The first-response SLA: time left, or how long overdue. Nothing once answered or handled,
 * because the target is about the first answer (DESIGN.md "Queue").
 */
export function SlaBadge({ c, now, compact = false }: { c: ConversationItem; now: number; compact?: boolean }) {
  if (!c.slaDueAt || c.firstResponseAt || c.state === 'handled') return null;
  const left = Date.parse(c.slaDueAt) - now;
  const overdue = left < 0;
  const soon = !overdue && left < 15 * 60_000;
  // Views re-render every few seconds, not every second: no second counts here.
  const span = Math.abs(left) < 60_000 ? 'under a minute' : formatDuration(Math.abs(left));
  const text = overdue ? `overdue by ${span}` : `due in ${span}`;
  return (
    <span className={`sla${overdue ? ' overdue' : soon ? ' soon' : ''}`} title={`First response due ${new Date(c.slaDueAt).toLocaleString()}`}>
      {compact ? text : `SLA ${text}`}
    </span>
  );
}
