/**
 * ELD's language scoring (Nito-ELD, `eld`, its extra-small table of 60 languages) over a table
 * packed into typed arrays. ELD keeps its ~50,000 n-grams as one object each (a map of language
 * ids to scores): 28 MB of the main thread's heap that every major GC walks, and a property
 * lookup and a `for…in` per n-gram. Here they live in one open-addressing hash table of 6-byte
 * keys outside the heap (~2.5 MB), and a text's n-grams are hashed from its bytes without
 * building a string each: the same scores as `eld.detect` to the last bit (`ngram-scorer.test.ts`
 * compares them on the corpus and on random text), at about a fifth of its time
 * (bench/ingest/language.bench.ts).
 *
 * What ELD does, read from its source (eld 2.x, `src/languageDetector.js`): the first 1,000
 * characters, every run of non-letters (but a trailing apostrophe) made a space, trimmed and
 * lower-cased; the words' UTF-8 bytes, each byte ≥ 0x80 written as one character of its
 * `dictionary` (so every key is a string of character codes < 256), up to the first space after
 * 350 bytes (or any character after 380); from each word (its first 70 codes), 4-code n-grams at
 * a stride of 3, the first with a leading space, then its last 4 codes with a trailing space;
 * each distinct n-gram adds its per-language score (+53, subtracted from the table to shrink it)
 * to those languages; a language's result is its total over the number of distinct n-grams `s`,
 * scaled to `s / (s + 25)`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

/** One language's scaled score, 0–1. */
export interface NgramScore {
  language: string;
  score: number;
}

export interface NgramResult {
  /** Every language that scored, best first (equal scores in ELD's language order). */
  ranked: NgramScore[];
  /** Distinct n-grams of the text, found in the table or not. */
  ngrams: number;
  /** ELD's `isReliable()`: at least 3 n-grams, and the best at least ¾ of its language's usual score. */
  reliable: boolean;
}

/** The shape of ELD's n-gram file: `{ type, languages: { id: code }, ngrams: { key: { id: score } } }`. */
interface EldTable {
  type: string;
  languages: Record<string, string>;
  ngrams: Record<string, Record<string, number>>;
}

/** What ELD adds to every stored score (it subtracts it from its table to keep the file small). */
const BASE_SCORE = 53;
/** ELD's scale: a language's mean n-gram score `s` becomes `s / (s + 25)`. */
const SCALE = 25;
/** ELD's reliability threshold, as a share of the language's average correct score. */
const RELIABLE_RATIO = 0.75;
/** Codes of a word ELD makes n-grams from. */
const WORD_CODES = 70;
/** ELD stops at the first space after this many bytes, or after any character past `HARD_BYTES`. */
const SOFT_BYTES = 350;
const HARD_BYTES = 380;
/** Longest key in the table (a space, 4 codes, a space); longer n-grams are only counted. */
const KEY_CODES = 6;
const SPACE = 32;

const entry = import.meta.resolve('eld/extrasmall');
const eldFile = (name: string): URL => new URL(`../${name}`, entry);

/** ELD's own separators pattern, byte dictionary and average scores (small modules; kept). */
const { separators } = (await import(eldFile('regexPatterns.js').href)) as { separators: RegExp };
const { dictionary } = (await import(eldFile('dictionary.js').href)) as { dictionary: string[] };
const { avgScore } = (await import(eldFile('avgScore.js').href)) as { avgScore: Record<string, number> };

/**
 * ELD's extra-small table, evaluated as the body of a function so that its 28 MB of objects are
 * garbage once packed: an `import` would keep them for the life of the process, and a script
 * (`vm.runInContext`) stays in V8's compilation cache, ~6 MB with its object literal.
 */
function readEldTable(): EldTable {
  const file = fileURLToPath(eldFile('ngrams/extrasmall.js'));
  const source = readFileSync(file, 'utf8');
  const body = source.replace(/\bexport\s+const\s+ngramsData\s*=/, 'return ');
  const table = body === source ? undefined : (vm.compileFunction(body, [], { filename: file })() as EldTable | undefined);
  if (!table || typeof table.ngrams !== 'object' || typeof table.languages !== 'object') {
    throw new Error(`The language table of the eld package (${file}) is not in the form Mailroom reads (eld 2.x): reinstall with \`npm ci\`.`);
  }
  return table;
}

/** ELD's table as typed arrays: an open-addressing hash of keys to runs of (language, score) pairs. */
class PackedTable {
  readonly languages: string[];
  /** Reliability threshold per language id. */
  readonly reliableAt: Float64Array;
  /** Byte codes ≥ 0x80 as ELD writes them. */
  readonly byteCode = new Uint8Array(256);
  private readonly bits: number;
  private readonly keyLo: Uint32Array;
  private readonly keyHi: Uint32Array;
  private readonly start: Uint32Array;
  private readonly count: Uint8Array;
  private readonly pairLanguage: Uint8Array;
  private readonly pairScore: Uint16Array;

