/**
 * Cost of language detection (`detectLanguage`), which runs on the main thread when a message
 * opens a conversation in a `language: auto` queue: per text, on the plain-text bodies of the
 * shared corpus, on a short reply above a long quoted thread, on a long letter and on a text with
 * one long token (a pasted key), with how many texts were detected confidently (a share of the
 * main thread's time per message: see ingest-throughput's `*_main_thread_cpu_ms_per_msg`). Then
 * the scoring alone against ELD's own `detect()` in the same run, and the memory of each table.
 *
 * `node --import tsx --expose-gc bench/run.ts language [--quick]`
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { eld } from 'eld/extrasmall';
import { round, type Bench } from '../lib/report.js';
import { detectLanguage, textForDetection } from '../../src/ingest/language-detector.js';
import { scoreNgrams } from '../../src/ingest/ngram-scorer.js';
import { parseMessage } from '../../src/ingest/mime-parser.js';
import { corpusFiles, hasCorpus } from '../../test/helpers/corpus.js';

/** Plain-text bodies of the corpus (or two synthetic ones without it). */
async function bodies(): Promise<{ texts: string[]; source: string }> {
  if (!hasCorpus) {
    return {
      texts: ['Bonjour, je n’ai toujours pas reçu mon remboursement. Pouvez-vous vérifier ?', 'Hello, my invoice shows the wrong address. Could you correct it, please?'],
      source: 'synthetic (../shared/corpus not found)',
    };
  }
  const texts: string[] = [];
  for (const f of corpusFiles()) {
    const r = await parseMessage(readFileSync(f), { omitHtml: true });
    if (r.ok && r.message.text) texts.push(r.message.text);
  }
  return { texts, source: '../shared/corpus/mime' };
}

/**
 * Memory of a language table once loaded and used, MB, in a fresh Node process (this one has
 * both loaded already): the V8 heap it holds after a full GC, and its typed arrays (outside the
 * heap). `load`: a module body that loads the table and detects one text.
 */
function tableMemory(load: string): { heapMb: number; arrayBuffersMb: number } {
  const script = `gc(); const before = process.memoryUsage();
${load}
gc(); const after = process.memoryUsage();
console.log(JSON.stringify({ heapMb: (after.heapUsed - before.heapUsed) / 2 ** 20, arrayBuffersMb: (after.arrayBuffers - before.arrayBuffers) / 2 ** 20 }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`measuring a language table's memory failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as { heapMb: number; arrayBuffersMb: number };
}

const SAMPLE = 'Guten Tag, ich habe meine Rechnung noch nicht erhalten.';

/** Microseconds a call of `score` over `texts`, after two untimed passes. */
function timeScoring(texts: string[], rounds: number, score: (t: string) => unknown): number {
  for (let r = 0; r < 2; r++) for (const t of texts) score(t);
  const start = performance.now();
  for (let r = 0; r < rounds; r++) for (const t of texts) score(t);
  return ((performance.now() - start) / (rounds * texts.length)) * 1000;
}

/** Microseconds per text over `rounds` passes (after one untimed pass), and how many were confident. */
function measure(texts: string[], rounds: number): { us: number; confident: number } {
  let confident = 0;
  for (const t of texts) if (detectLanguage(t).confident) confident++;
  const start = performance.now();
  for (let r = 0; r < rounds; r++) for (const t of texts) detectLanguage(t);
  return { us: ((performance.now() - start) / (rounds * texts.length)) * 1000, confident };
}

