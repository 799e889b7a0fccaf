import { createHash } from 'node:crypto';
import { MailParser } from 'mailparser';
import { Duplex } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { bigAttachmentMessage, charsetMessage, manyAttachmentsMessage, nestedMessage, rawMessage } from './fixtures/test-messages.js';
import { parseMessage } from './mime-parser.js';
import { resolveLimits, type AttachmentInfo, type AttachmentMeta, type AttachmentSink, type ParseFailure, type ParsedMessage, type ParseResult } from './parse-types.js';

function ok(r: ParseResult): ParsedMessage {
  if (!r.ok) throw new Error(`expected a parsed message, got ${r.failure.code}: ${r.failure.reason}`);
  return r.message;
}
function failed(r: ParseResult): ParseFailure {
  if (r.ok) throw new Error('expected a failure');
  return r.failure;
}

/** A sink that records everything it is told. */
function recordingSink() {
  const events: { meta: AttachmentMeta; chunks: Buffer[]; info?: AttachmentInfo; aborted?: ParseFailure }[] = [];
  const sink: AttachmentSink = {
    begin(meta) {
      const e: (typeof events)[number] = { meta, chunks: [] };
      events.push(e);
      return {
        write: async (chunk) => {
          e.chunks.push(Buffer.from(chunk));
        },
        end: (info) => {
          e.info = info;
        },
        abort: (f) => {
          e.aborted = f;
        },
      };
    },
  };
  return { sink, events };
}

describe('parseMessage: fields', () => {
  it('reads ids, addresses, subject, date and classification headers', async () => {
    const m = ok(
      await parseMessage(
        rawMessage({
          From: '"Doe, Jane" <Jane.Doe@EXAMPLE.COM>',
          To: 'Support <support@example.net>, team: a@example.org, b@example.org;',
          Cc: 'c@example.org',
          'Reply-To': 'replies@example.com',
          Subject: '=?utf-8?Q?Caf=C3=A9_order?= [#42]',
          Date: 'Tue, 1 Jul 2025 10:00:00 +0200',
          'Message-ID': '<msg-1@example.com>',
          'In-Reply-To': '<prev@example.net> (John\'s message)',
          References: ['<a@x> <b@x>', '<c@x>'],
          'Auto-Submitted': 'auto-replied',
          'X-Loop': 'mailroom@example.net',
          'Return-Path': '<bounce@example.com>',
        }),
      ),
    );
    expect(m.messageId).toBe('msg-1@example.com');
    expect(m.inReplyTo).toEqual(['prev@example.net']);
    expect(m.references).toEqual(['a@x', 'b@x', 'c@x']);
    expect(m.subject).toBe('Café order [#42]');
    expect(m.date?.toISOString()).toBe('2025-07-01T08:00:00.000Z');
    expect(m.from).toEqual({ name: 'Doe, Jane', address: 'Jane.Doe@example.com' });
    expect(m.to.map((a) => a.address)).toEqual(['support@example.net', 'a@example.org', 'b@example.org']);
    expect(m.cc).toEqual([{ name: '', address: 'c@example.org' }]);
    expect(m.replyTo[0]?.address).toBe('replies@example.com');
    expect(m.returnPath).toBe('bounce@example.com');
    expect(m.headers['auto-submitted']).toEqual(['auto-replied']);
    expect(m.headers['x-loop']).toEqual(['mailroom@example.net']);
    expect(m.text?.trim()).toBe('Hello');
    expect(m.textSource).toBe('text');
  });

  it('keeps an unreadable Date null (never "now") and says so', async () => {
    const m = ok(await parseMessage(rawMessage({ From: 'a@example.com', Date: 'someday soon' })));
    expect(m.date).toBeNull();
    expect(m.warnings.join(' ')).toMatch(/Date header/);
  });

  it('reads the null reverse-path as ""', async () => {
    const m = ok(await parseMessage(rawMessage({ 'Return-Path': '<>', From: 'MAILER-DAEMON@example.com' })));
    expect(m.returnPath).toBe('');
  });

  it('derives the text from the HTML when there is no text part', async () => {
    const m = ok(await parseMessage(rawMessage({ From: 'a@example.com', 'Content-Type': 'text/html; charset=utf-8' }, '<p>Hello <b>world</b></p><script>x</script>')));
    expect(m.html).toContain('<b>world</b>');
    expect(m.text).toBe('Hello world');
    expect(m.textSource).toBe('html');
  });

  it('keeps extra headers asked for, without touching the prototype', async () => {
    const m = ok(await parseMessage(rawMessage({ From: 'a@example.com', 'X-Custom': 'one', __proto__: 'x' }), { extraHeaders: ['X-Custom', '__proto__'] }));
    expect(m.headers['x-custom']).toEqual(['one']);
    expect(Object.getPrototypeOf(m.headers)).toBe(Object.prototype);
  });

  it('hooks mailparser internals that still exist (fails loudly if an upgrade removes them)', () => {
    const proto = MailParser.prototype as unknown as Record<string, unknown>;
    expect(typeof proto.processChunk).toBe('function');
    expect(typeof proto.getDecoder).toBe('function');
  });

  it('ends each part decoder once: no stream is ended again (mailparser does at every later boundary)', async () => {
    // Counts end() calls that reach Node on a stream already ended: each builds an
    // ERR_STREAM_ALREADY_FINISHED error with its stack, the cost endDecoderOnce removes. Also
    // fails if an upgrade renames the `curnode` field that hook reads.
    const again: string[] = [];
    const original = Duplex.prototype.end;
    const end = vi.spyOn(Duplex.prototype, 'end').mockImplementation(function (this: Duplex, ...args: unknown[]) {
      if (this.writableEnded) again.push(this.constructor.name);
      return Reflect.apply(original, this, args) as Duplex;
    });
    try {
      const m = ok(await parseMessage(manyAttachmentsMessage(3)));
      expect(m.attachments).toHaveLength(3);
      expect(m.text).not.toBeNull();
    } finally {
      end.mockRestore();
    }
    expect(again).toEqual([]);
  });
});