  constructor(table: EldTable, dictionaryChars: string[], averages: Record<string, number>) {
    const ids = Object.keys(table.languages).map(Number);
    this.languages = [];
    for (const id of ids) this.languages[id] = table.languages[id]!;
    this.reliableAt = Float64Array.from(this.languages, (code) => (averages[code] ?? 0) * RELIABLE_RATIO);
    for (let b = 0; b < 256; b++) this.byteCode[b] = dictionaryChars[b]!.charCodeAt(0);
    const keys = Object.keys(table.ngrams);
    this.bits = Math.ceil(Math.log2(keys.length * 2.5));
    const size = 1 << this.bits;
    this.keyLo = new Uint32Array(size);
    this.keyHi = new Uint32Array(size);
    this.start = new Uint32Array(size);
    this.count = new Uint8Array(size);
    let pairs = 0;
    for (const k of keys) pairs += Object.keys(table.ngrams[k]!).length;
    this.pairLanguage = new Uint8Array(pairs);
    this.pairScore = new Uint16Array(pairs);
    const key = new Uint8Array(KEY_CODES);
    let at = 0;
    for (const k of keys) {
      if (k.length > KEY_CODES) continue; // never produced by ELD's n-grams
      for (let i = 0; i < k.length; i++) {
        const c = k.charCodeAt(i);
        if (c > 255) throw new Error(`eld's language table has a key outside its byte dictionary (${JSON.stringify(k)}).`);
        key[i] = c;
      }
      const slot = this.insert(packLo(key, k.length), packHi(key, k.length));
      this.start[slot] = at;
      for (const [id, score] of Object.entries(table.ngrams[k]!)) {
        this.pairLanguage[at] = Number(id);
        this.pairScore[at] = score + BASE_SCORE;
        at++;
      }
      this.count[slot] = at - this.start[slot]!;
    }
  }

  /** Adds the key's scores to `scores`; false when the table does not have it. */
  addScores(lo: number, hi: number, scores: Float64Array): boolean {
    const mask = (1 << this.bits) - 1;
    for (let slot = hashKey(lo, hi, this.bits); this.keyHi[slot] !== 0; slot = (slot + 1) & mask) {
      if (this.keyLo[slot] === lo && this.keyHi[slot] === hi) {
        const from = this.start[slot]!;
        const to = from + this.count[slot]!;
        for (let p = from; p < to; p++) scores[this.pairLanguage[p]!]! += this.pairScore[p]!;
        return true;
      }
    }
    return false;
  }

  private insert(lo: number, hi: number): number {
    const mask = (1 << this.bits) - 1;
    let slot = hashKey(lo, hi, this.bits);
    while (this.keyHi[slot] !== 0) slot = (slot + 1) & mask;
    this.keyLo[slot] = lo;
    this.keyHi[slot] = hi;
    return slot;
  }
}

/** Codes 0–3 of a key. */
function packLo(key: Uint8Array, length: number): number {
  let lo = 0;
  for (let i = 0; i < length && i < 4; i++) lo |= key[i]! << (8 * i);
  return lo >>> 0;
}

/** Codes 4–5 of a key and its length (never 0, which marks an empty slot). */
function packHi(key: Uint8Array, length: number): number {
  let hi = length << 16;
  for (let i = 4; i < length; i++) hi |= key[i]! << (8 * (i - 4));
  return hi >>> 0;
}

