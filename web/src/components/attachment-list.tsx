import type { Attachment } from '../api/types.js';
import { formatSize, showInvisible } from './text-format.js';

/**
 * A message's attachments to download. The server sends them as downloads (never rendered as
 * our page); the names are shown with any bidi trickery made visible.
 */
export function AttachmentList({ attachments }: { attachments: Attachment[] }) {
  // Inline images are part of the message body (cid:), not files the customer sent.
  const files = attachments.filter((a) => !(a.inline && a.contentType.startsWith('image/')));
  if (files.length === 0) return null;
  return (
    <ul className="attachments" aria-label="Attachments">
      {files.map((a) => {
        const name = showInvisible(a.filename) || 'attachment';
        const tricked = name !== (a.filename ?? 'attachment');
        return (
          <li key={a.id}>
            <a href={`/api/v1/attachments/${a.id}`} download data-testid="attachment">
              <bdi className="file-name">{name}</bdi>
            </a>
            <span className="file-size">{formatSize(a.size)}</span>
            {a.inline && <span className="file-tag">inline</span>}
            {tricked && (
              <span className="file-warning" title="The file name holds invisible or direction-changing characters, shown as [U+…]. It may pretend to be another type of file.">
                suspicious name
              </span>
            )}
          </li>
        );
      })}
    </ul>
  );
}