describe('parseMessage: charsets', () => {
  const cases: [string, string][] = [
    ['ISO-2022-JP', 'ご注文について、こんにちは'],
    ['Shift_JIS', 'ご注文について、こんにちは'],
    ['GB18030', '你好，关于我的订单𠀀'],
    ['windows-1252', 'Café “quoted” €'],
    ['windows-1251', 'Привет, мир'],
    ['windows-1250', 'Zażółć gęślą jaźń'],
    ['UTF-7', 'Hi <b>Mañana</b> € 日本'],
  ];
  for (const [charset, text] of cases) {
    it(`decodes ${charset} in the subject and the body`, async () => {
      const m = ok(await parseMessage(charsetMessage(charset, text)));
      expect(m.subject).toBe(text);
      expect(m.text?.trim()).toBe(text);
    });
  }

  it('decodes raw 8-bit bytes inside a Q-encoded word in that word’s charset', async () => {
    const raw = Buffer.concat([Buffer.from('From: a@example.com\r\nSubject: =?iso-8859-1?Q?Die_Fr'), Buffer.from([0xf6]), Buffer.from('sche?=\r\n\r\nx\r\n')]);
    expect(ok(await parseMessage(raw)).subject).toBe('Die Frösche');
  });

  it('decodes a raw UTF-7 subject of a UTF-7 message (Netscape 4)', async () => {
    const raw = Buffer.from('From: a@example.com\r\nSubject: Die Fr+APY-sche\r\nContent-Type: text/plain; charset=UTF-7\r\n\r\nFr+APY-sche\r\n');
    const m = ok(await parseMessage(raw));
    expect(m.subject).toBe('Die Frösche');
    expect(m.text?.trim()).toBe('Frösche');
  });

  it('reads raw 8-bit legacy headers in the body charset instead of U+FFFD', async () => {
    const raw = Buffer.concat([Buffer.from('From: a@example.com\r\nSubject: Gr'), Buffer.from([0xfc]), Buffer.from('sse\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nx\r\n')]);
    expect(ok(await parseMessage(raw)).subject).toBe('Grüsse');
  });
});

