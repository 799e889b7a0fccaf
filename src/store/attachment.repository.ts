/** Writing attachments as they stream out of the parser: a row, then its chunks, then "complete". */
import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.js';

export class AttachmentRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async begin(a: { messageId: number; filename: string | null; contentType: string; contentId: string | null; inline: boolean }): Promise<number> {
    const row = await this.db
      .insertInto('attachments')
      .values({ message_id: a.messageId, filename: a.filename, content_type: a.contentType, content_id: a.contentId, inline: a.inline, size: 0, sha256: '' })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async chunk(attachmentId: number, seq: number, data: Uint8Array): Promise<void> {
    await this.db.insertInto('attachment_chunks').values({ attachment_id: attachmentId, seq, data }).execute();
  }

  async complete(attachmentId: number, size: number, sha256: string): Promise<void> {
    await this.db.updateTable('attachments').set({ size, sha256, complete: true }).where('id', '=', attachmentId).execute();
  }

  /** Removes what an interrupted parse of this message left behind (before parsing again). */
  async deleteForMessage(messageId: number): Promise<void> {
    await this.db.deleteFrom('attachments').where('message_id', '=', messageId).execute();
  }

  async count(messageId: number): Promise<number> {
    const r = await this.db.selectFrom('attachments').select(sql<number>`count(*)::int`.as('n')).where('message_id', '=', messageId).executeTakeFirstOrThrow();
    return r.n;
  }
}
