import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dotStuff } from '../../../test/helpers/pop3-fake-server.js';
import { DotUnstuffer, parseStatusLine, Pop3ProtocolViolation } from './pop3-reader.js';

/** Decodes `wire` fed in the given pieces; returns the body and the bytes left after the terminator. */
function decode(pieces: Buffer[]): { body: Buffer; rest: Buffer; done: boolean } {
  const out: Buffer[] = [];
  const rest: Buffer[] = [];
  const u = new DotUnstuffer();
  for (const piece of pieces) {
    if (u.done) {
      rest.push(piece);
      continue;
    }
    // Pieces are views into `piece`: copy, as the client's collector effectively does.
    const used = u.push(piece, (p) => out.push(Buffer.from(p)));
    if (used < piece.length) rest.push(piece.subarray(used));
  }
  return { body: Buffer.concat(out), rest: Buffer.concat(rest), done: u.done };
}

/** What a server delivers for a body: the body, with CRLF added when it did not end with one. */
function expected(body: Buffer): Buffer {
  return body.length === 0 || body.subarray(-2).equals(Buffer.from('\r\n')) ? body : Buffer.concat([body, Buffer.from('\r\n')]);
}

describe('parseStatusLine', () => {
  it('reads the indicator, an RFC 2449 response code and the text', () => {
    expect(parseStatusLine('+OK Dovecot ready. <1.2@vm>')).toEqual({ ok: true, code: undefined, text: 'Dovecot ready. <1.2@vm>' });
    expect(parseStatusLine('+OK')).toEqual({ ok: true, code: undefined, text: '' });
    expect(parseStatusLine('-ERR')).toEqual({ ok: false, code: undefined, text: '' });
    expect(parseStatusLine('-ERR [IN-USE] Mailbox is locked by another POP3 session.')).toEqual({ ok: false, code: 'IN-USE', text: 'Mailbox is locked by another POP3 session.' });
    expect(parseStatusLine('-ERR [SYS/TEMP] Disk full')).toEqual({ ok: false, code: 'SYS/TEMP', text: 'Disk full' });
    expect(parseStatusLine('-err [auth] bad')).toEqual({ ok: false, code: 'AUTH', text: 'bad' });
    // Brackets that are not a response code stay in the text.
    expect(parseStatusLine('-ERR [not a code] x').code).toBeUndefined();
  });

  it('refuses what is not POP3', () => {
    expect(() => parseStatusLine('* OK [CAPABILITY IMAP4rev1] ready')).toThrow(Pop3ProtocolViolation);
    expect(() => parseStatusLine('220 smtp.example.com ESMTP')).toThrow(Pop3ProtocolViolation);
    expect(() => parseStatusLine('+OKAY')).toThrow(Pop3ProtocolViolation);
  });
});

describe('DotUnstuffer', () => {
  const b = (s: string) => Buffer.from(s, 'latin1');

  it('removes the stuffing dot, keeps CRLFs, and stops at the terminator', () => {
    expect(decode([b('Subject: a\r\n\r\n..hello\r\n...x\r\n.\r\n')]).body.toString()).toBe('Subject: a\r\n\r\n.hello\r\n..x\r\n');
    expect(decode([b('.\r\n')]).body.length).toBe(0);
    expect(decode([b('\r\n.\r\n')]).body.toString()).toBe('\r\n');
  });

  it('keeps bare CR and LF inside lines, and a dot line that is not the terminator', () => {
    expect(decode([b('a\n.\r\nb\r\r\n.\r\n')]).body.toString('latin1')).toBe('a\n.\r\nb\r\r\n');
    // RFC 1939 §3: ".x" or ".\rx" at a line start: the first dot is stripped, the rest is content.
    expect(decode([b('.x\r\n.\rz\r\n.\r\n')]).body.toString('latin1')).toBe('x\r\n\rz\r\n');
  });

  it('reports where the body ends, leaving the next answer unread', () => {
    const r = decode([b('a\r\n.\r\n+OK next\r\n')]);
    expect(r.done).toBe(true);
    expect(r.body.toString()).toBe('a\r\n');
    expect(r.rest.toString()).toBe('+OK next\r\n');
  });

  it('is not done before the whole terminator arrived', () => {
    expect(decode([b('a\r\n.\r')]).done).toBe(false);
    expect(decode([b('a\r\n.')]).done).toBe(false);
  });

  const interesting = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(0x2e, 0x0d, 0x0a) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
  );
  const bodies = fc.oneof(
    fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a)),
    fc.array(interesting, { maxLength: 120 }).map((a) => Buffer.from(a)),
    // Lines of dots and CRs joined by CRLF: the cases stuffing exists for.
    fc.array(fc.stringMatching(/^[.\r\na]{0,4}$/), { maxLength: 30 }).map((lines) => Buffer.from(lines.join('\r\n'), 'latin1')),
  );

  it('property: any bytes, dot-stuffed, come back byte for byte, split at every boundary', () => {
    fc.assert(
      fc.property(bodies, (body) => {
        const wire = dotStuff(body);
        const want = expected(body);
        const whole = decode([wire]);
        expect(whole.done).toBe(true);
        expect(whole.body.equals(want)).toBe(true);
        // Every single packet boundary, then every byte a packet of its own.
        for (let at = 0; at <= wire.length; at++) {
          const split = decode([wire.subarray(0, at), wire.subarray(at)]);
          expect(split.body.equals(want)).toBe(true);
          expect(split.rest.length).toBe(0);
        }
        const bytes = decode([...wire].map((x) => Buffer.from([x])));
        expect(bytes.body.equals(want)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('property: random packet sizes with the next answer right behind the terminator', () => {
    fc.assert(
      fc.property(bodies, fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }), (body, sizes) => {
        const wire = Buffer.concat([dotStuff(body), Buffer.from('+OK\r\n')]);
        const pieces: Buffer[] = [];
        for (let i = 0, k = 0; i < wire.length; k++) {
          const n = sizes[k % sizes.length]!;
          pieces.push(wire.subarray(i, i + n));
          i += n;
        }
        const r = decode(pieces);
        expect(r.body.equals(expected(body))).toBe(true);
        expect(r.rest.toString()).toBe('+OK\r\n');
      }),
      { numRuns: 300 },
    );
  });
});
