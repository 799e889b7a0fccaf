import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { rawMessage } from './fixtures/test-messages.js';
import { classifyMessage } from './message-classifier.js';
import { parseMessage } from './mime-parser.js';
import type { ParsedMessage } from './parse-types.js';
import { parseDeliveryStatus, parseFieldGroups } from './report-parser.js';

const corpus = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/corpus/mime/postal-mime');
const hasCorpus = existsSync(corpus);

async function parsed(raw: Buffer): Promise<ParsedMessage> {
  const r = await parseMessage(raw);
  if (!r.ok) throw new Error(r.failure.reason);
  return r.message;
}
const classify = async (headers: Record<string, string | string[]>, body?: string) => classifyMessage(await parsed(rawMessage({ From: 'customer@example.com', ...headers }, body)));

describe.skipIf(!hasCorpus)(hasCorpus ? 'classification of the corpus reports' : 'classification of the corpus reports (skipped: ../shared/corpus not found)', () => {
  it('classifies bounce.eml as a bounce with the failed recipient, status, diagnostic and original Message-ID', async () => {
    const c = classifyMessage(await parsed(readFileSync(path.join(corpus, 'bounce.eml'))));
    expect(c.kind).toBe('bounce');
    expect(c.automated).toBe(true);
    expect(c.delivery).toMatchObject({
      source: 'dsn',
      reportingMta: 'mailout.nyi.internal',
      originalMessageId: 'e85f1c9b-9b51-4028-8ec0-0a657155028e@app.fastmail.com',
      recipients: [
        {
          recipient: 'htfgvhyufthdgcvhgjyfthgc@ethereal.email',
          action: 'failed',
          status: '5.0.0',
          permanent: true,
          diagnostic: '550 No such user here',
          remoteMta: 'mx.ethereal.email',
        },
      ],
    });
  });

  it('classifies arf.eml as an abuse report with its feedback fields', async () => {
    const c = classifyMessage(await parsed(readFileSync(path.join(corpus, 'arf.eml'))));
    expect(c.kind).toBe('abuse-report');
    expect(c.automated).toBe(true);
    expect(c.feedback).toMatchObject({
      feedbackType: 'abuse',
      userAgent: 'SomeGenerator/1.0',
      sourceIp: '192.0.2.1',
      originalMailFrom: 'somespammer@example.net',
      originalRcptTo: ['user@example.com'],
      reportedDomains: ['example.net'],
      reportedUris: ['http://example.net/earn_money.html', 'mailto:user@example.com'],
    });
  });

  it('classifies calendar-event.eml as a calendar invitation', async () => {
    const c = classifyMessage(await parsed(readFileSync(path.join(corpus, 'calendar-event.eml'))));
    expect(c.kind).toBe('calendar');
    expect(c.automated).toBe(false);
    expect(c.calendar).toMatchObject({ method: 'REQUEST', organizer: 'andris@postalsys.com' });
    expect(c.calendar?.summary).toContain('Test event');
  });

  it('classifies the mixed message as human', async () => {
    expect(classifyMessage(await parsed(readFileSync(path.join(corpus, 'mixed.eml')))).kind).toBe('human');
  });
});

describe('auto-replies and lists', () => {
  it('reads RFC 3834 Auto-Submitted', async () => {
    expect(await classify({ 'Auto-Submitted': 'auto-replied', Subject: 'Re: order' })).toMatchObject({ kind: 'auto-reply', automated: true });
    expect(await classify({ 'Auto-Submitted': 'auto-generated', Subject: 'Your invoice' })).toMatchObject({ kind: 'auto-generated', automated: true });
    expect(await classify({ 'Auto-Submitted': 'no', Subject: 'Hello' })).toMatchObject({ kind: 'human', automated: false });
  });

  it('reads X-Autoreply, X-Autorespond and Precedence: auto_reply', async () => {
    expect((await classify({ 'X-Autoreply': 'yes' })).kind).toBe('auto-reply');
    expect((await classify({ 'X-Autorespond': 'Out of office' })).kind).toBe('auto-reply');
    expect((await classify({ Precedence: 'auto_reply' })).kind).toBe('auto-reply');
  });

  it('recognizes out-of-office subjects in several languages', async () => {
    for (const subject of [
      'Automatic reply: your order',
      'Out of Office: Re: ticket',
      'Abwesenheitsnotiz: Ihre Anfrage',
      'Automatische Antwort: Rechnung',
      'Réponse automatique : commande',
      'Respuesta automática: pedido',
      'Risposta automatica: ordine',
      'Automatisch antwoord: factuur',
      'Autosvar: faktura',
      'Automatyczna odpowiedź: zamówienie',
      'Автоматический ответ: заказ',
      '自動応答: ご注文',
      '自动回复：订单',
      '=?utf-8?Q?R=C3=A9ponse_automatique?=',
    ]) {
      const c = await classify({ Subject: subject });
      expect(c.kind, subject).toBe('auto-reply');
    }
    expect((await classify({ Subject: 'Out of Office: back Monday', 'Auto-Submitted': 'auto-replied' })).autoReply.outOfOffice).toBe(true);
  });

  it('does not take ordinary subjects for auto-replies', async () => {
    for (const subject of ['Question about my reply', 'Absence of my order', 'Auto insurance quote', 'Automatic payments failing', 'Re: office hours']) {
      expect((await classify({ Subject: subject })).kind, subject).toBe('human');
    }
  });

  it('marks senders that asked for no automatic answer', async () => {
    expect((await classify({ 'X-Auto-Response-Suppress': 'All' })).autoReply.suppressAutoResponse).toBe(true);
    expect((await classify({ Precedence: 'bulk' })).autoReply.suppressAutoResponse).toBe(true);
    expect((await classify({ 'Return-Path': '<>' })).autoReply.suppressAutoResponse).toBe(true);
    expect((await classify({})).autoReply.suppressAutoResponse).toBe(false);
  });

  it('recognizes mailing lists and bulk mail', async () => {
    const c = await classify({ 'List-Id': 'Support Users <users.lists.example.org>', 'List-Unsubscribe': '<mailto:leave@lists.example.org>' });
    expect(c).toMatchObject({ kind: 'list', automated: true, list: { list: true, listId: 'users.lists.example.org', unsubscribe: 'mailto:leave@lists.example.org' } });
    expect((await classify({ Precedence: 'list' })).kind).toBe('list');
  });

  it('treats no-reply senders as automatic', async () => {
    const c = classifyMessage(await parsed(rawMessage({ From: 'Shop <no-reply@shop.example>', Subject: 'Your order shipped' })));
    expect(c).toMatchObject({ kind: 'auto-generated', automated: true });
  });
});

