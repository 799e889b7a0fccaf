/**
 * Text PostgreSQL can hold. Its text and jsonb refuse U+0000 (SQLSTATE 22021, 22P05), yet a
 * decoded body, header or file name can contain it (`=00`, base64, a NUL in an 8-bit part); and
 * jsonb refuses a lone UTF-16 surrogate escape, which a decoded RFC 2231 file name in UTF-16 can
 * leave in a JavaScript string (a parameter would be re-encoded silently, JSON keeps the escape).
 * The raw bytes keep everything; the parsed copy shows U+FFFD in their place. Arrays and plain
 * objects are walked; dates, buffers and other objects are kept as they are.
 *
 * Nothing is copied unless something in it changes (almost never): a value that is already
 * storable comes back as the same value. Copying every parsed message whole on the way to the
 * database was 1.6 % of the main thread's time on a backlog; walking it is 0.6 %
 * (ingest-throughput with BENCH_INGEST_PROFILE). The input is never modified.
 */
export function storable<T>(v: T): T {
  if (typeof v === 'string') return storableText(v) as T;
  if (Array.isArray(v)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      const s = storable(x);
      if (s !== x) (out ??= v.slice())[i] = s;
    }
    return (out ?? v) as T;
  }
  if (v !== null && typeof v === 'object' && isPlain(v)) {
    let out: Record<string, unknown> | null = null;
    for (const k of Object.keys(v)) {
      const x = (v as Record<string, unknown>)[k];
      const s = storable(x);
      if (s !== x) setOwn((out ??= copyOf(v)), k, s);
    }
    return (out ?? v) as T;
  }
  return v;
}

function storableText(v: string): string {
  const s = (v as unknown as { isWellFormed(): boolean }).isWellFormed() ? v : (v as unknown as { toWellFormed(): string }).toWellFormed();
  return s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s;
}

function isPlain(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A shallow copy with the same prototype (plain or null) and the same own enumerable keys. */
function copyOf(v: object): Record<string, unknown> {
  const out = Object.create(Object.getPrototypeOf(v) as object | null) as Record<string, unknown>;
  for (const k of Object.keys(v)) setOwn(out, k, (v as Record<string, unknown>)[k]);
  return out;
}

/** An own data property, as in the input: assignment would make a key named __proto__ set the prototype. */
function setOwn(o: Record<string, unknown>, k: string, value: unknown): void {
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
}
