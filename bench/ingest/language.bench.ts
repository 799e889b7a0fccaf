/**
 * Cost of language detection (`detectLanguage`), which runs on the main thread when a message
 * opens a conversation in a `language: auto` queue: per text, on the plain-text bodies of the
 * shared corpus, on a short reply above a long quoted thread, on a long letter and on a text with
 * one long token (a pasted key), with how many texts were detected confidently. No baseline: the
 * figure is a share of the main thread's time per message (see ingest-throughput's
 * `*_main_thread_cpu_ms_per_msg`).
 *
 * `node --import tsx --expose-gc bench/run.ts language [--quick]`
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { round, type Bench } from '../lib/report.js';
import { detectLanguage } from '../../src/ingest/language-detector.js';
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
 * The V8 heap ELD's n-gram table takes once loaded and used, MB: measured in a fresh Node process
 * (this one has it loaded already). Each thread that detects carries it, which is why detection
 * stays on the main thread (it has it anyway) rather than in every parser worker, whose heap
 * limit guards against hostile messages.
 */
function eldHeapMb(): number {
  const script = `gc(); const before = process.memoryUsage().heapUsed;
const { eld } = await import('eld/extrasmall'); eld.detect('Guten Tag, ich habe meine Rechnung noch nicht erhalten.');
gc(); console.log((process.memoryUsage().heapUsed - before) / 2 ** 20);`;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`measuring ELD's heap failed: ${r.stderr}`);
  return Number(r.stdout.trim());
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
    const heapMb = eldHeapMb();
    log(`ELD's table: ${round(heapMb, 1)} MB of heap`);
    return {
      name: 'language',
      description: `detectLanguage (ELD, eld/extrasmall) on ${texts.length} plain-text bodies of ${source}, on a two-line reply above a 200-line quoted thread (${thread.length.toLocaleString('en')} characters), on a long letter without quotes (${letter.length.toLocaleString('en')} characters), and on a short text with a pasted 2,000-character token (a key or base64 block).`,
      figures: {
        texts: texts.length,
        corpus_us_per_text: round(corpus.us, 1),
        corpus_confident: corpus.confident,
        long_thread_us: round(long.us, 1),
        long_thread_confident: long.confident,
        long_letter_us: round(own.us, 1),
        long_letter_confident: own.confident,
        long_token_us: round(pasted.us, 1),
        eld_heap_mb: round(heapMb, 1),
      },
      notes: [
        'Single-threaded, in this process; the main thread pays it once per message that opens a conversation in a queue with `language: auto`.',
        "eld_heap_mb: the V8 heap ELD's n-gram table takes in a fresh process once loaded and used; every thread that detects carries it (so detection is not done in the parser workers).",
      ],
    };
  },
};

export default bench;