describe('bounces, delivery reports, receipts', () => {
  const dsn = (action: string, status: string) =>
    Buffer.from(
      [
        'From: Mail Delivery System <MAILER-DAEMON@mx.example.net>',
        'To: support@example.com',
        'Subject: Delivery Status Notification',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="rb"',
        '',
        '--rb',
        'Content-Type: text/plain',
        '',
        'Report',
        '--rb',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.example.net',
        'Original-Envelope-Id: outbox-77',
        '',
        'Final-Recipient: rfc822; first@example.org',
        `Action: ${action}`,
        `Status: ${status}`,
        'Diagnostic-Code: smtp; 452 4.2.2 Mailbox full,',
        '  try later',
        '',
        'Final-Recipient: rfc822;second@example.org',
        'Action: delivered',
        'Status: 2.0.0',
        '--rb',
        'Content-Type: text/rfc822-headers',
        '',
        'From: support@example.com',
        'Message-ID: <mr.5.0011223344556677.00112233445566778899aabbccddeeff@example.com>',
        'Subject: Your ticket',
        '--rb--',
        '',
      ].join('\r\n'),
    );

  it('tells a delay report from a bounce and reads every recipient with folded diagnostics', async () => {
    const delayed = classifyMessage(await parsed(dsn('delayed', '4.2.2')));
    expect(delayed.kind).toBe('delivery-report');
    expect(delayed.delivery).toMatchObject({
      originalEnvelopeId: 'outbox-77',
      originalMessageId: 'mr.5.0011223344556677.00112233445566778899aabbccddeeff@example.com',
      recipients: [
        { recipient: 'first@example.org', action: 'delayed', status: '4.2.2', permanent: false, diagnostic: '452 4.2.2 Mailbox full, try later' },
        { recipient: 'second@example.org', action: 'delivered', status: '2.0.0' },
      ],
    });
    expect(classifyMessage(await parsed(dsn('failed', '5.1.1'))).kind).toBe('bounce');
  });

  it('recognizes a non-standard bounce by X-Failed-Recipients or the daemon sender', async () => {
    const c = classifyMessage(await parsed(rawMessage({ From: 'Mail Delivery System <Mailer-Daemon@mx.example>', Subject: 'Mail delivery failed: returning message to sender', 'X-Failed-Recipients': 'gone@example.org', 'In-Reply-To': '<orig@example.com>' })));
    expect(c.kind).toBe('bounce');
    expect(c.delivery).toMatchObject({ source: 'heuristic', originalMessageId: 'orig@example.com', recipients: [{ recipient: 'gone@example.org', action: 'failed' }] });
  });

  it('recognizes read receipts (RFC 8098)', async () => {
    const raw = Buffer.from(
      'From: a@example.org\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary="d"\r\n\r\n--d\r\nContent-Type: text/plain\r\n\r\nRead\r\n--d\r\nContent-Type: message/disposition-notification\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\nOriginal-Message-ID: <m1@example.com>\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n--d--\r\n',
    );
    const c = classifyMessage(await parsed(raw));
    expect(c).toMatchObject({ kind: 'read-receipt', automated: true, disposition: { disposition: 'displayed', originalMessageId: 'm1@example.com', finalRecipient: 'a@example.org' } });
  });

  it('parses field groups tolerantly', () => {
    expect(parseFieldGroups('A: 1\r\n  continued\r\n\r\n\r\nB: 2\r\nnot a field\r\nB: 3')).toEqual([new Map([['a', ['1 continued']]]), new Map([['b', ['2', '3']]])]);
    expect(parseDeliveryStatus('garbage').recipients).toEqual([]);
  });
});
