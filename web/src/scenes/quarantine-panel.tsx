import { useState } from 'react';
import { api, describeError } from '../api/client.js';
import { formatSize, formatTime, showInvisible } from '../components/text-format.js';
import { useEvent } from '../hooks/use-events.js';
import { useLiveList } from '../hooks/use-live-list.js';
import { useNow } from '../hooks/use-now.js';
import { ErrorNote } from '../components/error-note.js';

interface QuarantineItem {
  id: number;
  mailbox: string | null;
  from: string | null;
  subject: string;
  reason: string;
  receivedAt: string;
  size: number;
  raw: string;
}

/** Messages kept but not routed: why, the original to download, release (route it anyway) or delete. */
export function QuarantinePanel() {
  const { items, set: setItems, error: loadError, reload } = useLiveList<QuarantineItem>('/quarantine');
  const [actionError, setActionError] = useState<{ message: string; hint?: string } | null>(null);
  const [busy, setBusy] = useState<number | null>(null);
  const now = useNow(30_000);
  useEvent('message.quarantined', () => void reload());

  const act = async (id: number, method: 'POST' | 'DELETE') => {
    if (method === 'DELETE' && !window.confirm('Delete this message for good? It will not be routed.')) return;
    setBusy(id);
    try {
      await api(method, method === 'POST' ? `/quarantine/${id}/release` : `/quarantine/${id}`);
      setItems((list) => list && list.filter((m) => m.id !== id));
      setActionError(null);
    } catch (err) {
      setActionError(describeError(err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section aria-labelledby="quarantine-title">
      <h2 id="quarantine-title">Quarantine {items && items.length > 0 && <span className="count">({items.length})</span>}</h2>
      <p className="hint">Messages kept but not routed: machine-made mail (auto-replies, bounces, lists) and mail that could not be read. Release routes one anyway.</p>
      <ErrorNote error={actionError ?? loadError} />
      {items === null ? (
        <p className="loading">Loading…</p>
      ) : items.length === 0 ? (
        <p className="empty">Nothing in quarantine.</p>
      ) : (
        <table className="data-table quarantine">
          <thead>
            <tr>
              <th scope="col">Message</th>
              <th scope="col">Why</th>
              <th scope="col">Received</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((m) => (
              <tr key={m.id} data-testid="quarantined">
                <th scope="row">
                  <bdi>{showInvisible(m.subject || '(no subject)')}</bdi>
                  <span className="sub">
                    <bdi>{showInvisible(m.from ?? 'unknown sender')}</bdi> · {m.mailbox ?? 'no mailbox'} · {formatSize(m.size)}
                  </span>
                </th>
                <td className="reason">{m.reason}</td>
                <td className="nowrap">{formatTime(m.receivedAt, now)}</td>
                <td className="actions">
                  <a className="button small" href={`${m.raw}`} download>
                    Download
                  </a>
                  <button className="small" disabled={busy === m.id} onClick={() => void act(m.id, 'POST')} aria-label={`Release ${m.subject}`}>
                    Release
                  </button>
                  <button className="small danger" disabled={busy === m.id} onClick={() => void act(m.id, 'DELETE')} aria-label={`Delete ${m.subject}`}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
