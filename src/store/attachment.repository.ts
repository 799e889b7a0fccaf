/** Writing attachments as they stream out of the parser: a row, then its chunks, then "complete". */
import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.js';

export interface AttachmentRowInput {
  messageId: number;
  filename: string | null;
  contentType: string;
  contentId: string | null;
  inline: boolean;
}

export class AttachmentRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async begin(a: AttachmentRowInput): Promise<number> {
    const row = await this.db
      .insertInto('attachments')
      .values({ message_id: a.messageId, filename: a.filename, content_type: a.contentType, content_id: a.contentId, inline: a.inline, size: 0, sha256: '' })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /**
   * An attachment that arrived whole (one chunk, the common case): its row, complete, and its
   * bytes in one statement instead of begin + chunk + complete.
   */
  async insertWhole(a: AttachmentRowInput & { data: Uint8Array; size: number; sha256: string }): Promise<number> {
    const r = await sql<{ id: number }>`
      with a as (
        insert into attachments (message_id, filename, content_type, content_id, inline, size, sha256, complete)
        values (${a.messageId}, ${a.filename}, ${a.contentType}, ${a.contentId}, ${a.inline}, ${a.size}, ${a.sha256}, true)
        returning id
      ), c as (
        insert into attachment_chunks (attachment_id, seq, data) select id, 0, ${a.data} from a where ${a.data.length} > 0
      )
      select id from a`.execute(this.db);
    return r.rows[0]!.id;
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
