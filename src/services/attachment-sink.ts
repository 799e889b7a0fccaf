/**
 * Where the parser's attachment bytes go. An attachment larger than one 256 KB chunk streams
 * straight into attachment_chunks rows as it comes out of the worker, so a 50 MB attachment is
 * never whole in memory (its row is written at the first full chunk, completed at the end).
 * A smaller one (most of them) is held in `held` and written with the message when it is filed,
 * in the same transaction, with the other messages' of its group in one statement
 * (`AttachmentRepository.insertMany`): a statement per attachment was the ingest's largest
 * database cost on a backlog. What is held is bounded by the ingest's parse window.
 */
import type { AttachmentInfo, AttachmentMeta, AttachmentSink, AttachmentWriter } from '../ingest/index.js';
import type { AttachmentRowInput, WholeAttachment } from '../store/attachment.repository.js';
import type { Store } from '../store/store.js';

const CHUNK = 256 * 1024;

export function databaseAttachmentSink(store: Store, messageId: number): AttachmentSink & { held: WholeAttachment[] } {
  const held: WholeAttachment[] = [];
  return {
    held,
    begin(meta: AttachmentMeta): AttachmentWriter {
      const row: AttachmentRowInput = {
        messageId,
        filename: meta.filename,
        contentType: meta.contentType,
        contentId: meta.contentId,
        inline: meta.disposition === 'inline' || meta.related,
      };
      let id: number | null = null;
      let seq = 0;
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (pendingBytes === 0) return;
        id ??= await store.repos.attachments.begin(row);
        await store.repos.attachments.chunk(id, seq++, Buffer.concat(pending));
        pending = [];
        pendingBytes = 0;
      };
      return {
        async write(chunk: Uint8Array) {
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes >= CHUNK) await flush();
        },
        async end(info: AttachmentInfo) {
          if (id === null) {
            held.push({ ...row, data: Buffer.concat(pending), size: info.size, sha256: info.sha256 });
          } else {
            await flush();
            await store.repos.attachments.complete(id, info.size, info.sha256);
          }
        },
      };
    },
  };
}
