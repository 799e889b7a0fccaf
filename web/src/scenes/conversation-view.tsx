import { useEffect, useRef } from 'react';
import type { Me } from '../api/types.js';
import { ConversationActions } from '../components/conversation-actions.js';
import { MessageItem } from '../components/message-item.js';
import { ReplyBox } from '../components/reply-box.js';
import { SlaBadge } from '../components/sla-badge.js';
import { formatAddress, formatTime, showInvisible, STATE_LABEL } from '../components/text-format.js';
import { useConversation } from '../hooks/use-conversation.js';
import { useNow } from '../hooks/use-now.js';

/**
 * One conversation: what it is about and where it stands (queue, state, SLA), every message of
 * the thread oldest first, then the reply box and the actions.
 */
export function ConversationView({ id, me, onLeft }: { id: number; me: Me; onLeft: (note: string) => void }) {
  const { conversation: c, error, reload, setConversation } = useConversation(id);
  const now = useNow(15_000);
  const heading = useRef<HTMLHeadingElement>(null);
  const loaded = c !== null;

  // Moving to a conversation moves the focus to its title, so screen readers announce it.
  useEffect(() => {
    if (loaded) heading.current?.focus();
  }, [id, loaded]);

  if (error && !c) {
    return (
      <section className="conversation" aria-label="Conversation">
        <p className="error" role="alert">
          {error.status === 404 ? 'This conversation is not yours (any more), or it does not exist.' : error.message}
          {error.status !== 404 && error.hint && <span className="hint"> {error.hint}</span>}
        </p>
      </section>
    );
  }
  if (!c) return <p className="loading">Loading the conversation…</p>;

  const subject = showInvisible(c.subject) || '(no subject)';
  const customer = formatAddress({ name: c.customer.name, address: c.customer.address });
  // Replies are the assignee's; handled and transfer also a supervisor's (API.md).
  const mine = c.assignee === me.login;
  const supervises = me.roles.includes('supervisor') || me.roles.includes('admin');

  return (
    <section className="conversation" aria-labelledby="conversation-title">
      {error && (
        <p className="error" role="alert">
          {error.status === 404 ? 'This conversation is no longer yours: what you see is how it was.' : `Could not refresh: ${error.message}`}
        </p>
      )}
      <header className="conversation-head">
        <h1 id="conversation-title" ref={heading} tabIndex={-1}>
          <bdi>{subject}</bdi>
        </h1>
        <dl className="conversation-facts">
          <div>
            <dt>Customer</dt>
            <dd>
              <bdi>{customer}</bdi>
            </dd>
          </div>
          <div>
            <dt>Queue</dt>
            <dd>{c.queue ?? '—'}</dd>
          </div>
          <div>
            <dt>State</dt>
            <dd>
              <span className={`state-chip state-${c.state}`} data-testid="conversation-state">
                {STATE_LABEL[c.state] ?? c.state}
              </span>
            </dd>
          </div>
          <div>
            <dt>Received</dt>
            <dd>{formatTime(c.receivedAt, now)}</dd>
          </div>
          {c.slaDueAt && (
            <div>
              <dt>First response</dt>
              <dd>{c.firstResponseAt ? `answered ${formatTime(c.firstResponseAt, now)}` : <SlaBadge c={c} now={now} />}</dd>
            </div>
          )}
        </dl>
        {(mine || (supervises && c.assignee !== null)) && <ConversationActions conversation={c} onChanged={(row) => setConversation({ ...c, ...row })} onTransferred={(q) => onLeft(`“${subject}” was transferred to ${q}.`)} />}
      </header>
      <ol className="thread" aria-label="Messages, oldest first">
        {c.messages.map((m) => (
          <li key={m.id}>
            <MessageItem m={m} />
          </li>
        ))}
      </ol>
      {mine && <ReplyBox key={c.id} conversationId={c.id} onSent={() => void reload()} />}
    </section>
  );
}
