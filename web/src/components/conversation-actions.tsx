import { useEffect, useState } from 'react';
import { api, ApiError, describeError, listAll } from '../api/client.js';
import type { Conversation, ConversationItem } from '../api/types.js';
import { ErrorNote } from './error-note.js';

/** Queue names the signed-in user may transfer to, or null when they may not list queues (403). */
let queueNames: Promise<string[] | null> | undefined;
function transferQueues(): Promise<string[] | null> {
  queueNames ??= listAll<{ name: string }>('/queues')
    .then((qs) => qs.map((q) => q.name))
    .catch((err) => {
      // Not allowed is an answer worth keeping; anything else is asked again next time.
      if (err instanceof ApiError && err.status === 403) return null;
      queueNames = undefined;
      throw err;
    });
  return queueNames;
}

interface Props {
  conversation: Conversation;
  onChanged: (c: ConversationItem) => void;
  onTransferred: (queue: string) => void;
}

/** Mark handled; transfer to another queue (only shown to those who can list queues). */
export function ConversationActions({ conversation: c, onChanged, onTransferred }: Props) {
  const [queues, setQueues] = useState<string[] | null>(null);
  const [target, setTarget] = useState('');
  const [busy, setBusy] = useState<'handled' | 'transfer' | null>(null);
  const [error, setError] = useState<{ message: string; hint?: string } | null>(null);

  useEffect(() => {
    let live = true;
    transferQueues()
      .then((q) => live && setQueues(q))
      .catch(() => live && setQueues(null));
    return () => {
      live = false;
    };
  }, []);

  const act = async (kind: 'handled' | 'transfer') => {
    setBusy(kind);
    setError(null);
    try {
      const row = await api<ConversationItem>('POST', `/conversations/${c.id}/${kind}`, kind === 'transfer' ? { queue: target } : undefined);
      if (kind === 'transfer') onTransferred(target);
      else onChanged(row);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(null);
    }
  };

  const others = (queues ?? []).filter((q) => q !== c.queue);
  return (
    <div className="conversation-actions">
      {c.state !== 'handled' && (
        <button onClick={() => void act('handled')} disabled={busy !== null}>
          {busy === 'handled' ? 'Marking…' : 'Mark handled'}
        </button>
      )}
      {queues && others.length > 0 && c.state !== 'handled' && (
        <form
          className="transfer"
          onSubmit={(e) => {
            e.preventDefault();
            if (target) void act('transfer');
          }}
        >
          <label>
            Transfer to
            <select value={target} onChange={(e) => setTarget(e.target.value)} disabled={busy !== null}>
              <option value="">choose a queue…</option>
              {others.map((q) => (
                <option key={q} value={q}>
                  {q}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={!target || busy !== null}>
            {busy === 'transfer' ? 'Transferring…' : 'Transfer'}
          </button>
        </form>
      )}
      <ErrorNote error={error} />
    </div>
  );
}
