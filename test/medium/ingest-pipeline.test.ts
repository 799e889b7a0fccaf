/**
 * The ingest pipeline's decisions through the real services: machine-made mail kept without
 * work, quarantine (list, release, delete), unparseable and too-large messages, bounces that
 * mark our reply failed, the detected language as a routing requirement, and retention.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParserPool } from '../../src/ingest/parser-pool.js';
import { MessageDisplay } from '../../src/services/message-display.js';
import { ApiClient } from '../helpers/api-client.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { rawHtmlMail } from '../helpers/html-mail.js';
import { eventually, rawMail } from '../helpers/mail.js';
import { ADMIN_PASSWORD, startRuntime, type TestRuntime } from '../helpers/runtime.js';
import { startSmtpSink, type SmtpSink } from '../peers/smtp-sink.js';

describe.each(DATABASE_KINDS)('ingest pipeline on %s', (kind) => {
  let rt: TestRuntime;
  let sink: SmtpSink;
  let admin: ApiClient;
  let mailboxId: number;
  let seq = 0;

  /** Commits raw bytes as the mailbox runner would, then lets the pipeline run. */
  const deliver = async (raw: Buffer): Promise<number> => {
    const key = `test:${++seq}`;
    const { store } = rt.runtime.core;
    const r = await store.transaction((x) => x.inbound.commitBatch(mailboxId, { messages: [{ key, raw, internalDate: null }], position: { uidvalidity: 1, lastUid: seq, highestModseq: null, cursor: null }, reset: false }));
    rt.runtime.mail.ingest.kick();
    const id = r.inserted[0]!.id;
    await eventually(async () => (await store.db.selectFrom('messages').select('ingest_state').where('id', '=', id).executeTakeFirst())?.ingest_state !== 'received', 15_000, `message ${id} processed`);
    return id;
  };
  /** Commits several messages in one batch (as a backlog arrives) and lets the pipeline run. */
  const commitBatch = async (raws: Buffer[]): Promise<number[]> => {
    const { store } = rt.runtime.core;
    const first = seq + 1;
    seq += raws.length;
    const r = await store.transaction((x) =>
      x.inbound.commitBatch(mailboxId, {
        messages: raws.map((raw, i) => ({ key: `test:${first + i}`, raw, internalDate: null })),
        position: { uidvalidity: 1, lastUid: first + raws.length - 1, highestModseq: null, cursor: null },
        reset: false,
      }),
    );
    rt.runtime.mail.ingest.kick(r.inserted.map((m, i) => ({ id: m.id, raw: raws[i]! })));
    return r.inserted.map((m) => m.id);
  };
  /** Ids of these messages still waiting for their parse and filing. */
  const unfiled = async (ids: number[]): Promise<number[]> =>
    (await rt.runtime.core.store.db.selectFrom('messages').select('id').where('id', 'in', ids).where('ingest_state', '=', 'received').orderBy('id').execute()).map((m) => m.id);
  /** Commits several messages in one batch, and waits until all are processed. */
  const deliverBatch = async (raws: Buffer[]): Promise<number[]> => {
    const ids = await commitBatch(raws);
    await eventually(async () => (await unfiled(ids)).length === 0, 30_000, 'batch filed');
    return ids;
  };
  const message = (id: number) => rt.runtime.core.store.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  beforeAll(async () => {
    sink = await startSmtpSink({ tls: 'none' });
    rt = await startRuntime(kind);
    admin = new ApiClient(rt.url);
    await admin.login('admin', ADMIN_PASSWORD);
    const r = await admin.request('PUT', '/api/v1/config', {
      senders: [{ name: 'out', type: 'smtp', host: '127.0.0.1', port: sink.port, security: 'none', from: 'Support <support@example.com>' }],
      queues: [{ name: 'support', sender: 'out', language: 'auto', max_message_mb: 1, retention_days: 30 }],
      mailboxes: [{ name: 'inbox', protocol: 'imap', host: '127.0.0.1', port: 1, security: 'none', auth: { user: 'support@example.com', password: 'x' }, queue: 'support', enabled: false }],
      users: [{ login: 'amelie', roles: ['agent'], password: 'amelie-password-1', languages: { fr: 9, en: 7 } }],
    });
    expect(r.status).toBe(200);
    mailboxId = (await admin.request('GET', '/api/v1/mailboxes')).body.items[0].id;
  });
  afterAll(async () => {
    await rt?.close();
    await sink?.stop();
  });

  it('an auto-reply is kept without work, listed in the quarantine, and routed when released', async () => {
    const id = await deliver(rawMail({ subject: 'Out of office', headers: { 'Auto-Submitted': 'auto-replied' }, body: 'I am away until Monday.' }));
    expect((await message(id)).conversation_id).toBeNull();
    const q = await admin.request('GET', '/api/v1/quarantine');
    const item = q.body.items.find((x: { id: number }) => x.id === id);
    expect(item).toMatchObject({ mailbox: 'inbox', subject: 'Out of office', reason: expect.stringMatching(/^auto-reply: kept, not routed/), raw: `/api/v1/messages/${id}/raw` });
    expect((await admin.request('GET', `/api/v1/messages/${id}/raw`)).text).toContain('Auto-Submitted: auto-replied');
    expect((await admin.request('POST', `/api/v1/quarantine/${id}/release`)).status).toBe(202);
    await eventually(async () => (await message(id)).conversation_id !== null, 15_000, 'released into a conversation');
    expect((await admin.request('GET', '/api/v1/quarantine')).body.items.some((x: { id: number }) => x.id === id)).toBe(false);
  });

  it('an unparseable message is quarantined with the reason; released, it opens from its raw headers with a note', async () => {
    let nested = 'Content-Type: text/plain\r\n\r\ninner\r\n';
    for (let i = 0; i < 40; i++) nested = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${nested}--b${i}--\r\n`;
    const raw = Buffer.from(`From: Deep Nester <deep@customer.example>\r\nSubject: Nested\r\nMessage-ID: <deep@customer.example>\r\nMIME-Version: 1.0\r\n${nested}`);
    const id = await deliver(raw);
    const m = await message(id);
    expect(m.ingest_state).toBe('quarantined');
    expect(m.quarantine_reason).toMatch(/^PARSE_TOO_DEEP/);
    expect(Buffer.from(m.raw).equals(raw)).toBe(true);
    await admin.request('POST', `/api/v1/quarantine/${id}/release`);
    await eventually(async () => (await message(id)).conversation_id !== null, 15_000, 'released');
    const conv = (await admin.request('GET', `/api/v1/conversations/${(await message(id)).conversation_id}`)).body;
    expect(conv).toMatchObject({ subject: 'Nested', customer: { address: 'deep@customer.example' } });
    expect(conv.messages[0].text).toMatch(/could not read this message \(PARSE_TOO_DEEP/);
  });

  it('a quarantined message can be deleted, and that is audited', async () => {
    const id = await deliver(rawMail({ subject: 'List mail', headers: { 'List-Id': '<news.example.com>', Precedence: 'list' } }));
    expect((await message(id)).ingest_state).toBe('quarantined');
    expect((await admin.request('DELETE', `/api/v1/quarantine/${id}`)).status).toBe(204);
    expect(await rt.runtime.core.store.db.selectFrom('messages').select('id').where('id', '=', id).executeTakeFirst()).toBeUndefined();
    expect((await admin.request('DELETE', `/api/v1/quarantine/${id}`)).status).toBe(404);
    const audit = await rt.runtime.core.store.repos.audit.list({ entityType: 'messages', entityKey: String(id) });
    expect(audit[0]).toMatchObject({ action: 'quarantine.delete', actor_login: 'admin' });
  });

  it('a message over the queue limit reaches an agent unopened, with a note', async () => {
    const big = rawMail({ subject: 'Photos of the damage', body: 'x'.repeat(1_500_000) });
    const id = await deliver(big);
    const m = await message(id);
    expect(m.conversation_id).not.toBeNull();
    expect(m.text_body).toMatch(/over this queue's limit \(max_message_mb\)/);
    expect(m.size).toBe(big.length);
  });

  it('HTML is sanitized when the message is first shown (cid: pointing at the stored part), kept, and served from the row after', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
    const id = await deliver(
      rawHtmlMail({
        subject: 'Broken lamp',
        html: '<p onclick="steal()">The lamp arrived <b>broken</b>.</p><script>alert(1)</script><img src="cid:photo@customer.example">',
        inline: [{ cid: 'photo@customer.example', contentType: 'image/png', content: png }],
      }),
    );
    // Filed without sanitizing: the HTML waits in the raw bytes.
    const filed = await message(id);
    expect(filed.conversation_id).not.toBeNull();
    expect(filed).toMatchObject({ ingest_state: 'done', display_pending: true, html_body: null });

    const shown = (await admin.request('GET', `/api/v1/conversations/${filed.conversation_id}`)).body.messages[0];
    const photo = shown.attachments.find((a: { contentId: string }) => a.contentId === 'photo@customer.example');
    expect(photo).toBeDefined();
    expect(shown.html).toContain('<b>broken</b>');
    expect(shown.html).not.toMatch(/script|onclick|steal/);
    expect(shown.html).toContain(`src="/api/v1/attachments/${photo.id}"`);
    // Kept: the row holds the sanitized copy, and the message route serves the same.
    expect(await message(id)).toMatchObject({ display_pending: false, html_body: shown.html });
    expect((await admin.request('GET', `/api/v1/messages/${id}`)).body.html).toBe(shown.html);
  });

  it('HTML that cannot be prepared for display is shown as its text, with a warning that says why', async () => {
    const id = await deliver(rawHtmlMail({ subject: 'Long newsletter reply', text: 'Please cancel my order.', html: `<p>${'<span>x</span>'.repeat(400)}</p>` }));
    const { store } = rt.runtime.core;
    const row = await store.repos.conversations.message(id);
    expect(row?.display_pending).toBe(true);
    // A pool whose display limit this HTML exceeds (the server's is 2,000,000 characters).
    const pool = new ParserPool({ limits: { maxDisplayHtmlChars: 1000 } });
    try {
      const [shown] = await new MessageDisplay({ store, pool }).ready([row!], []);
      expect(shown).toMatchObject({ id, html_body: null, display_pending: false, text_body: expect.stringContaining('Please cancel my order.') });
      expect((shown!.classification as { warnings: string[] }).warnings).toEqual(expect.arrayContaining([expect.stringMatching(/The HTML \(\d+ characters\) is longer than 1000 and is not shown/)]));
    } finally {
      await pool.close();
    }
    // Decided once: later readers get the text and the warning from the row.
    expect((await admin.request('GET', `/api/v1/messages/${id}`)).body).toMatchObject({ html: null, classification: { warnings: expect.arrayContaining([expect.stringMatching(/longer than 1000/)]) } });
  });

  it('French text with a French-speaking agent becomes a language requirement; otherwise none', async () => {
    const fr = await deliver(rawMail({ subject: 'Facture en double', body: "Bonjour, j'ai été débité deux fois pour ma dernière facture. Pouvez-vous me rembourser un des deux paiements, s'il vous plaît ? Merci beaucoup." }));
    const de = await deliver(rawMail({ subject: 'Doppelte Rechnung', body: 'Guten Tag, mir wurde die letzte Rechnung zweimal abgebucht. Können Sie bitte eine der beiden Zahlungen zurückerstatten? Vielen Dank.' }));
    const conv = async (id: number) => (await rt.runtime.core.store.repos.conversations.get((await message(id)).conversation_id!))!;
    expect((await conv(fr)).language).toBe('fr');
    expect((await conv(de)).language).toBeNull();
    // A reply to a message that is not ours opens a conversation: its language is detected at filing.
    const unknown = `elsewhere-${seq}@customer.example`;
    const reply = await deliver(rawMail({ inReplyTo: unknown, references: [unknown], subject: 'Re: Facture', body: "Bonjour, je réponds à votre courrier : la facture de mars m'a été débitée deux fois. Merci de vérifier." }));
    expect((await conv(reply)).language).toBe('fr');
  });

  it('a bounce of our reply marks it failed with the recipient and status, and creates no work', async () => {
    const first = await deliver(rawMail({ from: 'Gone Customer <gone@customer.example>', subject: 'Please call me' }));
    const convId = (await message(first)).conversation_id!;
    const replyId = await rt.runtime.mail.conversations.reply({ userId: null, login: 'admin', roles: ['admin'], via: 'local' }, convId, { text: 'We will call you tomorrow.' });
    await eventually(async () => (await message(replyId.messageId)).delivery_state === 'sent', 15_000, 'reply sent');
    const ours = (await message(replyId.messageId)).message_id!;
    const dsn = Buffer.from(
      [
        'From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>',
        'To: support@example.com',
        'Subject: Undelivered Mail Returned to Sender',
        'Auto-Submitted: auto-replied',
        `Message-ID: <dsn-${Date.now()}@mx.customer.example>`,
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="R"',
        '',
        '--R',
        'Content-Type: text/plain',
        '',
        'Your message could not be delivered.',
        '--R',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.customer.example',
        '',
        'Final-Recipient: rfc822; gone@customer.example',
        'Action: failed',
        'Status: 5.1.1',
        'Diagnostic-Code: smtp; 550 5.1.1 User unknown',
        '',
        '--R',
        'Content-Type: text/rfc822-headers',
        '',
        `Message-ID: <${ours}>`,
        'Subject: Re: Please call me',
        '--R--',
        '',
      ].join('\r\n'),
    );
    const bounce = await deliver(dsn);
    const reply = await message(replyId.messageId);
    expect(reply.delivery_state).toBe('failed');
    expect(reply.delivery_error).toMatch(/^BOUNCED: gone@customer\.example: 5\.1\.1/);
    const b = await message(bounce);
    expect(b.conversation_id).toBeNull();
    expect(b.quarantine_reason).toMatch(/^bounce/);
  });

  it('a backlog files in arrival order: a reply parsed before its (larger) original still joins its conversation', async () => {
    const { store } = rt.runtime.core;
    // Originals are slow to parse (a large body), replies fast: parsed in parallel, the reply is
    // ready first, but it must be filed after the original it answers.
    const pairs = Array.from({ length: 6 }, (_, i) => {
      const id = `order-${i}-${seq}@customer.example`;
      return [
        rawMail({ messageId: id, subject: `Order question ${i}`, body: `Where is my order ${i}? `.repeat(40_000) }),
        rawMail({ inReplyTo: id, references: [id], subject: `Re: Order question ${i}`, body: `Any news on order ${i}?` }),
      ];
    }).flat();
    const ids = await deliverBatch(pairs);
    const rows = await store.db.selectFrom('messages').select(['id', 'conversation_id']).where('id', 'in', ids).orderBy('id').execute();
    for (let i = 0; i < rows.length; i += 2) {
      expect(rows[i]!.conversation_id).not.toBeNull();
      expect(rows[i + 1]!.conversation_id).toBe(rows[i]!.conversation_id);
    }
    expect(new Set(rows.map((x) => x.conversation_id)).size).toBe(6);
  });

  it('the first message of a backlog is filed once it is parsed, without waiting for the parses of those after it', async () => {
    // Every parse after the first waits at a gate: the first message must reach its queue while
    // the group after it is still being parsed (a group used to wait for its 64 parses).
    const pool = rt.runtime.mail.pool;
    const parse = pool.parse;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let calls = 0;
    pool.parse = async (...args: Parameters<typeof parse>) => {
      if (calls++ > 0) await gate;
      return parse.apply(pool, args);
    };
    try {
      const ids = await commitBatch(Array.from({ length: 8 }, (_, i) => rawMail({ subject: `Backlog ${i} ${seq}`, body: `Message ${i} of a backlog.` })));
      await eventually(async () => !(await unfiled(ids)).includes(ids[0]!), 15_000, 'the first message filed');
      expect(await unfiled(ids)).toEqual(ids.slice(1));
      open();
      await eventually(async () => (await unfiled(ids)).length === 0, 30_000, 'the backlog filed');
      const rows = await rt.runtime.core.store.db.selectFrom('messages').select('conversation_id').where('id', 'in', ids).execute();
      expect(new Set(rows.map((m) => m.conversation_id)).size).toBe(8);
    } finally {
      pool.parse = parse;
      open();
    }
  });

  it('a batch is filed as each message would be alone: new, in-batch replies, a forged reference, kept machine mail, no sender, language', async () => {
    const { store } = rt.runtime.core;
    const a = `batch-a-${seq}@customer.example`;
    const raws = [
      rawMail({ messageId: a, subject: 'Invoice twice' }),
      rawMail({ inReplyTo: a, references: [a], subject: 'Re: Invoice twice', body: 'Any news?' }),
      rawMail({ from: 'Mallory <mallory@elsewhere.example>', inReplyTo: a, references: [a], subject: 'Re: Invoice twice', body: 'Let me in.' }),
      rawMail({ subject: 'Out of office', headers: { 'Auto-Submitted': 'auto-replied' }, body: 'Back on Monday.' }),
      Buffer.from('To: support@example.com\r\nSubject: Nobody\r\nMessage-ID: <nobody-' + seq + '@x.example>\r\n\r\nWho sent this?\r\n'),
      rawMail({ from: 'Aline <aline@customer.example>', subject: 'Colis perdu', body: "Bonjour, mon colis n'est jamais arrivé et le suivi ne bouge plus depuis dix jours. Pouvez-vous m'aider, s'il vous plaît ?" }),
      // A reply to a message that is not ours: a new conversation, its language detected at filing.
      rawMail({ from: 'Aline <aline@customer.example>', inReplyTo: `lost-${seq}@customer.example`, subject: 'Re: Colis', body: "Bonjour, je vous réécris car je n'ai toujours pas reçu mon colis ni de réponse. Merci d'avance." }),
      // Text PostgreSQL refuses: a NUL in the body (quoted-printable) and a UTF-16 file name with a lone surrogate.
      Buffer.from(
        'From: Odd <odd@customer.example>\r\nSubject: Odd bytes\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n' +
          '--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nBefore=00after\r\n' +
          "--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-16le''%41%00%00%D8%42%00\r\n\r\nabc\r\n--B--\r\n",
      ),
    ];
    const ids = await deliverBatch(raws);
    const rows = await Promise.all(ids.map((id) => message(id)));
    const [orig, reply, forged, auto, nobody, french, frenchReply, odd] = rows as [(typeof rows)[number], ...(typeof rows)[number][]];
    expect(orig.conversation_id).not.toBeNull();
    expect(reply!.conversation_id).toBe(orig.conversation_id);
    expect(forged!.conversation_id).not.toBeNull();
    expect(forged!.conversation_id).not.toBe(orig.conversation_id);
    // The refused candidate names the real conversation, never a placeholder.
    expect((forged!.classification as { thread: { rejected: { conversationId: string; reason: string }[] } }).thread.rejected).toEqual([
      expect.objectContaining({ conversationId: String(orig.conversation_id), reason: 'sender-mismatch' }),
    ]);
    expect(auto).toMatchObject({ conversation_id: null, ingest_state: 'quarantined', quarantine_reason: expect.stringMatching(/^auto-reply: kept, not routed/) });
    expect(nobody).toMatchObject({ conversation_id: null, quarantine_reason: expect.stringMatching(/^NO_SENDER/) });
    const conv = async (id: number) => (await store.repos.conversations.get(id))!;
    expect(await conv(orig.conversation_id!)).toMatchObject({ subject: 'Invoice twice', customer_address: 'carla@customer.example', customer_name: 'Carla Customer', state: 'queued', priority: 5 });
    expect((await conv(orig.conversation_id!)).sla_due_at).toBeInstanceOf(Date);
    expect(await conv(french!.conversation_id!)).toMatchObject({ language: 'fr', customer_address: 'aline@customer.example' });
    expect(frenchReply!.conversation_id).not.toBe(french!.conversation_id);
    expect(await conv(frenchReply!.conversation_id!)).toMatchObject({ language: 'fr', subject: 'Re: Colis' });
    expect(orig).toMatchObject({ ingest_state: 'done', subject: 'Invoice twice', from_address: 'carla@customer.example', refs: [], message_id: a });
    expect(reply).toMatchObject({ in_reply_to: a, refs: [a] });
    for (const c of [orig, forged!, french!]) {
      expect((await store.repos.conversations.events(c.conversation_id!)).map((e) => e.type)).toEqual(expect.arrayContaining(['created']));
    }
    expect((await store.repos.conversations.events(orig.conversation_id!)).map((e) => e.type)).toEqual(['created', 'customer-replied']);
    expect(odd).toMatchObject({ ingest_state: 'done', text_body: expect.stringContaining('Before\uFFFDafter') });
    expect(odd!.conversation_id).not.toBeNull();
    const [file] = await store.repos.conversations.attachmentsOf([odd!.id]);
    expect(file).toMatchObject({ filename: 'A\uFFFDB', size: 3 });
    // Filed as a group (its multi-row statements), not one by one after the group failed.
    expect(rt.logs.join('')).not.toContain('filing a group of messages failed');
  });

  it('retention purges handled conversations past the limit, keeps newer ones and the imported keys', async () => {
    const { store } = rt.runtime.core;
    const oldMsg = await deliver(rawMail({ subject: 'Old and handled' }));
    const newMsg = await deliver(rawMail({ subject: 'Recent and handled' }));
    const oldConv = (await message(oldMsg)).conversation_id!;
    const newConv = (await message(newMsg)).conversation_id!;
    await store.db.updateTable('conversations').set({ state: 'handled', handled_at: new Date(Date.now() - 40 * 86_400_000) }).where('id', '=', oldConv).execute();
    await store.db.updateTable('conversations').set({ state: 'handled', handled_at: new Date(Date.now() - 5 * 86_400_000) }).where('id', '=', newConv).execute();
    const dry = await admin.request('POST', '/api/v1/retention/run?dryRun=true');
    expect(dry.body.queues[0]).toMatchObject({ name: 'support', retentionDays: 30, purged: 1 });
    expect(await store.repos.conversations.get(oldConv)).toBeDefined();
    const run = await admin.request('POST', '/api/v1/retention/run');
    expect(run.body.queues[0].purged).toBe(1);
    expect(await store.repos.conversations.get(oldConv)).toBeUndefined();
    expect(await store.db.selectFrom('messages').select('id').where('id', '=', oldMsg).executeTakeFirst()).toBeUndefined();
    expect(await store.repos.conversations.get(newConv)).toBeDefined();
    const known = await store.repos.inbound.known(mailboxId, [`test:${seq - 1}`]);
    expect(known.size).toBe(1);
  });
});
