/**
 * Charset gaps of mailparser/libmime, filled. libmime decodes ISO-2022-JP (encoding-japanese),
 * Shift_JIS, GB18030 and windows-125x (iconv-lite) correctly, but deliberately refuses UTF-7
 * (RFC 2152) for bodies and encoded words, because `+ADw-script+AD4-` becomes `<script>` after a
 * filter that looked for `<`. Mailroom never filters before decoding: HTML is sanitized after it
 * is decoded (`html-sanitizer.ts`), so decoding UTF-7 is safe here and shows real mail from old
 * clients correctly instead of as `+AOk-` soup.
 */
import iconv from 'iconv-lite';
import libmime from 'libmime';
import type { Transform } from 'node:stream';

/** UTF-7 and its aliases, compared the way iconv-lite compares names (case and punctuation ignored). */
const UTF7_NAME = /^(?:(?:cs)?unicode11)?utf7$/;

export function isUtf7Charset(charset: string | false | null | undefined): boolean {
  return UTF7_NAME.test(String(charset || '').toLowerCase().replace(/[^a-z0-9]/g, ''));
}

/**
 * A stream decoding a text body from `charset` to UTF-8: UTF-7 with iconv-lite, everything else
 * with libmime (aliases, Japanese charsets, multibyte characters split across chunks).
 */
export function createBodyDecodeStream(charset: string): Transform {
  if (isUtf7Charset(charset)) return iconv.decodeStream('utf7') as unknown as Transform;
  return libmime.createDecodeStream(charset || 'ascii') as unknown as Transform;
}

// RFC 2047 §2 encoded word; the charset may carry an RFC 2231 language suffix (`utf-7*en`).
const ENCODED_WORD = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=/g;

function decodeQ(text: string): Buffer {
  // RFC 2047 §4.2: "_" is a space, =XX a byte.
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '_') bytes.push(0x20);
    else if (c === '=' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c.charCodeAt(0) & 0xff);
  }
  return Buffer.from(bytes);
}

function encodingKnown(charset: string): boolean {
  try {
    return iconv.encodingExists(charset);
  } catch {
    return false;
  }
}

/**
 * Repairs the encoded words of a raw header value (already read as text) before libmime decodes
 * them:
 * - UTF-7 words are rewritten as UTF-8 base64 words, so libmime and mailparser's address parser
 *   decode them like any other (and a decoded `,` or `<` in a display name cannot split an
 *   address list);
 * - Q words that carry raw 8-bit characters (old Outlook and Eudora wrote `=?iso-8859-1?Q?Fr\xF6sche?=`,
 *   which RFC 2047 §5 forbids) get those characters re-encoded as `=XX` in the word's own charset,
 *   where libmime would have read them as UTF-8 and produced mojibake.
 * Other words are left untouched.
 */
export function repairEncodedWords(value: string): string {
  if (!value.includes('=?')) return value;
  return value.replace(ENCODED_WORD, (word, charset: string, enc: string, text: string) => {
    const isB = enc.toUpperCase() === 'B';
    if (isUtf7Charset(charset)) {
      const bytes = isB ? Buffer.from(text, 'base64') : decodeQ(text);
      return `=?UTF-8?B?${Buffer.from(iconv.decode(bytes, 'utf7'), 'utf8').toString('base64')}?=`;
    }
    // eslint-disable-next-line no-control-regex
    if (isB || /^[\x00-\x7f]*$/.test(text)) return word;
    const target = encodingKnown(charset) ? charset : 'utf-8';
    // eslint-disable-next-line no-control-regex
    const fixed = text.replace(/[^\x00-\x7f]/gu, (ch) =>
      [...iconv.encode(ch, target)].map((b) => `=${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
    );
    return `=?${charset}?Q?${fixed}?=`;
  });
}

/**
 * Decodes the encoded words of an unstructured header value (Subject), UTF-7 included. A value
 * without encoded words in a message whose body charset is UTF-7 is decoded as UTF-7 when it
 * looks like it (Netscape 4 wrote raw UTF-7 subjects).
 */
export function decodeHeaderText(value: string, bodyCharset?: string): string {
  if (!value.includes('=?')) {
    if (bodyCharset && isUtf7Charset(bodyCharset) && /\+[A-Za-z0-9+/]{2,}-?/.test(value)) return iconv.decode(Buffer.from(value, 'latin1'), 'utf7');
    return value;
  }
  try {
    return libmime.decodeWords(repairEncodedWords(value));
  } catch {
    return value;
  }
}