describe('parseMessage: attachments stream to the sink', () => {
  it('streams every attachment in order with size and sha256, and reports them', async () => {
    const big = bigAttachmentMessage(3 * 2 ** 20);
    const { sink, events } = recordingSink();
    const m = ok(await parseMessage(big.raw, { sink }));
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e.meta).toMatchObject({ index: 0, filename: 'big.bin', contentType: 'application/octet-stream', disposition: 'attachment' });
    expect(e.chunks.length).toBeGreaterThan(4);
    const all = Buffer.concat(e.chunks);
    expect(all.length).toBe(big.size);
    expect(createHash('sha256').update(all).digest('hex')).toBe(big.sha256);
    expect(e.info).toMatchObject({ size: big.size, sha256: big.sha256 });
    expect(m.attachments).toEqual([e.info]);
  });

  it('reports inline images with their Content-ID', async () => {
    const raw = Buffer.from(
      [
        'From: a@example.com',
        'Content-Type: multipart/related; boundary="r"',
        '',
        '--r',
        'Content-Type: text/html',
        '',
        '<img src="cid:logo@x">',
        '--r',
        'Content-Type: image/png',
        'Content-ID: <logo@x>',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('png').toString('base64'),
        '--r--',
        '',
      ].join('\r\n'),
    );
    const m = ok(await parseMessage(raw));
    expect(m.attachments[0]).toMatchObject({ contentId: 'logo@x', related: true, contentType: 'image/png', size: 3 });
    expect(m.html).toContain('cid:logo@x');
  });

  it('fails with ATTACHMENT_SINK_FAILED (retryable) when the sink throws, and aborts the writer', async () => {
    let aborted: ParseFailure | undefined;
    const r = await parseMessage(bigAttachmentMessage(400_000).raw, {
      sink: {
        begin: () => ({
          write: () => Promise.reject(new Error('disk full')),
          end: () => undefined,
          abort: (f) => {
            aborted = f;
          },
        }),
      },
    });
    const f = failed(r);
    expect(f.code).toBe('ATTACHMENT_SINK_FAILED');
    expect(f.retryable).toBe(true);
    expect(f.reason).toContain('disk full');
    expect(aborted?.code).toBe('ATTACHMENT_SINK_FAILED');
  });
});

