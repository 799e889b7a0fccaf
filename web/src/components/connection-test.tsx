import { useState } from 'react';
import { api, describeError } from '../api/client.js';
import { ErrorNote } from './error-note.js';

interface Step {
  name: string;
  ok: boolean;
  code?: string;
  ms: number;
  detail: string;
  hint?: string;
  warnings: string[];
}

const STEP_LABEL: Record<string, string> = { dns: 'DNS', tcp: 'TCP', proxy: 'Proxy', tls: 'TLS', auth: 'Login', folder: 'Folder', smtp: 'SMTP', sender: 'Sender' };

/** Runs the step-by-step connection test of a mailbox or sender and shows each step, the failing one with what to do. */
export function ConnectionTest({ path, label }: { path: string; label: string }) {
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; steps: Step[] } | null>(null);
  const [error, setError] = useState<{ message: string; hint?: string } | null>(null);

  const run = async () => {
    setRunning(true);
    setError(null);
    try {
      setResult(await api<{ ok: boolean; steps: Step[] }>('POST', path));
    } catch (err) {
      setError(describeError(err));
    } finally {
      setRunning(false);
    }
  };

  return (
    <div className="connection-test">
      <button className="small" onClick={() => void run()} disabled={running} aria-label={`Test ${label}`}>
        {running ? 'Testing…' : 'Test connection'}
      </button>
      <ErrorNote error={error} />
      {result && (
        <ol className={`test-steps ${result.ok ? 'passed' : 'failed'}`} aria-label={`Connection test of ${label}: ${result.ok ? 'passed' : 'failed'}`}>
          {result.steps.map((s) => (
            <li key={s.name} className={s.ok ? 'ok' : 'fail'} data-testid="test-step">
              <span className="step-mark" aria-hidden>{s.ok ? '✓' : '✗'}</span> <strong>{STEP_LABEL[s.name] ?? s.name}</strong> <span className="hint">{s.ms} ms</span>
              {!s.ok && s.code && <code className="step-code">{s.code}</code>}
              <span className="step-detail"> {s.detail}</span>
              {!s.ok && s.hint && <p className="step-hint">What to do: {s.hint}</p>}
              {s.warnings.map((w) => (
                <p key={w} className="step-warning">Warning: {w}</p>
              ))}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
