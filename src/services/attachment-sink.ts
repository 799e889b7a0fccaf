/**
 * Where the parser's attachment bytes go: straight into attachment_chunks rows in 256 KB
 * chunks as they stream out of the worker, so a 50 MB attachment is never whole in memory.
 */
import type { AttachmentInfo, AttachmentMeta, AttachmentSink, AttachmentWriter } from '../ingest/index.js';
import type { Store } from '../store/store.js';

const CHUNK = 256 * 1024;

export function databaseAttachmentSink(store: Store, messageId: number): AttachmentSink {
  return {
    async begin(meta: AttachmentMeta): Promise<AttachmentWriter> {
      const id = await store.repos.attachments.begin({
        messageId,
        filename: meta.filename,
        contentType: meta.contentType,
        contentId: meta.contentId,
        inline: meta.disposition === 'inline' || meta.related,
      });
      let seq = 0;
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (pendingBytes === 0) return;
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
          await flush();
          await store.repos.attachments.complete(id, info.size, info.sha256);
        },
      };
    },
  };
}
