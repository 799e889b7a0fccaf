/** Writing attachments as they stream out of the parser: a row, then its chunks, then "complete". */
import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.js';
import { storable } from './storable.js';

export interface AttachmentRowInput {
  messageId: number;
  filename: string | null;
  contentType: string;
  contentId: string | null;
  inline: boolean;
}

/** An attachment that arrived whole (at most one chunk), with its bytes. */
export type WholeAttachment = AttachmentRowInput & { data: Uint8Array; size: number; sha256: string };

/** One multi-row attachment statement carries at most this many bytes, and rows (parameters). */
const INSERT_BYTES = 8 * 1024 * 1024;
const INSERT_ROWS = 1000;

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
   * Whole attachments of several messages (a group being filed), in the order given: the rows,
   * complete, in one statement from one JSON parameter, then the bytes in one multi-row insert
   * with each attachment's bytes a parameter of its own (sent in binary, not as text in the
   * JSON), per INSERT_BYTES.
   */
  async insertMany(list: readonly WholeAttachment[]): Promise<void> {
    for (let i = 0; i < list.length; ) {
      let bytes = 0;
      let j = i;
      while (j < list.length && (j === i || bytes + list[j]!.data.length <= INSERT_BYTES) && j - i < INSERT_ROWS) bytes += list[j++]!.data.length;
      const part = list.slice(i, j);
      i = j;
      const json = JSON.stringify(
        part.map((a, n) => ({
          n,
          message_id: a.messageId,
          filename: storable(a.filename),
          content_type: storable(a.contentType),
          content_id: storable(a.contentId),
          inline: a.inline,
          size: a.size,
          sha256: a.sha256,
        })),
      );
      const ids = await sql<{ id: number; n: number }>`
        with v as materialized (
          select nextval(pg_get_serial_sequence('attachments', 'id')) as id, r.*
          from (select * from jsonb_to_recordset(${json}::jsonb) as x(n integer, message_id bigint, filename text, content_type text, content_id text,
            inline boolean, size integer, sha256 text) order by n) r
        ), a as (
          insert into attachments (id, message_id, filename, content_type, content_id, inline, size, sha256, complete)
          overriding system value
          select id, message_id, filename, content_type, content_id, inline, size, sha256, true from v
        )
        select id, n from v`.execute(this.db);
      const chunks = ids.rows.filter((r) => part[r.n]!.data.length > 0).map((r) => ({ attachment_id: r.id, seq: 0, data: part[r.n]!.data }));
      if (chunks.length > 0) await this.db.insertInto('attachment_chunks').values(chunks).execute();
    }
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
