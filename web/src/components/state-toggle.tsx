import { useEffect, useState } from 'react';
import { api, ApiError } from '../api/client.js';
import type { AgentState, Me } from '../api/types.js';

interface PauseReason {
  code: string;
  label: string;
}

/** The configured pause reasons; `not-responding` is set by the router, never chosen. */
function usePauseReasons(): PauseReason[] {
  const [reasons, setReasons] = useState<PauseReason[]>([{ code: 'break', label: 'Break' }]);
  useEffect(() => {
    api<{ items: PauseReason[] }>('GET', '/pause-reasons')
      .then((r) => setReasons(r.items.filter((x) => x.code !== 'not-responding')))
      .catch(() => undefined);
  }, []);
  return reasons;
}

/** The agent's state: available, paused with a reason, or offline. */
export function StateToggle({ me, onChange }: { me: Me; onChange: (me: Me) => void }) {
  const PAUSE_REASONS = usePauseReasons();
  const [error, setError] = useState<string | null>(null);
  const set = async (state: AgentState, reason?: string) => {
    setError(null);
    try {
      onChange(await api<Me>('PUT', '/me/state', { state, ...(reason ? { reason } : {}) }));
    } catch (err) {
      setError(err instanceof ApiError ? `${err.message}. ${err.hint ?? ''}` : 'Could not change the state');
    }
  };
  return (
    <div className={`state-toggle state-${me.state}`}>
      <span className="state-dot" aria-hidden />
      <select
        aria-label="Your state"
        value={me.state === 'paused' ? `paused:${me.reason ?? ''}` : me.state}
        onChange={(e) => {
          const [state, reason] = e.target.value.split(':') as [AgentState, string | undefined];
          void set(state, reason);
        }}
      >
        <option value="available">Available</option>
        {PAUSE_REASONS.map((r) => (
          <option key={r.code} value={`paused:${r.code}`}>
            Paused: {r.label}
          </option>
        ))}
        {me.state === 'paused' && !PAUSE_REASONS.some((r) => r.code === me.reason) && <option value={`paused:${me.reason ?? ''}`}>Paused: {me.reason ?? 'no reason'}</option>}
        <option value="offline">Offline</option>
      </select>
      {error && <span className="error" role="alert">{error}</span>}
    </div>
  );
}
