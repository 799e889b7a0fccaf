import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressDomain, addressKey, addressLocalPart, normalizeAddress, sameAddress } from './address-normalizer.js';
import { escapeForDisplay, hasBidiControls, hasHeaderUnsafeCharacters, safeDisplayName, safeFilename, safeHeaderAddress, sanitizeHeaderValue } from './header-safety.js';

describe('sanitizeHeaderValue', () => {
  it('turns CR, LF, NUL, U+2028/U+2029 and other controls into spaces', () => {
    expect(sanitizeHeaderValue('Hello\r\nBcc: victim@example.com')).toBe('Hello Bcc: victim@example.com');
    expect(sanitizeHeaderValue('a\u0000b\u2028c\u2029d\u0085e\u007ff\tg')).toBe('a b c d e f g');
    expect(sanitizeHeaderValue('  spaced   out  ')).toBe('spaced out');
    expect(sanitizeHeaderValue(null)).toBe('');
  });

  it('cuts to the line limit', () => {
    expect([...sanitizeHeaderValue('é'.repeat(2000))].length).toBe(998);
  });

  it('property: the result never holds a line break or a control character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = sanitizeHeaderValue(s);
        expect(hasHeaderUnsafeCharacters(out)).toBe(false);
        for (const ch of ['\r', '\n', '\u2028', '\u2029', '\u0000']) expect(out.includes(ch)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('bidi controls and file names', () => {
  it('shows bidi controls and invisible characters escaped', () => {
    expect(escapeForDisplay('invoice\u202efdp.exe')).toBe('invoice[U+202E]fdp.exe');
    expect(escapeForDisplay('\u2066a\u2069\u200e\u200f\u200b')).toBe('[U+2066]a[U+2069][U+200E][U+200F][U+200B]');
    expect(hasBidiControls('x\u202dy')).toBe(true);
    expect(hasBidiControls('plain')).toBe(false);
  });

  it('makes file names safe to offer for download', () => {
    expect(safeFilename('invoice\u202efdp.exe')).toBe('invoice[U+202E]fdp.exe');
    expect(safeFilename('../../etc/passwd')).toBe('passwd');
    expect(safeFilename('C:\\TEMP\\report.pdf')).toBe('report.pdf');
    expect(safeFilename('.htaccess')).toBe('htaccess');
    expect(safeFilename('a\r\nContent-Type: evil"x".txt')).toBe('a Content-Type_ evil_x_.txt');
    expect(safeFilename('')).toBe('attachment');
    expect(safeFilename(null, 'file.bin')).toBe('file.bin');
    const long = safeFilename(`${'x'.repeat(300)}.pdf`);
    expect(long.length).toBe(200);
    expect(long.endsWith('.pdf')).toBe(true);
  });

  it('drops bidi controls from outgoing display names and refuses unsafe addresses', () => {
    expect(safeDisplayName('Ann\u202e \r\nBcc: x')).toBe('Ann Bcc: x');
    expect(safeHeaderAddress('Ann@Example.COM')).toBe('Ann@example.com');
    for (const bad of ['a@b.c\r\nBcc: x@y', 'a@b.c, x@y', '<a@b.c>', 'a b@c.d', 'no-at', 'a@b@c', '']) expect(safeHeaderAddress(bad), bad).toBe('');
  });
});

describe('address normalization', () => {
  it('lower-cases the domain, keeps the local part, trims brackets and mailto', () => {
    expect(normalizeAddress('  <John.Doe@EXAMPLE.COM.>  ')).toBe('John.Doe@example.com');
    expect(normalizeAddress('mailto:a@B.c')).toBe('a@b.c');
    expect(normalizeAddress('not an address')).toBe('');
    expect(normalizeAddress('@example.com')).toBe('');
    expect(addressDomain('x@Sub.Example.org')).toBe('sub.example.org');
    expect(addressLocalPart('X.Y@z.org')).toBe('X.Y');
  });

  it('compares case-insensitively and IDN domains in their ASCII form', () => {
    expect(addressKey('John@Bücher.DE')).toBe('john@xn--bcher-kva.de');
    expect(sameAddress('john@bücher.de', 'JOHN@xn--bcher-kva.de')).toBe(true);
    expect(sameAddress('a@example.com', 'b@example.com')).toBe(false);
    expect(sameAddress('', '')).toBe(false);
  });
});
