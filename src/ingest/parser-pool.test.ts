import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bigAttachmentMessage, bigTextMessage, rawMessage } from './fixtures/test-messages.js';
import { parseMessage } from './mime-parser.js';
import { defaultParserWorkers, ParserPool } from './parser-pool.js';
import { DEFAULT_PARSE_LIMITS, type AttachmentInfo, type ParseFailure, type ParseResult } from './parse-types.js';

const small = rawMessage({ From: 'Ann <ann@example.com>', Subject: 'hello', 'Message-ID': '<s1@example.com>' }, 'Hi there\r\n');

function failureOf(r: ParseResult): ParseFailure {
  if (r.ok) throw new Error('expected a failure');
  return r.failure;
}

describe('ParserPool', () => {
  let pool: ParserPool;
  beforeAll(async () => {
    pool = new ParserPool({ size: 2, limits: { maxMessageBytes: 64 * 2 ** 20, maxAttachmentBytes: 64 * 2 ** 20 } });
    await pool.ready();
  });
  afterAll(async () => {
    await pool.close();
  });

  it('gives the same result as the in-process parser', async () => {
    const [a, b] = await Promise.all([pool.parse(small), parseMessage(small)]);
    expect(a).toEqual(b);
    expect(a.ok && a.message.from?.address).toBe('ann@example.com');
  });

  it('leaves the HTML in the worker when asked (omitHtml), saying only that there was some', async () => {
    const html = Buffer.from('From: ann@example.com\r\nSubject: Hi\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>there</b></p>\r\n');
    const [kept, omitted] = await Promise.all([pool.parse(html), pool.parse(html, { omitHtml: true })]);
    expect(kept.ok && kept.message).toMatchObject({ html: expect.stringContaining('<b>there</b>'), hasHtml: true });
    expect(omitted.ok && omitted.message).toMatchObject({ html: null, hasHtml: true, text: expect.stringContaining('Hello there') });
  });

  it('starts its workers with the heap sizes of its limits (old and young generation)', async () => {
    // A stand-in worker that answers every job with the resource limits it was started with.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mailroom-limits-'));
    const entry = path.join(dir, 'limits-worker.mjs');
    await writeFile(
      entry,
      `import { parentPort, resourceLimits } from 'node:worker_threads';
parentPort.postMessage({ type: 'ready' });
parentPort.on('message', (m) => {
  if (m.type === 'job') parentPort.postMessage({ type: 'done', id: m.id, result: { ok: false, failure: { code: 'PARSE_MALFORMED', reason: JSON.stringify(resourceLimits), retryable: false } } });
});
`,
    );
    const sized = (limits: { workerHeapMb?: number; workerYoungMb?: number }) => new ParserPool({ size: 1, spares: 0, workerUrl: pathToFileURL(entry), limits });
    try {
      for (const [pool, old, young] of [
        [sized({ workerHeapMb: 96, workerYoungMb: 48 }), 96, 48],
        [sized({}), DEFAULT_PARSE_LIMITS.workerHeapMb, DEFAULT_PARSE_LIMITS.workerYoungMb],
      ] as const) {
        const told = JSON.parse(failureOf(await pool.parse(small)).reason) as Record<string, number>;
        await pool.close();
        expect(told).toMatchObject({ maxOldGenerationSizeMb: old, maxYoungGenerationSizeMb: young });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses more messages than workers concurrently', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.parse(rawMessage({ From: 'a@example.com', Subject: `n${i}` }))));
    expect(results.map((r) => r.ok && r.message.subject)).toEqual(Array.from({ length: 20 }, (_, i) => `n${i}`));
  });

  it('sends small messages ahead to a busy worker, which parses them in order without waiting for this thread', async () => {
    const one = new ParserPool({ size: 1 });
    try {
      await one.ready();
      const subjects = Array.from({ length: 6 }, (_, i) => `ahead ${i}`);
      const results = subjects.map((subject) => one.parse(rawMessage({ From: 'a@example.com', Subject: subject })));
      // One runs, the other five are already in the worker's own queue.
      expect(one.stats()).toMatchObject({ busy: 1, queued: 5, ahead: 5 });
      // This thread busy for a while: the worker goes on from its queue meanwhile.
      const until = Date.now() + 300;
      while (Date.now() < until);
      expect((await Promise.all(results)).map((r) => r.ok && r.message.subject)).toEqual(subjects);
      expect(one.stats()).toMatchObject({ busy: 0, queued: 0, ahead: 0, parsed: 6 });
    } finally {
      await one.close();
    }
  });

  it('spreads the messages sent ahead over the busy workers, even when they come one at a time', async () => {
    const two = new ParserPool({ size: 2 });
    try {
      await two.ready();
      // Each parse() hands its message out at once: the first two start, the rest go ahead. Always to
      // the first busy worker, the other would find nothing left to do once its own job ended.
      const results = Array.from({ length: 10 }, (_, i) => two.parse(rawMessage({ From: 'a@example.com', Subject: `spread ${i}` })));
      expect(two.stats()).toMatchObject({ busy: 2, ahead: 8, aheadByWorker: [4, 4] });
      expect((await Promise.all(results)).map((r) => r.ok && r.message.subject)).toEqual(Array.from({ length: 10 }, (_, i) => `spread ${i}`));
      expect(two.stats()).toMatchObject({ busy: 0, ahead: 0, aheadByWorker: [0, 0], parsed: 10 });
    } finally {
      await two.close();
    }
  });

  it('streams a 50 MB attachment back in many chunks with the right sha256', async () => {
    const big = bigAttachmentMessage(50 * 2 ** 20);
    const hash = createHash('sha256');
    let chunks = 0;
    let largest = 0;
    let bytes = 0;
    let info: AttachmentInfo | undefined;
    const r = await pool.parse(big.raw, {
      sink: {
        begin: () => ({
          write: (chunk) => {
            chunks++;
            largest = Math.max(largest, chunk.length);
            bytes += chunk.length;
            hash.update(chunk);
          },
          end: (i) => {
            info = i;
          },
        }),
      },
    });
    expect(r.ok).toBe(true);
    expect(bytes).toBe(big.size);
    expect(hash.digest('hex')).toBe(big.sha256);
    expect(info).toMatchObject({ size: big.size, sha256: big.sha256, filename: 'big.bin' });
    // Streamed, not handed over as one buffer: many chunks, each a small fraction of the whole.
    expect(chunks).toBeGreaterThan(20);
    expect(largest).toBeLessThan(2 * 2 ** 20);
  }, 60_000);

  it('accepts the raw message as a stream of chunks', async () => {
    const big = bigAttachmentMessage(3 * 2 ** 20);
    async function* stream() {
      for (let i = 0; i < big.raw.length; i += 100_000) yield big.raw.subarray(i, i + 100_000);
    }
    const r = await pool.parse(stream());
    expect(r.ok && r.message.attachments[0]?.sha256).toBe(big.sha256);
  });

  it('fails a message whose sink fails with ATTACHMENT_SINK_FAILED, aborts the writer, keeps working', async () => {
    let aborted = false;
    const r = await pool.parse(bigAttachmentMessage(2 * 2 ** 20).raw, {
      sink: {
        begin: () => ({
          write: () => {
            throw new Error('database gone');
          },
          end: () => undefined,
          abort: () => {
            aborted = true;
          },
        }),
      },
    });
    expect(failureOf(r)).toMatchObject({ code: 'ATTACHMENT_SINK_FAILED', retryable: true });
    expect(aborted).toBe(true);
    expect((await pool.parse(small)).ok).toBe(true);
  });

  it('cuts a huge text part instead of building one string larger than the worker heap', async () => {
    const small = new ParserPool({ size: 1, limits: { workerHeapMb: 48, maxMessageBytes: 100 * 2 ** 20 } });
    try {
      const r = await small.parse(bigTextMessage(60 * 2 ** 20));
      expect(r.ok).toBe(true);
      if (r.ok) {
        expect(r.message.text!.length).toBeLessThanOrEqual(8 * 2 ** 20);
        expect(r.message.warnings.join(' ')).toMatch(/cut/);
      }
    } finally {
      await small.close();
    }
  }, 60_000);

  it('ends a job whose sink never answers instead of hanging, and keeps working', async () => {
    let aborted = false;
    const r = await pool.parse(bigAttachmentMessage(1 * 2 ** 20).raw, {
      limits: { timeoutMs: 200, timeoutMsPerMb: 0, maxSinkWaitMs: 100 },
      sink: {
        begin: () => ({
          write: () => new Promise<void>(() => undefined),
          end: () => undefined,
          abort: () => {
            aborted = true;
          },
        }),
      },
    });
    expect(failureOf(r)).toMatchObject({ code: 'ATTACHMENT_SINK_FAILED', retryable: true });
    expect(aborted).toBe(true);
    expect((await pool.parse(small)).ok).toBe(true);
  });

  it('ends a job whose raw message stream stalls with INPUT_STREAM_FAILED (retryable)', async () => {
    async function* stalled() {
      yield Buffer.from('From: a@example.com\r\nSubject: x\r\n');
      await new Promise(() => undefined);
    }
    const r = await pool.parse(stalled(), { limits: { timeoutMs: 100, timeoutMsPerMb: 0, maxSinkWaitMs: 100 } });
    expect(failureOf(r)).toMatchObject({ code: 'INPUT_STREAM_FAILED', retryable: true });
    expect((await pool.parse(small)).ok).toBe(true);
  });

  it('reports limits from inside the worker as typed failures', async () => {
    const r = await pool.parse(bigAttachmentMessage(500_000).raw, { limits: { maxAttachmentBytes: 10_000 } });
    expect(failureOf(r).code).toBe('PARSE_ATTACHMENT_TOO_LARGE');
  });
});

/** A message whose bytes stop coming until `release()`: its parse holds a worker until then. */
function heldMessage(): { stream: AsyncIterable<Uint8Array>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  async function* stream() {
    yield Buffer.from('From: a@example.com\r\nSubject: held\r\n\r\n');
    await gate;
    yield Buffer.from('the rest\r\n');
  }
  return { stream: stream(), release };
}

describe('ParserPool: stuck, crashing and memory-hungry workers', () => {
  it('keeps one worker per core beyond the main thread, at least one', () => {
    expect([1, 2, 3, 8].map((cores) => defaultParserWorkers(cores))).toEqual([1, 1, 2, 7]);
  });

  it('starts a spare worker while every worker is held by a slow parse, so what waits is not stuck behind it, and stops it after', async () => {
    const pool = new ParserPool({ size: 1, slowParseMs: 50 });
    const { stream: held, release } = heldMessage();
    try {
      await pool.ready();
      async function* streamed() {
        yield small;
      }
      const limits = { timeoutMs: 60_000, maxSinkWaitMs: 60_000 };
      const slow = pool.parse(held, { limits });
      let slowDone = false;
      void slow.then(() => (slowDone = true));
      // Waiting in the pool's queue when the running parse becomes slow: the pool's own check
      // starts the spare.
      const waiting = await pool.parse(streamed(), { limits });
      expect(waiting.ok && waiting.message.subject).toBe('hello');
      expect(pool.stats()).toMatchObject({ size: 1, spares: 1, busy: 1 });
      // Arriving while the worker is held: not sent ahead to it; the spare, kept meanwhile, takes it.
      const arriving = pool.parse(small, { limits });
      expect(pool.stats().ahead).toBe(0);
      expect((await arriving).ok).toBe(true);
      expect(slowDone).toBe(false);
      expect(pool.stats()).toMatchObject({ spares: 1 });
      release();
      const done = await slow;
      expect(done.ok && done.message.text).toContain('the rest');
      await vi.waitFor(() => expect(pool.stats().spares).toBe(0));
      // One spare for the whole time the worker was held, not one per message that waited.
      expect(pool.stats()).toMatchObject({ size: 1, parsed: 3, spareStarts: 1, restarts: 0, crashes: 0 });
      expect((await pool.parse(small)).ok).toBe(true);
    } finally {
      release();
      await pool.close();
    }
  });

  it('starts no spare while the worker keeps up, nor when spares are turned off', async () => {
    const off = new ParserPool({ size: 1, slowParseMs: 50, spares: 0 });
    const quick = new ParserPool({ size: 1 });
    const { stream: held, release } = heldMessage();
    try {
      await off.ready();
      const slow = off.parse(held, { limits: { timeoutMs: 60_000, maxSinkWaitMs: 60_000 } });
      const behind = off.parse(small);
      await new Promise((resolve) => setTimeout(resolve, 150));
      // Sent ahead before the parse became slow; one arriving after it did waits in the pool.
      const later = off.parse(small);
      expect(off.stats()).toMatchObject({ spares: 0, spareStarts: 0, busy: 1, queued: 2, ahead: 1 });
      release();
      expect([(await slow).ok, (await behind).ok, (await later).ok]).toEqual([true, true, true]);
      // Warmed first: a fresh worker's first parse compiles its code, which a loaded machine (the
      // whole suite at once) can stretch past slowParseMs and rightly start a spare.
      await quick.ready();
      expect((await quick.parse(small)).ok).toBe(true);
      const many = await Promise.all(Array.from({ length: 40 }, () => quick.parse(small)));
      expect(many.every((r) => r.ok)).toBe(true);
      expect(quick.stats()).toMatchObject({ spares: 0, spareStarts: 0, parsed: 41 });
    } finally {
      release();
      await Promise.all([off.close(), quick.close()]);
    }
  });

  it('terminates a worker over the time limit with PARSE_TIMEOUT and replaces it', async () => {
    const pool = new ParserPool({ size: 1, limits: { timeoutMs: 1, timeoutMsPerMb: 0 } });
    try {
      await pool.ready();
      const slow = pool.parse(bigAttachmentMessage(8 * 2 ** 20).raw);
      // Sent ahead to the worker that is terminated: they go to its replacement, and their own
      // time limit (not the one that ran out) starts only when they do.
      const behind = [pool.parse(small, { limits: { timeoutMs: 30_000 } }), pool.parse(small, { limits: { timeoutMs: 30_000 } })];
      expect(pool.stats().ahead).toBe(2);
      expect(failureOf(await slow)).toMatchObject({ code: 'PARSE_TIMEOUT', retryable: false });
      expect((await Promise.all(behind)).map((r) => r.ok)).toEqual([true, true]);
      const next = await pool.parse(small, { limits: { timeoutMs: 30_000 } });
      expect(next.ok).toBe(true);
      expect(pool.stats()).toMatchObject({ timeouts: 1, restarts: 1 });
    } finally {
      await pool.close();
    }
  });

  it('turns a worker running out of its heap into PARSE_OUT_OF_MEMORY for that message only', async () => {
    // 300,000 header lines with the header limits lifted: the parse grows its heap past 32 MB.
    const pool = new ParserPool({ size: 1, limits: { workerHeapMb: 32, maxHeaders: 10_000_000, maxHeaderBytes: 2 ** 30 } });
    try {
      const lines = Array.from({ length: 300_000 }, (_, i) => `X-H${i % 50}: value number ${i}`).join('\r\n');
      const hungry = pool.parse(Buffer.from(`From: a@example.com\r\n${lines}\r\n\r\nbody\r\n`));
      const behind = pool.parse(small);
      expect(failureOf(await hungry).code).toBe('PARSE_OUT_OF_MEMORY');
      // The message sent ahead to the worker that ran out is parsed by the next one.
      expect((await behind).ok).toBe(true);
      expect((await pool.parse(small)).ok).toBe(true);
      expect(pool.stats().outOfMemory).toBe(1);
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('turns a crashed worker into PARSE_WORKER_CRASHED', async () => {
    const pool = new ParserPool({ size: 1, workerUrl: new URL('./fixtures/crashing-parser-worker.ts', import.meta.url) });
    try {
      const r = await pool.parse(small);
      expect(failureOf(r).code).toBe('PARSE_WORKER_CRASHED');
      expect(failureOf(await pool.parse(small)).code).toBe('PARSE_WORKER_CRASHED');
      expect(pool.stats().crashes).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it('drains accepted work on close, then refuses new work', async () => {
    const pool = new ParserPool({ size: 1 });
    const running = pool.parse(bigAttachmentMessage(4 * 2 ** 20).raw);
    const queued = pool.parse(small);
    await pool.close();
    expect((await running).ok).toBe(true);
    expect((await queued).ok).toBe(true);
    expect(failureOf(await pool.parse(small))).toMatchObject({ code: 'PARSER_POOL_CLOSED', retryable: true });
  });

  it('fails queued work with PARSER_POOL_CLOSED when closed without draining', async () => {
    const pool = new ParserPool({ size: 1 });
    await pool.ready();
    const running = pool.parse(bigAttachmentMessage(4 * 2 ** 20).raw);
    const queued = [pool.parse(small), pool.parse(small)];
    expect(pool.stats()).toMatchObject({ queued: 2, ahead: 2 });
    await pool.close({ drain: false });
    expect((await running).ok).toBe(true);
    // Even those already sent ahead to the worker are not parsed.
    for (const q of queued) expect(failureOf(await q).code).toBe('PARSER_POOL_CLOSED');
    expect(pool.stats().parsed).toBe(1);
  });
});
