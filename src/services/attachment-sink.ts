/**
 * Where the parser's attachment bytes go: straight into attachment_chunks rows in 256 KB
 * chunks as they stream out of the worker, so a 50 MB attachment is never whole in memory.
 * The row is written at the first full chunk, or at the end for an attachment smaller than a
 * chunk (most of them): then row, bytes and completion are one statement.
 * `contentIds` maps each completely stored part's Content-ID to its attachment id (for `cid:`).
 */
import type { AttachmentInfo, AttachmentMeta, AttachmentSink, AttachmentWriter } from '../ingest/index.js';
import type { AttachmentRowInput } from '../store/attachment.repository.js';
import type { Store } from '../store/store.js';

const CHUNK = 256 * 1024;

export function databaseAttachmentSink(store: Store, messageId: number): AttachmentSink & { contentIds: Map<string, number> } {
  const contentIds = new Map<string, number>();
  return {
    contentIds,
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
            id = await store.repos.attachments.insertWhole({ ...row, data: Buffer.concat(pending), size: info.size, sha256: info.sha256 });
          } else {
            await flush();
            await store.repos.attachments.complete(id, info.size, info.sha256);
          }
          if (meta.contentId) contentIds.set(meta.contentId, id);
        },
      };
    },
  };
}
