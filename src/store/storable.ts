/**
 * Text PostgreSQL can hold. Its text and jsonb refuse U+0000 (SQLSTATE 22021, 22P05), yet a
 * decoded body, header or file name can contain it (`=00`, base64, a NUL in an 8-bit part); and
 * jsonb refuses a lone UTF-16 surrogate escape, which a decoded RFC 2231 file name in UTF-16 can
 * leave in a JavaScript string (a parameter would be re-encoded silently, JSON keeps the escape).
 * The raw bytes keep everything; the parsed copy shows U+FFFD in their place. Arrays and plain
 * objects are walked; dates, buffers and other objects are kept as they are.
 */
export function storable<T>(v: T): T {
  if (typeof v === 'string') {
    const s = (v as unknown as { isWellFormed(): boolean }).isWellFormed() ? v : (v as unknown as { toWellFormed(): string }).toWellFormed();
    return (s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s) as T;
  }
  if (Array.isArray(v)) return v.map((x: unknown) => storable(x)) as T;
  if (v !== null && typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v))) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, storable(x)])) as T;
  }
  return v;
}
