import { useEffect, useId, useState, type FormEvent, type KeyboardEvent } from 'react';
import { api, describeError } from '../api/client.js';

const draftKey = (id: number) => `mailroom.draft.${id}`;

/**
 * The answer to the customer: text and optional Cc, sent with Ctrl/⌘+Enter or the button. The
 * draft survives switching conversations and reloads (session storage), and is cleared only
 * once the server took the reply (202).
 */
export function ReplyBox({ conversationId, onSent }: { conversationId: number; onSent: (messageId: number) => void }) {
  const [text, setText] = useState(() => sessionStorage.getItem(draftKey(conversationId)) ?? '');
  const [cc, setCc] = useState('');
  const [showCc, setShowCc] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; hint?: string; details?: string[] } | null>(null);
  const [sent, setSent] = useState(false);
  const ids = useId();

  useEffect(() => {
    if (text) sessionStorage.setItem(draftKey(conversationId), text);
    else sessionStorage.removeItem(draftKey(conversationId));
  }, [conversationId, text]);

  const send = async (e?: FormEvent) => {
    e?.preventDefault();
    if (busy || !text.trim()) return;
    const ccList = cc
      .split(/[,;\s]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    setBusy(true);
    setError(null);
    setSent(false);
    try {
      const r = await api<{ messageId: number }>('POST', `/conversations/${conversationId}/replies`, { text, ...(ccList.length ? { cc: ccList } : {}) });
      setText('');
      setCc('');
      setShowCc(false);
      setSent(true);
      onSent(r.messageId);
    } catch (err) {
      const d = describeError(err);
      const details = (err as { details?: { path: string; message: string }[] }).details?.map((x) => `${x.path}: ${x.message}`);
      setError({ ...d, ...(details?.length ? { details } : {}) });
    } finally {
      setBusy(false);
    }
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void send();
  };

  return (
    <form className="reply-box" onSubmit={send} aria-label="Reply">
      <label htmlFor={`${ids}-text`} className="reply-label">
        Your reply
      </label>
      <textarea
        id={`${ids}-text`}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setSent(false);
        }}
        onKeyDown={onKey}
        rows={6}
        disabled={busy}
        placeholder="Write your answer to the customer…"
        aria-describedby={`${ids}-keys`}
      />
      {showCc && (
        <label className="reply-cc">
          Cc
          <input type="text" value={cc} onChange={(e) => setCc(e.target.value)} placeholder="name@example.com, other@example.com" disabled={busy} autoComplete="off" />
        </label>
      )}
      {error && (
        <div className="error" role="alert">
          {error.message}
          {error.hint && <span className="hint"> {error.hint}</span>}
          {error.details && (
            <ul>
              {error.details.map((d) => (
                <li key={d}>{d}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      <div className="reply-actions">
        <button type="submit" disabled={busy || !text.trim()}>
          {busy ? 'Sending…' : 'Send reply'}
        </button>
        {!showCc && (
          <button type="button" className="link" onClick={() => setShowCc(true)}>
            Add Cc
          </button>
        )}
        <span id={`${ids}-keys`} className="hint">
          Ctrl+Enter sends
        </span>
        {sent && (
          <span className="reply-sent" role="status">
            Reply queued for sending.
          </span>
        )}
      </div>
    </form>
  );
}