const bench: Bench = {
  name: 'language',
  async run({ quick, log }) {
    const { texts, source } = await bodies();
    const thread =
      'Hello, I still have not received my refund for order 4711. Could you please check?\n\n' +
      'On Mon, 2 Nov 2026, Support <support@example.com> wrote:\n' +
      '> Thank you for your message, we are looking into it and will answer soon.\n'.repeat(200);
    const letter = 'Sehr geehrte Damen und Herren, seit drei Wochen warte ich auf die Erstattung meiner Bestellung.\n'.repeat(110);
    // A pasted key, hash or base64 block: one token of the 2,000 characters the detector cleans.
    const token = `Here is the code: ${'Zm9vYmFy'.repeat(250)}\nPlease help.`;
    const corpus = measure(texts, quick ? 5 : 30);
    log(`corpus: ${round(corpus.us, 1)} µs a text`);
    const long = measure([thread], quick ? 200 : 2000);
    log(`long thread: ${round(long.us, 1)} µs`);
    const own = measure([letter], quick ? 200 : 2000);
    log(`long letter: ${round(own.us, 1)} µs`);
    const pasted = measure([token], quick ? 50 : 500);
    log(`one long token: ${round(pasted.us, 1)} µs`);
    // The scoring alone, Mailroom's packed table against ELD's own detect() on the same texts,
    // alternated in slices so that both see the same machine.
    const cleaned = texts.map((t) => textForDetection(t));
    const slices = quick ? 3 : 10;
    let eldUs = 0;
    let scorerUs = 0;
    for (let i = 0; i < slices; i++) {
      eldUs += timeScoring(cleaned, 5, (t) => eld.detect(t).getScores()) / slices;
      scorerUs += timeScoring(cleaned, 5, scoreNgrams) / slices;
    }
    log(`scoring: ELD ${round(eldUs, 1)} µs, packed ${round(scorerUs, 1)} µs a text`);
    const eldMemory = tableMemory(`const { eld } = await import('eld/extrasmall'); eld.detect(${JSON.stringify(SAMPLE)});`);
    const scorerUrl = new URL('../../src/ingest/ngram-scorer.ts', import.meta.url).href;
    const packedMemory = tableMemory(`const { scoreNgrams } = await import(${JSON.stringify(scorerUrl)}); scoreNgrams(${JSON.stringify(SAMPLE)});`);
    log(`tables: ELD ${round(eldMemory.heapMb, 1)} MB of heap, packed ${round(packedMemory.heapMb, 1)} MB + ${round(packedMemory.arrayBuffersMb, 1)} MB of typed arrays`);
    return {
      name: 'language',
      description: `detectLanguage (ELD's eld/extrasmall table, packed) on ${texts.length} plain-text bodies of ${source}, on a two-line reply above a 200-line quoted thread (${thread.length.toLocaleString('en')} characters), on a long letter without quotes (${letter.length.toLocaleString('en')} characters), and on a short text with a pasted 2,000-character token (a key or base64 block).`,
      figures: {
        texts: texts.length,
        corpus_us_per_text: round(corpus.us, 1),
        corpus_confident: corpus.confident,
        long_thread_us: round(long.us, 1),
        long_thread_confident: long.confident,
        long_letter_us: round(own.us, 1),
        long_letter_confident: own.confident,
        long_token_us: round(pasted.us, 1),
        eld_detect_us_per_text: round(eldUs, 1),
        packed_scoring_us_per_text: round(scorerUs, 1),
        ratio_eld_vs_packed: round(eldUs / scorerUs, 2),
        eld_heap_mb: round(eldMemory.heapMb, 1),
        packed_heap_mb: round(packedMemory.heapMb, 1),
        packed_typed_arrays_mb: round(packedMemory.arrayBuffersMb, 1),
      },
      notes: [
        'Single-threaded, in this process; the main thread pays it once per message that opens a conversation in a queue with `language: auto`.',
        "Scoring alone (the cleaned text in, the ranked scores out), on the corpus texts as detectLanguage cleans them: ELD's own eld.detect() + getScores() against Mailroom's scoreNgrams over its table packed into typed arrays (the same scores, compared to the last bit in ngram-scorer.test.ts), in alternated slices of the same run.",
        "Memory in a fresh process once loaded and used, after a full GC: ELD's table as its module builds it (one object per n-gram, all in the V8 heap that every major GC marks) against the packed table (the V8 heap it keeps, and its typed arrays outside it). Every thread that detects carries its table (so detection is not done in the parser workers).",
      ],
    };
  },
};

export default bench;
