/**
 * Language of a customer's message, for routing (API.md `language: auto`): the detected language
 * becomes a requirement only when detection is confident. The quoted history and signature are
 * removed first, because a French customer answering an English thread quotes English.
 * Detection is tinyld's (pure JS, offline); the confidence combines how far the best candidate
 * leads the second with how much text there was, so short or mixed texts are not confident.
 */
import { detectAll } from 'tinyld';

export interface LanguageDetection {
  /** ISO 639-1 code (`en`, `fr`, `de`…), null when nothing could be detected. */
  language: string | null;
  /** 0–1. */
  confidence: number;
  /** True when confidence ≥ the threshold and there were enough letters: use it for routing. */
  confident: boolean;
  /** Up to three candidates with tinyld's scores, best first. */
  candidates: { language: string; score: number }[];
}

export interface LanguageOptions {
  /** Confidence needed for `confident`. Default 0.5. */
  minConfidence?: number;
  /** Letters needed for `confident` at all. Default 20. */
  minLetters?: number;
  /** Characters looked at (after stripping). Default 2,000: more adds time, not accuracy. */
  maxChars?: number;
}

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
 * client footers.
 */
export function stripQuotedText(text: string): string {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (line === '-- ' || line === '--') break;
    if (QUOTE_HEADERS.some((re) => re.test(line.trim()))) break;
    if (/^\s*>/.test(line)) continue;
    if (CLIENT_FOOTERS.test(line.trim())) continue;
    out.push(line);
  }
  return out.join('\n').trim();
}

function countLetters(s: string): number {
  const m = s.match(/\p{L}/gu);
  return m ? m.length : 0;
}

/** Detects the language of a message body. Pure; never throws. */
export function detectLanguage(text: string | null | undefined, opts: LanguageOptions = {}): LanguageDetection {
  const minConfidence = opts.minConfidence ?? 0.5;
  const minLetters = opts.minLetters ?? 20;
  let own = stripQuotedText(text ?? '');
  // A bare forward (nothing written above the quote): the forwarded text is the best evidence left.
  if (countLetters(own) < minLetters) own = text ?? '';
  // URLs, addresses and numbers are language-neutral noise.
  const cleaned = own
    .replace(/\bhttps?:\/\/\S+/gi, ' ')
    .replace(/\S+@\S+/g, ' ')
    .replace(/[\d_]+/g, ' ')
    .slice(0, opts.maxChars ?? 2000);
  const letters = countLetters(cleaned);
  let ranked: { lang: string; accuracy: number }[] = [];
  try {
    ranked = letters > 0 ? detectAll(cleaned) : [];
  } catch {
    ranked = [];
  }
  const top = ranked[0];
  if (!top) return { language: null, confidence: 0, confident: false, candidates: [] };
  const second = ranked[1]?.accuracy ?? 0;
  // How clearly the best candidate wins (1 when alone), how strong its own score is, and
  // whether there was enough text (full weight from 40 letters).
  const margin = top.accuracy > 0 ? (top.accuracy - second) / top.accuracy : 0;
  const strength = Math.min(1, top.accuracy * 4);
  const amount = Math.min(1, letters / 40);
  const confidence = Math.round(margin * strength * amount * 1000) / 1000;
  return {
    language: top.lang,
    confidence,
    confident: letters >= minLetters && confidence >= minConfidence,
    candidates: ranked.slice(0, 3).map((r) => ({ language: r.lang, score: Math.round(r.accuracy * 1000) / 1000 })),
  };
}
