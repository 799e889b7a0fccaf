import type { Mailbox, MailboxStatusEvent } from '../api/types.js';
import { ConnectionTest } from '../components/connection-test.js';
import { formatDuration, formatTime } from '../components/text-format.js';
import { useEvent } from '../hooks/use-events.js';
import { useLiveList } from '../hooks/use-live-list.js';
import { useNow } from '../hooks/use-now.js';
import { QuarantinePanel } from './quarantine-panel.js';
import { ErrorNote } from '../components/error-note.js';

const STATE_TEXT = { connecting: 'Connecting', connected: 'Connected', error: 'Error', disabled: 'Disabled' } as const;

/** Mailboxes and their health, live by `mailbox.status`: the first place to look when mail stops. */
export function AdminView() {
  const { items: mailboxes, set: setMailboxes, error, reload } = useLiveList<Mailbox>('/mailboxes');
  const now = useNow(5000);

  useEvent<MailboxStatusEvent>('mailbox.status', ({ id, name: _name, ...status }) => {
    setMailboxes((list) => list && list.map((m) => (m.id === id ? { ...m, status: { ...m.status, ...status } } : m)));
  });
  useEvent('config.applied', () => void reload());

  return (
    <section className="dashboard" aria-labelledby="admin-title">
      <h1 id="admin-title">Mailboxes</h1>
      <ErrorNote error={error} />
      {mailboxes === null ? (
        <p className="loading">Loading…</p>
      ) : mailboxes.length === 0 ? (
        <p className="empty">No mailboxes yet. Add them in the config file and apply it.</p>
      ) : (
        <table className="data-table mailboxes">
          <thead>
            <tr>
              <th scope="col">Mailbox</th>
              <th scope="col">Status</th>
              <th scope="col">Last sync</th>
              <th scope="col" className="num">Imported</th>
              <th scope="col">Diagnose</th>
            </tr>
          </thead>
          <tbody>
            {mailboxes.map((m) => (
              <tr key={m.id} data-testid="mailbox">
                <th scope="row">
                  {m.name}
                  <span className="sub">
                    {m.protocol} · {m.host}:{m.port}
                    {m.queue && <> → queue {m.queue}</>}
                  </span>
                </th>
                <td>
                  <span className={`mailbox-state mailbox-${m.status.state}`}>{STATE_TEXT[m.status.state] ?? m.status.state}</span>
                  <span className="hint"> for {formatDuration(now - Date.parse(m.status.since))}</span>
                  {m.status.warnings && m.status.warnings.length > 0 && (
                    <ul className="mailbox-warnings" aria-label={`Warnings for ${m.name}`}>
                      {m.status.warnings.map((w) => (
                        <li key={w}>{w}</li>
                      ))}
                    </ul>
                  )}
                  {m.status.lastError && (
                    <p className={`mailbox-last-error${m.status.state === 'connected' ? ' past' : ''}`}>
                      {m.status.state === 'connected' && 'Last error: '}
                      <code>{m.status.lastError.code}</code> {m.status.lastError.message}
                      {m.status.lastError.hint && <span className="hint"> {m.status.lastError.hint}</span>}
                    </p>
                  )}
                </td>
                <td className="nowrap">{m.status.lastSyncAt ? formatTime(m.status.lastSyncAt, now) : 'never'}</td>
                <td className="num">{m.status.imported}</td>
                <td>
                  <ConnectionTest path={`/mailboxes/${m.id}/test`} label={m.name} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <QuarantinePanel />
    </section>
  );
}
