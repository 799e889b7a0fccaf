/**
 * Language of a customer's message, for routing (API.md `language: auto`): the detected language
 * becomes a requirement only when detection is confident. The quoted history and signature are
 * removed first, because a French customer answering an English thread quotes English.
 * Detection is Nito-ELD's (`eld`, pure JS, offline, 60 languages, its smallest n-gram table):
 * byte n-grams of the first ~350 bytes of words, scored over a packed copy of its table
 * (`ngram-scorer.ts`: the same scores, ~4× faster, 28 MB less heap). It replaced tinyld, which
 * took about 0.7 ms a message (up to 2–3 ms on a few hundred words) and was most of a parser
 * worker's time on a backlog; ELD was right more often on the shared corpus, and detection with
 * the stripping below takes ~40 µs a corpus body on the main thread (bench/ingest/language.bench.ts).
 * The confidence combines how far the best candidate leads the second, how strong its own score
 * is, and how much text there was, so short, mixed or borderline texts are not confident.
 */
import { scoreNgrams, type NgramResult } from './ngram-scorer.js';

export interface LanguageDetection {
  /** ISO 639-1 code (`en`, `fr`, `de`…), null when nothing could be detected. */
  language: string | null;
  /** 0–1. */
  confidence: number;
  /** True when confidence ≥ the threshold and there were enough letters: use it for routing. */
  confident: boolean;
  /** Up to three candidates with the detector's scores (0–1), best first. */
  candidates: { language: string; score: number }[];
}

export interface LanguageOptions {
  /** Confidence needed for `confident`. Default 0.5. */
  minConfidence?: number;
  /** Letters needed for `confident` at all. Default 20. */
  minLetters?: number;
  /** Characters passed to the detector (after stripping). Default 1,000: ELD reads no more (and only the first ~350 bytes of words). */
  maxChars?: number;
}

/**
 * Characters of the body looked at for the customer's own text: it comes first, the quoted
 * history after it, so a long thread costs no more than a short one.
 */
const HEAD_CHARS = 10_000;

/** Lines that start the quoted original in replies and forwards, in common clients and languages. */
const QUOTE_HEADERS: RegExp[] = [
  /^-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|messaggio originale|oorspronkelijk bericht|originalmeddelande|alkuperäinen viesti|wiadomość oryginalna|исходное сообщение|forwarded message|weitergeleitete nachricht|message transféré)\s*-{2,}/i,
  /^_{10,}\s*$/, // Outlook's separator line
  /^(?:on|am|le|el|il|op|den|på|em)\b.{0,200}\b(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef|skrev|escreveu|kirjoitti|napisał)\s*:?\s*$/i,
  /^(?:from|von|de|da|van|från|fra|od|от)\s*:\s*.+$/i, // the "From:" line of an Outlook header block
];

/** Sign-offs of mobile clients that say nothing about the writer's language. */
const CLIENT_FOOTERS = /^(?:sent from my|envoyé de mon|von meinem .* gesendet|enviado desde mi|inviato da|verzonden met|skickat från|sendt fra)/i;

/**
 * The part of a plain-text body the customer wrote: the text before the first quote header,
 * without `>` quoted lines, below-the-signature text (RFC 3676 §4.3 `-- ` delimiter) and
 * client footers. `maxChars`: stop once that much is kept (the caller looks at no more).
 */
export function stripQuotedText(text: string, maxChars = Infinity): string {
  const out: string[] = [];
  let kept = 0;
  for (const raw of text.split(/\r?\n/)) {
    if (kept >= maxChars) break;
    const line = raw.trimEnd();
    if (line === '-- ' || line === '--') break;
    if (QUOTE_HEADERS.some((re) => re.test(line.trim()))) break;
    if (/^\s*>/.test(line)) continue;
    if (CLIENT_FOOTERS.test(line.trim())) continue;
    out.push(line);
    kept += line.length + 1;
  }
  return out.join('\n').trim();
}

const SPACE = /\s/;

/**
 * `text` with every whitespace-delimited token that has an `@` between other characters (an
 * address, a handle in a signature) replaced by one space: what `text.replace(/\S+@\S+/g, ' ')`
 * gives, in one pass. That pattern backtracks over every token without an `@`; this only looks
 * around each `@`. bench language, three runs alternated with the pattern (medians): 105 against
 * 122 µs a corpus text, and 73 µs against 4.8 ms for a text with one 2,000-character token (a
 * pasted key), detections unchanged.
 */
