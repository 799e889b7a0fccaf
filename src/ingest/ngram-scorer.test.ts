import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { eld } from 'eld/extrasmall';
import { scoreNgrams } from './ngram-scorer.js';
import { parseMessage } from './mime-parser.js';
import { corpusFiles, hasCorpus } from '../../test/helpers/corpus.js';

/** What ELD itself says of `text`: its ranking, scores and reliability. */
function eldSays(text: string): { ranked: [string, number][]; reliable: boolean } {
  const r = eld.detect(text);
  return { ranked: Object.entries(r.getScores()), reliable: r.isReliable() };
}

function scorerSays(text: string): { ranked: [string, number][]; reliable: boolean } {
  const r = scoreNgrams(text);
  return { ranked: r.ranked.map((c) => [c.language, c.score]), reliable: r.reliable };
}

/** Words of several scripts (so that n-grams hit the table), and characters that test the edges. */
const WORDS = [
  'the', 'invoice', 'refund', 'please', 'bonjour', 'commande', 'reçu', 'être', 'rechnung', 'größe', 'straße', 'über',
  'pedido', 'gracias', 'señor', 'açúcar', 'não', 'obrigado', 'dziękuję', 'zamówienie', 'здравствуйте', 'заказ', 'спасибо',
  'ευχαριστώ', 'παραγγελία', 'شكرا', 'طلب', 'धन्यवाद', 'お世話になっております', '注文', '감사합니다', 'köszönöm', 'tack',
  'beställning', 'kiitos', 'don’t', "l'adresse", 'it`s', 'x'.repeat(75), 'ü'.repeat(40), 'ab', 'a', 'abc', 'abcd',
];
const EDGES = [' ', ' ', '  ', '\n', '\t', ', ', '. ', '1', '42', '_', '’', "'", '`', '@', '-', '😀', '\ud83d', '\ude00', 'İ', 'ẞ', '\u00a0', 'Ǆ'];

describe('scoreNgrams', () => {
  it('scores a short text as ELD does, best first', () => {
    const text = 'Bonjour, je n’ai toujours pas reçu mon remboursement. Pouvez-vous vérifier ?';
    const r = scoreNgrams(text);
    expect(r.ranked[0]!.language).toBe('fr');
    expect(r.reliable).toBe(true);
    expect(r.ngrams).toBeGreaterThan(10);
    expect(scorerSays(text)).toEqual(eldSays(text));
  });

  it('finds nothing in text without letters, and is not reliable on fewer than three n-grams', () => {
    expect(scoreNgrams('')).toEqual({ ranked: [], ngrams: 0, reliable: false });
    expect(scoreNgrams('12345 !!! ...').ranked).toEqual([]);
    const two = scoreNgrams('hello');
    expect(two.ngrams).toBeLessThan(3);
    expect(two.reliable).toBe(false);
    expect(scorerSays('hello')).toEqual(eldSays('hello'));
  });

  it('counts the same n-gram once, and the long tail of a word over 70 letters', () => {
    const once = scoreNgrams('merci');
    const thrice = scoreNgrams('merci merci merci');
    expect(thrice).toEqual(once);
    const long = `${'abc'.repeat(30)}xyz`;
    expect(scorerSays(`${long} ${long} merci`)).toEqual(eldSays(`${long} ${long} merci`));
  });

  it('stops where ELD stops: at the first space after 350 bytes, inside a word after 380', () => {
    const words = 'voilà une commande qui n’est jamais arrivée chez moi depuis des semaines '.repeat(6);
    for (let cut = 330; cut < 400; cut += 3) {
      const text = `${words.slice(0, cut)}${'pqrstuvwxyzéèàùâêî'.repeat(8)} merci beaucoup`;
      expect(scorerSays(text), String(cut)).toEqual(eldSays(text));
    }
  });

  it.skipIf(!hasCorpus)('gives ELD’s scores to the last bit on every plain-text body of the corpus', async () => {
    let compared = 0;
    for (const f of corpusFiles()) {
      const parsed = await parseMessage(readFileSync(f), { omitHtml: true });
      if (!parsed.ok || !parsed.message.text) continue;
      const text = parsed.message.text;
      expect(scorerSays(text), f).toEqual(eldSays(text));
      compared++;
    }
    expect(compared).toBeGreaterThan(50);
  });

  it('property: ELD’s scores on random text of words in many scripts, digits, apostrophes, emoji and lone surrogates', () => {
    const letters = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzäöüéèàçñßøåłśżчщжαβγ');
    const piece = fc.oneof(
      fc.constantFrom(...WORDS),
      fc.constantFrom(...EDGES),
      fc.string({ maxLength: 6 }),
      fc.string({ unit: 'binary', maxLength: 4 }),
      // Long words of varied letters: the 70-code limit and the byte cuts fall inside them.
      fc.string({ unit: letters, minLength: 60, maxLength: 130 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 400 }), (pieces) => {
        const text = pieces.join(pieces.length % 3 === 0 ? '' : ' ');
        expect(scorerSays(text)).toEqual(eldSays(text));
      }),
      { numRuns: 1500 },
    );
  });
});
