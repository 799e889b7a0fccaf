import type { ConversationItem } from '../api/types.js';
import { followLink } from '../hooks/use-route.js';
import { useNow } from '../hooks/use-now.js';
import { SlaBadge } from './sla-badge.js';
import { formatTime, showInvisible, STATE_LABEL } from './text-format.js';

interface Props {
  active: ConversationItem[];
  handled: ConversationItem[];
  loaded: boolean;
  error: { message: string; hint?: string } | null;
  unread: Set<number>;
  openId: number | null;
}

/** My conversations: open work first (by SLA due), then the latest handled ones. */
export function ConversationList({ active, handled, loaded, error, unread, openId }: Props) {
  const now = useNow(15_000);
  return (
    <nav className="conversation-list" aria-label="My conversations">
      <h2>My conversations</h2>
      {error && (
        <p className="error" role="alert">
          {error.message}
          {error.hint && <span className="hint"> {error.hint}</span>}
        </p>
      )}
      {loaded && active.length === 0 && <p className="empty">No open conversations.</p>}
      <ul>
        {active.map((c) => (
          <Row key={c.id} c={c} now={now} unread={unread.has(c.id)} current={c.id === openId} />
        ))}
      </ul>
      {handled.length > 0 && (
        <>
          <h3>Recently handled</h3>
          <ul>
            {handled.map((c) => (
              <Row key={c.id} c={c} now={now} unread={unread.has(c.id)} current={c.id === openId} />
            ))}
          </ul>
        </>
      )}
    </nav>
  );
}

function Row({ c, now, unread, current }: { c: ConversationItem; now: number; unread: boolean; current: boolean }) {
  const path = `/conversations/${c.id}`;
  const subject = showInvisible(c.subject) || '(no subject)';
  return (
    <li className={`conv-row state-${c.state}${unread ? ' unread' : ''}${current ? ' current' : ''}`}>
      <a href={path} onClick={(e) => followLink(e, path)} aria-current={current ? 'page' : undefined}>
        <span className="conv-subject">
          {unread && <span className="unread-dot" aria-label="new message" role="img" />}
          <bdi>{subject}</bdi>
        </span>
        <span className="conv-meta">
          <bdi>{showInvisible(c.customer.name || c.customer.address) || 'unknown'}</bdi>
          <span className="conv-when">{formatTime(c.receivedAt, now)}</span>
        </span>
        <span className="conv-meta">
          <span className={`state-chip state-${c.state}`}>{STATE_LABEL[c.state] ?? c.state}</span>
          <SlaBadge c={c} now={now} compact />
        </span>
      </a>
    </li>
  );
}