/** `bits` bits of a multiplicative hash of the key. */
function hashKey(lo: number, hi: number, bits: number): number {
  return Math.imul((lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0, 0x85ebca6b) >>> (32 - bits);
}

const table = new PackedTable(readEldTable(), dictionary, avgScore);

// Per-call scratch (the main thread detects one text at a time; nothing here is async).
/** The text's codes, words one after another, and where each word ends. */
const codes = new Uint8Array(HARD_BYTES + 8);
const wordEnds = new Int16Array(HARD_BYTES + 8);
/** The n-grams seen in this call: a small hash set, emptied by moving to the next generation. */
const SEEN_BITS = 10;
const seenLo = new Uint32Array(1 << SEEN_BITS);
const seenHi = new Uint32Array(1 << SEEN_BITS);
const seenGeneration = new Uint32Array(1 << SEEN_BITS);
let generation = 0;
const key = new Uint8Array(KEY_CODES);

/** Writes the text's words as ELD's codes into `codes`/`wordEnds`; returns the number of words. */
function encodeWords(text: string): number {
  const byteCode = table.byteCode;
  let n = 0;
  let words = 0;
  let wordStart = 0;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      if (c === SPACE) {
        if (n > wordStart) wordEnds[words++] = wordStart = n;
        if (bytes > SOFT_BYTES) break;
      } else {
        codes[n++] = c;
      }
      bytes++;
    } else if (c < 0x800) {
      codes[n++] = byteCode[0xc0 | (c >> 6)]!;
      codes[n++] = byteCode[0x80 | (c & 0x3f)]!;
      bytes += 2;
    } else if (c < 0xd800 || c >= 0xe000) {
      codes[n++] = byteCode[0xe0 | (c >> 12)]!;
      codes[n++] = byteCode[0x80 | ((c >> 6) & 0x3f)]!;
      codes[n++] = byteCode[0x80 | (c & 0x3f)]!;
      bytes += 3;
    } else {
      // A surrogate pair as one code point, as ELD reads it. (Unreached after its separators,
      // which take only BMP letters: kept so that this stays its encoding whatever comes in.)
      i++;
      c = 0x10000 + (((c & 0x3ff) << 10) | (text.charCodeAt(i) & 0x3ff));
      codes[n++] = byteCode[0xf0 | (c >> 18)]!;
      codes[n++] = byteCode[0x80 | ((c >> 12) & 0x3f)]!;
      codes[n++] = byteCode[0x80 | ((c >> 6) & 0x3f)]!;
      codes[n++] = byteCode[0x80 | (c & 0x3f)]!;
      bytes += 4;
    }
    if (bytes > HARD_BYTES) break;
  }
  if (n > wordStart) wordEnds[words++] = n;
  return words;
}

/**
 * Counts the n-gram `codes[from..to)` (with a leading and/or trailing space) once per call, and
 * adds its scores; returns 1 when it was new to this call.
 */
function ngram(from: number, to: number, lead: boolean, tail: boolean, scores: Float64Array, long: Set<string>): number {
  const length = to - from + (lead ? 1 : 0) + (tail ? 1 : 0);
  if (length > KEY_CODES) {
    // Only the last n-gram of a word over 70 codes: not in the table, but ELD counts it.
    const text = (lead ? ' ' : '') + String.fromCharCode(...codes.subarray(from, to)) + (tail ? ' ' : '');
    if (long.has(text)) return 0;
    long.add(text);
    return 1;
  }
  let k = 0;
  if (lead) key[k++] = SPACE;
  for (let p = from; p < to; p++) key[k++] = codes[p]!;
  if (tail) key[k++] = SPACE;
  const lo = packLo(key, length);
  const hi = packHi(key, length);
  const mask = (1 << SEEN_BITS) - 1;
  let slot = hashKey(lo, hi, SEEN_BITS);
  for (; seenGeneration[slot] === generation; slot = (slot + 1) & mask) {
    if (seenLo[slot] === lo && seenHi[slot] === hi) return 0;
  }
  seenGeneration[slot] = generation;
  seenLo[slot] = lo;
  seenHi[slot] = hi;
  table.addScores(lo, hi, scores);
  return 1;
}

/** ELD's scores of `text` (it reads the first 1,000 characters). Pure; the result is the caller's. */
export function scoreNgrams(text: string): NgramResult {
  const normalized = text.substring(0, 1000).replace(separators, ' ').trim().toLowerCase();
  const words = encodeWords(normalized);
  generation = (generation + 1) >>> 0;
  if (generation === 0) {
    // After 2^32 calls: forget every mark, so that none from the first calls reads as this one's.
    seenGeneration.fill(0);
    generation = 1;
  }
  const scores = new Float64Array(table.languages.length);
  const long = new Set<string>();
  let ngrams = 0;
  let wordStart = 0;
  for (let w = 0; w < words; w++) {
    const end = wordEnds[w]!;
    const length = Math.min(end - wordStart, WORD_CODES);
    let j = 0;
    for (; j + 4 < length; j += 3) ngrams += ngram(wordStart + j, wordStart + j + 4, j === 0, false, scores, long);
    // From the 4th-last of its first 70 codes to the word's real end; the whole word when shorter.
    ngrams += ngram(wordStart + Math.max(0, length - 4), end, j === 0, true, scores, long);
    wordStart = end;
  }
  const scored: { id: number; score: number }[] = [];
  for (let id = 0; id < scores.length; id++) {
    if (scores[id]! <= 0) continue;
    const mean = scores[id]! / ngrams;
    scored.push({ id, score: mean / (mean + SCALE) });
  }
  // A stable sort: equal scores keep ELD's language order.
  scored.sort((a, b) => b.score - a.score);
  const ranked = scored.map(({ id, score }) => ({ language: table.languages[id]!, score }));
  const best = scored[0];
  // ELD also compares the best with the second (its code compares with the second's id, which
  // never decides: a best score is at most 0.92, and one under 0.01 already failed the average).
  const reliable = best !== undefined && ngrams >= 3 && best.score >= table.reliableAt[best.id]!;
  return { ranked, ngrams, reliable };
}