export function dropAddresses(text: string): string {
  let at = text.indexOf('@');
  if (at < 0) return text;
  let out = '';
  let from = 0;
  while (at >= 0) {
    let start = at;
    while (start > from && !SPACE.test(text[start - 1]!)) start--;
    let end = at + 1;
    while (end < text.length && !SPACE.test(text[end]!)) end++;
    // The pattern needs a character on each side of an `@`: one after the token's first character
    // and before its last ("@name" and "name@" stay; "@@x" goes).
    const inner = text.indexOf('@', start + 1);
    if (inner >= 0 && inner < end - 1) {
      out += `${text.slice(from, start)} `;
      from = end;
    }
    at = text.indexOf('@', end);
  }
  return out + text.slice(from);
}

const NON_LETTERS = /\P{L}+/gu;
const LETTER = /\p{L}/gu;

/** Letters in `s` (one string built, not an array of one-letter matches). */
function countLetters(s: string): number {
  return s.replace(NON_LETTERS, '').length;
}

/** Whether `s` has at least `n` letters, reading only as far as the n-th. */
function hasLetters(s: string, n: number): boolean {
  LETTER.lastIndex = 0;
  for (let found = 0; found < n; found++) if (!LETTER.exec(s)) return false;
  return true;
}

/**
 * What of a message body the detector is given: the customer's own text (or the whole head of
 * a bare forward), without URLs, addresses and numbers, at most `maxChars` characters.
 */
export function textForDetection(text: string | null | undefined, opts: LanguageOptions = {}): string {
  const minLetters = opts.minLetters ?? 20;
  const maxChars = opts.maxChars ?? 1000;
  const head = (text ?? '').slice(0, HEAD_CHARS);
  // Only the first 2 × maxChars of the customer's text are cleaned and looked at below.
  let own = stripQuotedText(head, 2 * maxChars);
  // A bare forward (nothing written above the quote): the forwarded text is the best evidence left.
  if (!hasLetters(own, minLetters)) own = head;
  // URLs, addresses and numbers are language-neutral noise (cleaned on twice what is kept).
  return dropAddresses(own.slice(0, 2 * maxChars).replace(/\bhttps?:\/\/\S+/gi, ' '))
    .replace(/[\d_]+/g, ' ')
    .slice(0, maxChars);
}

/** Detects the language of a message body. Pure; never throws. */
export function detectLanguage(text: string | null | undefined, opts: LanguageOptions = {}): LanguageDetection {
  const minConfidence = opts.minConfidence ?? 0.5;
  const minLetters = opts.minLetters ?? 20;
  const cleaned = textForDetection(text, opts);
  const letters = countLetters(cleaned);
  if (letters === 0) return NOTHING;
  let result: NgramResult;
  try {
    result = scoreNgrams(cleaned);
  } catch {
    return NOTHING;
  }
  const top = result.ranked[0];
  if (!top) return NOTHING;
  const second = result.ranked[1]?.score ?? 0;
  const confidence = Math.round(margin(top.score, second) * strength(top.score) * Math.min(1, letters / FULL_WEIGHT_LETTERS) * 1000) / 1000;
  return {
    language: top.language,
    confidence,
    // ELD's own reliability test (per-language expected score, at least 3 n-grams) must agree.
    confident: letters >= minLetters && confidence >= minConfidence && result.reliable,
    candidates: result.ranked.slice(0, 3).map(({ language, score }) => ({ language, score: Math.round(score * 1000) / 1000 })),
  };
}

const NOTHING: LanguageDetection = { language: null, confidence: 0, confident: false, candidates: [] };

/** Letters from which the amount of text no longer lowers the confidence. */
const FULL_WEIGHT_LETTERS = 40;

/**
 * How clearly the best candidate wins: 1 once it leads the second by a tenth of its own score.
 * Close languages (Danish and Norwegian, Spanish and Portuguese) on short text stay below.
 */
function margin(top: number, second: number): number {
  return top > 0 ? Math.min(1, (top - second) / top / 0.1) : 0;
}

/**
 * How strong the best score is on ELD's scale: ~0.78 is its average for a correct detection;
 * text whose best is under three quarters of that (mixed languages, names, codes) scores 0.
 */
function strength(top: number): number {
  return Math.max(0, Math.min(1, (top / 0.78 - 0.75) / 0.25));
}
