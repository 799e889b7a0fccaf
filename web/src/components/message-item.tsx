import { useMemo, useState } from 'react';
import type { Address, Message } from '../api/types.js';
import { AttachmentList } from './attachment-list.js';
import { DeliveryStatus } from './delivery-status.js';
import { countBlockedImages } from './email-document.js';
import { EmailFrame } from './email-frame.js';
import { formatAddress, formatTime } from './text-format.js';

const list = (addrs: Address[]) => addrs.map(formatAddress).join(', ');

/**
 * One message of the thread: who wrote to whom and when, the body (HTML in the sandboxed
 * frame, otherwise plain text that React escapes), attachments, and for our replies the
 * delivery state.
 */
export function MessageItem({ m }: { m: Message }) {
  const [images, setImages] = useState(false);
  const [plain, setPlain] = useState(false);
  const blocked = useMemo(() => countBlockedImages(m.html), [m.html]);
  const from = formatAddress(m.from);
  const inbound = m.direction === 'inbound';
  const showHtml = Boolean(m.html) && !plain;

  return (
    <article className={`message ${m.direction}`} aria-label={`${inbound ? 'From' : 'Reply by'} ${from}, ${formatTime(m.date)}`} data-testid="message">
      <header className="message-head">
        <span className="direction-tag">{inbound ? 'Customer' : 'Reply'}</span>
        <bdi className="message-from">{from}</bdi>
        <time className="message-date" dateTime={m.date} title={new Date(m.date).toLocaleString()}>
          {formatTime(m.date)}
        </time>
        <DeliveryStatus m={m} />
      </header>
      {(m.to.length > 0 || m.cc.length > 0) && (
        <p className="message-recipients">
          {m.to.length > 0 && (
            <>
              to <bdi>{list(m.to)}</bdi>
            </>
          )}
          {m.cc.length > 0 && (
            <>
              {' '}
              · cc <bdi>{list(m.cc)}</bdi>
            </>
          )}
        </p>
      )}
      {m.html && (
        <div className="message-tools">
          {showHtml && blocked > 0 && !images && (
            <button className="small" onClick={() => setImages(true)}>
              Show images ({blocked})
            </button>
          )}
          {showHtml && blocked > 0 && !images && <span className="hint">Remote images are blocked: they can tell the sender you read this.</span>}
          {m.text && (
            <button className="small link" onClick={() => setPlain((p) => !p)} aria-pressed={plain}>
              {plain ? 'Show formatted' : 'Show plain text'}
            </button>
          )}
        </div>
      )}
      {showHtml ? (
        <EmailFrame html={m.html!} images={images} title={`Message from ${from}`} />
      ) : m.text ? (
        <div className="message-text">{m.text}</div>
      ) : (
        <p className="empty">(no text)</p>
      )}
      <AttachmentList attachments={m.attachments} />
    </article>
  );
}
