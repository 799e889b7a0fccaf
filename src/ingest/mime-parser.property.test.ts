/**
 * Property: whatever bytes arrive, the parser answers (a message or a typed failure), never
 * throws, never hangs, and the later steps never throw on what it produced. Seeds are the shared
 * corpus when present plus a few built-in messages, mutated by byte flips, truncation,
 * duplicated headers, deep nesting, inserted boundaries and control bytes.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manyAttachmentsMessage, nestedMessage, rawMessage } from './fixtures/test-messages.js';
import { sanitizeHtml } from './html-sanitizer.js';
import { classifyMessage } from './message-classifier.js';
import { parseMessage } from './mime-parser.js';
import { ParserPool } from './parser-pool.js';
import { PARSE_FAILURE_CODES, type ParseResult } from './parse-types.js';
import { detectLanguage } from './language-detector.js';
import { corpusFiles, hasCorpus } from '../../test/helpers/corpus.js';


const builtIn: Buffer[] = [
  rawMessage({ From: 'a@example.com', To: 'b@example.com', Subject: 'hello', 'Message-ID': '<x@y>' }, 'body\r\n'),
  rawMessage({ From: 'a@example.com', 'Content-Type': 'text/html; charset=utf-8' }, '<p onclick="x()">hi<img src="http://t/x"></p>'),
  nestedMessage(5),
  manyAttachmentsMessage(3),
  Buffer.from(
    'From: MAILER-DAEMON@example.com\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; x@y\r\nAction: failed\r\nStatus: 5.1.1\r\n--r--\r\n',
  ),
];
const seeds = [...builtIn, ...corpusFiles().map((f) => readFileSync(f))];

type Op =
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'dupHeader'; line: number; times: number }
  | { kind: 'nest'; depth: number }
  | { kind: 'insert'; at: number; text: string };

const ratio = fc.double({ min: 0, max: 1, noNaN: true });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: ratio, byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: ratio }),
  fc.record({ kind: fc.constant('dupHeader' as const), line: fc.nat(40), times: fc.integer({ min: 1, max: 400 }) }),
  fc.record({ kind: fc.constant('nest' as const), depth: fc.integer({ min: 1, max: 60 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: ratio,
    text: fc.constantFrom('\r\n--b\r\n', '\r\n\r\n', '\u0000\u0000', '=?utf-7?B?K0FEdy0=?=', '\r\nContent-Type: multipart/mixed; boundary=b\r\n', '--', '=\r\n', 'Content-Transfer-Encoding: base64\r\n', '\r\n.\r\n', '+ADw-script+AD4-'),
  }),
);

function apply(seed: Buffer, ops: Op[]): Buffer {
  let b = seed;
  for (const o of ops) {
    const pos = (at: number) => Math.min(b.length, Math.floor(at * b.length));
    if (o.kind === 'flip' && b.length > 0) {
      b = Buffer.from(b);
      b[Math.min(b.length - 1, pos(o.at))] = o.byte;
    } else if (o.kind === 'truncate') b = b.subarray(0, pos(o.at));
    else if (o.kind === 'insert') b = Buffer.concat([b.subarray(0, pos(o.at)), Buffer.from(o.text, 'latin1'), b.subarray(pos(o.at))]);
    else if (o.kind === 'dupHeader') {
      const text = b.toString('latin1');
      const end = text.search(/\r?\n\r?\n/);
      const lines = (end >= 0 ? text.slice(0, end) : text).split(/\r?\n/);
      const line = lines[o.line % Math.max(1, lines.length)] ?? 'X: y';
      b = Buffer.concat([Buffer.from(`${line}\r\n`.repeat(o.times), 'latin1'), b]);
    } else if (o.kind === 'nest') {
      let body = b;
      for (let i = 0; i < o.depth; i++) {
        body = Buffer.concat([Buffer.from(`Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\n`), body, Buffer.from(`\r\n--n${i}--\r\n`)]);
      }
      b = Buffer.concat([Buffer.from('From: nest@example.com\r\nMIME-Version: 1.0\r\n'), body]);
    }
  }
  return b;
}

const mutated = fc.record({ seed: fc.nat(seeds.length - 1), ops: fc.array(op, { minLength: 1, maxLength: 5 }) }).map(({ seed, ops }) => apply(seeds[seed]!, ops));

function checkResult(r: ParseResult): void {
  expect(typeof r.ok).toBe('boolean');
  if (!r.ok) {
    expect(PARSE_FAILURE_CODES).toContain(r.failure.code);
    expect(r.failure.reason).not.toBe('');
    return;
  }
  classifyMessage(r.message);
  detectLanguage(r.message.text);
  if (r.message.html) sanitizeHtml(r.message.html);
}

describe(`parser property: mutated messages always get an answer (${seeds.length} seeds${hasCorpus ? '' : '; corpus skipped: ../shared/corpus not found, built-in seeds only'})`, () => {
  it('in-process: never throws, always answers', async () => {
    await fc.assert(
      fc.asyncProperty(mutated, async (raw) => {
        checkResult(await parseMessage(raw, { limits: { timeoutMs: 10_000 } }));
      }),
      { numRuns: 250 },
    );
  }, 120_000);

  describe('through the worker pool', () => {
    let pool: ParserPool;
    beforeAll(async () => {
      pool = new ParserPool({ size: 2 });
      await pool.ready();
    });
    afterAll(async () => {
      await pool.close();
    });

    it('never crashes a worker, always answers', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(mutated, { minLength: 1, maxLength: 6 }), async (batch) => {
          const results = await Promise.all(batch.map((raw) => pool.parse(raw)));
          results.forEach(checkResult);
        }),
        { numRuns: 40 },
      );
      expect(pool.stats()).toMatchObject({ crashes: 0, outOfMemory: 0 });
    }, 120_000);
  });
});
