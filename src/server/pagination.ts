/** Opaque list cursors (API.md "Lists"): the last id of the page, base64url-encoded. */
import { invalid } from '../domain/errors.js';

export function encodeCursor(lastId: number): string {
  return Buffer.from(JSON.stringify({ after: lastId })).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): number {
  if (!cursor) return 0;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof v.after === 'number' && Number.isInteger(v.after) && v.after >= 0) return v.after;
  } catch {
    // fall through
  }
  throw invalid('The cursor is not valid', 'Pass back the nextCursor of the previous page unchanged, or leave it out for the first page.');
}

/** A page from rows ordered by id, fetched with `limit + 1` to know whether more follow. */
export function page<T extends { id: number }, U>(rows: T[], limit: number, present: (row: T) => U): { items: U[]; nextCursor?: string } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items: items.map(present), ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.id) } : {}) };
}