describe('parseMessage: limits give typed failures', () => {
  it('lets an attachment be as large as the message limit unless told otherwise', () => {
    expect(resolveLimits({ maxMessageBytes: 100 * 2 ** 20 }).maxAttachmentBytes).toBe(100 * 2 ** 20);
    expect(resolveLimits({ maxMessageBytes: 100 * 2 ** 20, maxAttachmentBytes: 5 }).maxAttachmentBytes).toBe(5);
    expect(resolveLimits({ timeoutMs: -1, maxDepth: Number.NaN })).toMatchObject({ timeoutMs: 10_000, maxDepth: 20 });
  });

  it('refuses a message over maxMessageBytes', async () => {
    expect(failed(await parseMessage(bigAttachmentMessage(300_000).raw, { limits: { maxMessageBytes: 100_000 } })).code).toBe('PARSE_TOO_LARGE');
  });

  it('stops a stream once it passes maxMessageBytes', async () => {
    const raw = bigAttachmentMessage(300_000).raw;
    async function* stream() {
      for (let i = 0; i < raw.length; i += 10_000) yield raw.subarray(i, i + 10_000);
    }
    expect(failed(await parseMessage(stream(), { limits: { maxMessageBytes: 100_000 } })).code).toBe('PARSE_TOO_LARGE');
  });

  it('refuses MIME nesting deeper than maxDepth', async () => {
    const f = failed(await parseMessage(nestedMessage(30), { limits: { maxDepth: 10 } }));
    expect(f.code).toBe('PARSE_TOO_DEEP');
    expect(f.retryable).toBe(false);
    ok(await parseMessage(nestedMessage(8), { limits: { maxDepth: 10 } }));
  });

  it('refuses too many header lines', async () => {
    const headers: Record<string, string[]> = { From: ['a@example.com'], Received: Array.from({ length: 50 }, (_, i) => `from h${i} by mx`) };
    expect(failed(await parseMessage(rawMessage(headers), { limits: { maxHeaders: 20 } })).code).toBe('PARSE_TOO_MANY_HEADERS');
  });

  it('refuses a header block larger than maxHeaderBytes', async () => {
    expect(failed(await parseMessage(rawMessage({ From: 'a@example.com', 'X-Big': 'x'.repeat(20_000) }), { limits: { maxHeaderBytes: 4096 } })).code).toBe('PARSE_HEADER_TOO_LARGE');
  });

  it('refuses too many attachments and too many parts', async () => {
    expect(failed(await parseMessage(manyAttachmentsMessage(30), { limits: { maxAttachments: 10 } })).code).toBe('PARSE_TOO_MANY_ATTACHMENTS');
    expect(failed(await parseMessage(manyAttachmentsMessage(30), { limits: { maxParts: 10 } })).code).toBe('PARSE_TOO_MANY_PARTS');
  });

  it('refuses an attachment larger than maxAttachmentBytes and aborts its writer', async () => {
    const { sink, events } = recordingSink();
    const f = failed(await parseMessage(bigAttachmentMessage(600_000).raw, { sink, limits: { maxAttachmentBytes: 100_000 } }));
    expect(f.code).toBe('PARSE_ATTACHMENT_TOO_LARGE');
    expect(events[0]?.aborted?.code).toBe('PARSE_ATTACHMENT_TOO_LARGE');
    expect(events[0]?.info).toBeUndefined();
  });

  it('ends a stalled input stream instead of hanging (retryable: the source is at fault)', async () => {
    async function* stalled() {
      yield Buffer.from('From: a@example.com\r\n');
      await new Promise(() => undefined);
    }
    const f = failed(await parseMessage(stalled(), { limits: { timeoutMs: 50, timeoutMsPerMb: 0, maxSinkWaitMs: 0 } }));
    expect(f).toMatchObject({ code: 'INPUT_STREAM_FAILED', retryable: true });
  });

  it('ends a parse whose sink never answers (retryable ATTACHMENT_SINK_FAILED) and aborts the writer', async () => {
    let aborted: ParseFailure | undefined;
    const r = await parseMessage(bigAttachmentMessage(200_000).raw, {
      limits: { timeoutMs: 50, timeoutMsPerMb: 0, maxSinkWaitMs: 50 },
      sink: {
        begin: () => ({
          write: () => new Promise<void>(() => undefined),
          end: () => undefined,
          abort: (f) => {
            aborted = f;
          },
        }),
      },
    });
    expect(failed(r)).toMatchObject({ code: 'ATTACHMENT_SINK_FAILED', retryable: true });
    expect(aborted?.code).toBe('ATTACHMENT_SINK_FAILED');
  });

  it('reports a failing input stream as INPUT_STREAM_FAILED (retryable)', async () => {
    async function* broken() {
      yield Buffer.from('From: a@example.com\r\n');
      throw new Error('connection reset');
    }
    const f = failed(await parseMessage(broken()));
    expect(f).toMatchObject({ code: 'INPUT_STREAM_FAILED', retryable: true });
  });

  it('parses garbage as a message rather than failing (it is stored and shown raw)', async () => {
    const m = ok(await parseMessage(Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10, 0x41])));
    expect(m.size).toBe(10);
  });
});
