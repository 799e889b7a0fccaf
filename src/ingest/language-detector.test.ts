import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { detectLanguage, dropAddresses, stripQuotedText } from './language-detector.js';

describe('detectLanguage', () => {
  it.each([
    ['en', 'Hi team, my invoice shows the wrong address, could you please fix it and send me a new copy? Thanks'],
    ['fr', "Bonjour, j'ai commandé un ordinateur portable la semaine dernière et je n'ai toujours rien reçu. Pouvez-vous me dire où en est ma commande ?"],
    ['de', 'Sehr geehrte Damen und Herren, leider wurde meine Rechnung doppelt abgebucht. Bitte erstatten Sie mir den Betrag zurück.'],
    ['es', 'Hola, necesito ayuda con mi cuenta, no puedo iniciar sesión desde ayer. Gracias.'],
    ['nl', 'Goedemiddag, ik heb een vraag over mijn factuur van vorige maand. Met vriendelijke groet'],
    ['ja', 'お世話になっております。注文した商品がまだ届いていません。確認をお願いします。'],
    ['it', 'Buongiorno, il pacco che ho ordinato è arrivato danneggiato. Potete mandarmene uno nuovo?'],
    ['pt', 'Bom dia, ainda não recebi o reembolso da minha encomenda cancelada. Podem verificar, por favor?'],
    ['sv', 'Hej, jag har inte fått min beställning ännu. Kan ni kontrollera var paketet är?'],
    ['pl', 'Dzień dobry, nie otrzymałem jeszcze zamówienia. Proszę o sprawdzenie statusu przesyłki.'],
    // Capitalised words and a title: the detector used before took this fable from the corpus for German.
    ['en', 'The Hare and the Tortoise\n\nA HARE one day ridiculed the short feet and slow pace of the Tortoise, who replied, laughing: "Though you be swift as the wind, I will beat you in a race."'],
  ])('detects %s confidently', (lang, text) => {
    const d = detectLanguage(text);
    expect(d.language).toBe(lang);
    expect(d.confident).toBe(true);
    expect(d.confidence).toBeGreaterThanOrEqual(0.5);
  });

  it('is not confident about very short or empty text', () => {
    expect(detectLanguage('Thanks!').confident).toBe(false);
    expect(detectLanguage('ok').confident).toBe(false);
    expect(detectLanguage('').language).toBeNull();
    expect(detectLanguage('12345 67890 https://example.com/x a@b.c').confident).toBe(false);
    expect(detectLanguage(null)).toMatchObject({ language: null, confidence: 0, confident: false });
  });

  it('is not confident about a mix of languages, though every word is a real one', () => {
    const d = detectLanguage('Hello Bonjour Hallo Hola Ciao thank you merci danke gracias grazie');
    expect(d.confident).toBe(false);
    expect(d.confidence).toBeLessThan(0.5);
  });

  it('ranks up to three candidates, best first, with scores from 0 to 1', () => {
    const d = detectLanguage('Sehr geehrte Damen und Herren, leider wurde meine Rechnung doppelt abgebucht.');
    expect(d.candidates[0]!.language).toBe('de');
    expect(d.candidates.length).toBeGreaterThan(1);
    expect(d.candidates.length).toBeLessThanOrEqual(3);
    for (const [i, c] of d.candidates.entries()) {
      expect(c.score).toBeGreaterThan(0);
      expect(c.score).toBeLessThanOrEqual(1);
      if (i > 0) expect(c.score).toBeLessThanOrEqual(d.candidates[i - 1]!.score);
    }
  });

  it('detects the customer’s language, not the quoted thread’s', () => {
    const reply = [
      'Bonjour, merci pour votre réponse, mais le colis n’est toujours pas arrivé chez moi.',
      '',
      'On Tue, 1 Jul 2025 at 10:00, Support <support@example.com> wrote:',
      '> Hello, thank you for contacting us. Your parcel has been shipped and should arrive within three working days.',
      '> Kind regards, the support team of the example company, available every day of the week.',
    ].join('\n');
    expect(detectLanguage(reply)).toMatchObject({ language: 'fr', confident: true });
  });

  it('strips quotes, Outlook headers, signatures and client footers', () => {
    const text = [
      'Hallo, wo bleibt meine Bestellung?',
      '> quoted',
      'Sent from my iPhone',
      '-- ',
      'Max Mustermann, Example GmbH',
    ].join('\n');
    expect(stripQuotedText(text)).toBe('Hallo, wo bleibt meine Bestellung?');
    expect(stripQuotedText('Mein Text\n\n-----Original Message-----\nFrom: x\nSubject: y')).toBe('Mein Text');
    expect(stripQuotedText('Text\n________________________________\nVon: Support')).toBe('Text');
  });

  it('stops stripping once it has kept as much as the detector will look at', () => {
    const line = 'Ich warte seit drei Wochen auf meine Erstattung.';
    const body = Array.from({ length: 400 }, () => line).join('\n');
    const kept = stripQuotedText(body, 200);
    expect(kept.length).toBeGreaterThanOrEqual(200);
    expect(kept.length).toBeLessThan(200 + line.length + 1);
    expect(body.startsWith(kept)).toBe(true);
    // Far past the first lines, the customer's text still decides.
    expect(detectLanguage(`${body}\n\nOn Monday, Support wrote:\n> ${'We will refund you.\n> '.repeat(300)}`)).toMatchObject({ language: 'de', confident: true });
  });
});

describe('dropAddresses', () => {
  const pattern = (s: string) => s.replace(/\S+@\S+/g, ' ');

  it('removes addresses and handles as the pattern \\S+@\\S+ does', () => {
    for (const s of ['write to anna@example.com today', '@name and name@ stay', '@@x a@b@c x@ @y', 'a@b', '@', '', 'no at sign', ' lead@x\ttab@y\nnew@z ', 'x\u00a0a@b\u3000c']) {
      expect(dropAddresses(s)).toBe(pattern(s));
    }
  });

  it('property: the same result as the pattern on any text of letters, @ and spaces', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', '@', ' ', '\n', '\t', '\u00a0', '\u2028', 'é', '.') }), (s) => {
        expect(dropAddresses(s)).toBe(pattern(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads a long token without an @ in one pass (the pattern backtracked over it)', () => {
    const long = `${'x'.repeat(200_000)} hi@example.com`;
    expect(dropAddresses(long)).toBe(`${'x'.repeat(200_000)}  `);
  });
});
