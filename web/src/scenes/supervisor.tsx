import type { AgentRow, QueueStats } from '../api/types.js';
import { formatDuration } from '../components/text-format.js';
import { useNow } from '../hooks/use-now.js';
import { useSupervisorData } from '../hooks/use-supervisor-data.js';
import { ErrorNote } from '../components/error-note.js';

const STATE_ORDER = { available: 0, paused: 1, offline: 2 } as const;

/** Queues and agents, live: what waits, for how long, within SLA, and who is there to take it. */
export function SupervisorView() {
  const { queues, agents, error, loadedAt } = useSupervisorData();
  const now = useNow(1000);
  return (
    <section className="dashboard" aria-labelledby="supervisor-title">
      <h1 id="supervisor-title">Supervisor</h1>
      <ErrorNote error={error} />
      <h2>Queues</h2>
      {queues === null ? <p className="loading">Loading…</p> : <QueueTable queues={queues} now={now} loadedAt={loadedAt ?? now} />}
      <h2>Agents</h2>
      {agents === null ? <p className="loading">Loading…</p> : <AgentTable agents={agents} now={now} />}
    </section>
  );
}

function QueueTable({ queues, now, loadedAt }: { queues: QueueStats[]; now: number; loadedAt: number }) {
  if (queues.length === 0) return <p className="empty">No queues configured.</p>;
  return (
    <table className="data-table">
      <thead>
        <tr>
          <th scope="col">Queue</th>
          <th scope="col" className="num">Waiting</th>
          <th scope="col" className="num">Oldest wait</th>
          <th scope="col" className="num">Within SLA</th>
        </tr>
      </thead>
      <tbody>
        {queues.map((q) => {
          // The oldest wait keeps growing between reloads.
          const oldest = q.oldestWaitS === null || q.waiting === 0 ? null : q.oldestWaitS * 1000 + (now - loadedAt);
          const sla = q.slaPercent;
          return (
            <tr key={q.id}>
              <th scope="row">{q.name}</th>
              <td className={`num${q.waiting > 0 ? ' strong' : ''}`}>{q.waiting}</td>
              <td className="num">{oldest === null ? '—' : formatDuration(oldest)}</td>
              <td className={`num${sla !== null && sla < 80 ? ' bad' : ''}`}>{sla === null ? '—' : `${Math.round(sla)} %`}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function AgentTable({ agents, now }: { agents: AgentRow[]; now: number }) {
  if (agents.length === 0) return <p className="empty">No agents.</p>;
  const sorted = [...agents].sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.name.localeCompare(b.name));
  return (
    <table className="data-table">
      <thead>
        <tr>
          <th scope="col">Agent</th>
          <th scope="col">State</th>
          <th scope="col" className="num">Load</th>
          <th scope="col" className="num">Since</th>
        </tr>
      </thead>
      <tbody>
        {sorted.map((a) => (
          <tr key={a.login} className={`agent-${a.state}`}>
            <th scope="row">
              {a.name} <span className="hint">({a.login})</span>
            </th>
            <td>
              <span className={`state-pill state-${a.state}`}>
                <span className="state-dot" aria-hidden />
                {a.state}
                {a.reason && `: ${a.reason}`}
              </span>
            </td>
            <td className="num">
              <meter min={0} max={Math.max(1, a.capacity)} value={a.load} aria-label={`${a.load} of ${a.capacity}`} /> {a.load}/{a.capacity}
            </td>
            <td className="num">{formatDuration(now - Date.parse(a.since))}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
