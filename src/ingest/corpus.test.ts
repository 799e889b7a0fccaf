/**
 * Every message of the shared corpus (../shared/corpus/mime, all folders) through the in-process
 * parser and the worker pool, then through every later step: each either parses or fails with a
 * typed reason, none hangs, the pool's answer equals the in-process one.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyMessage } from './message-classifier.js';
import { detectLanguage } from './language-detector.js';
import { sanitizeHtml } from './html-sanitizer.js';
import { resolveDisplayHtml } from './display-prep.js';
import { parseMessage } from './mime-parser.js';
import { ParserPool } from './parser-pool.js';
import { PARSE_FAILURE_CODES, type ParseResult } from './parse-types.js';
import { resolveThread, lookupsFromMaps } from './thread-resolver.js';
import { decideAutoAck } from './loop-guard.js';
import { escapeForDisplay, safeFilename } from './header-safety.js';
import { corpusDir, corpusFiles, hasCorpus } from '../../test/helpers/corpus.js';

const exists = hasCorpus;


const files = corpusFiles();

/** Runs every later ingest step on a parse result; throws if any of them throws. */
function downstream(r: ParseResult): void {
  if (!r.ok) return;
  const m = r.message;
  const c = classifyMessage(m);
  detectLanguage(m.text);
  if (m.html) {
    const cids = Object.fromEntries(m.attachments.filter((a) => a.contentId).map((a) => [a.contentId!, a.index]));
    sanitizeHtml(m.html, { cidToAttachmentId: cids });
  }
  resolveThread(m, lookupsFromMaps({}), { replyTokenKeys: 'k'.repeat(32) });
  decideAutoAck({ classification: c, recipient: m.from?.address ?? null, returnPath: m.returnPath, xLoop: m.headers['x-loop'] ?? [], ownAddresses: ['support@example.net'], loopId: 'mailroom', history: [], now: 0 });
  for (const a of m.attachments) safeFilename(a.filename);
  escapeForDisplay(m.from?.name);
}

describe.skipIf(!exists)(exists ? `corpus: ${files.length} messages of ../shared/corpus/mime` : 'corpus (skipped: ../shared/corpus not found)', () => {
  let pool: ParserPool;
  const inProcess = new Map<string, ParseResult>();
  beforeAll(async () => {
    pool = new ParserPool({ size: 2 });
    await pool.ready();
  });
  afterAll(async () => {
    await pool?.close();
  });

  it('finds messages in every folder', () => {
    const folders = new Set(files.map((f) => path.relative(corpusDir, path.dirname(f))));
    expect(folders.size).toBeGreaterThanOrEqual(5);
    expect(files.length).toBeGreaterThan(100);
  });

  it('parses every message in-process or fails it with a typed reason, and every later step runs', async () => {
    for (const f of files) {
      const r = await parseMessage(readFileSync(f));
      inProcess.set(f, r);
      if (!r.ok) {
        expect(PARSE_FAILURE_CODES, f).toContain(r.failure.code);
        expect(r.failure.reason.length, f).toBeGreaterThan(0);
      }
      expect(() => downstream(r), f).not.toThrow();
    }
    // The corpus is real mail: it parses (a failure here would quarantine real customers).
    expect([...inProcess.values()].filter((r) => !r.ok)).toEqual([]);
  });

  it('gives the same answers through the worker pool, concurrently, without hangs or crashes, display prepared there too', async () => {
    const results = await Promise.all(files.map((f) => pool.parse(readFileSync(f), { display: true })));
    results.forEach((r, i) => {
      const f = files[i]!;
      const { display, ...message } = r.ok ? r.message : { display: undefined };
      expect(r.ok ? { ok: true, message } : r, f).toEqual(inProcess.get(f) ?? r);
      if (!r.ok) return;
      // The display half: the same sanitized HTML (cid: placeholders resolved) as on the main thread.
      const m = r.message;
      const ids = new Map(m.attachments.filter((a) => a.contentId).map((a) => [a.contentId!, a.index]));
      expect(display, f).toBeDefined();
      expect(resolveDisplayHtml(display!, ids), f).toBe(m.html === null ? null : sanitizeHtml(m.html, { cidToAttachmentId: ids }).html);
    });
    expect(pool.stats()).toMatchObject({ timeouts: 0, crashes: 0, outOfMemory: 0, failed: 0 });
  });

  it('keeps the worker heap bounded: the corpus parses and sanitizes with a 64 MB worker heap', async () => {
    const tight = new ParserPool({ size: 1, limits: { workerHeapMb: 64 } });
    try {
      for (let round = 0; round < 3; round++) {
        const results = await Promise.all(files.map((f) => tight.parse(readFileSync(f), { display: true })));
        expect(results.every((r) => r.ok)).toBe(true);
      }
      expect(tight.stats()).toMatchObject({ outOfMemory: 0, crashes: 0, restarts: 0 });
    } finally {
      await tight.close();
    }
  });
});
