/**
 * Where the embedded database's time goes on a backlog, statement by statement: the statements
 * Mailroom's repositories run to store a backlog's raw mail (`inbound.commitBatch`, the
 * connector's transaction) and to file it (`conversations.createMany` + `fileInboundMany`,
 * filing's transaction), timed at PGlite's `query` on the thread that runs them, per message.
 *
 * The embedded database runs on the same thread as the connector and filing, so its time is the
 * serial part of ingest-throughput. The first messages after opening (cold) are shown apart from
 * the rest (warm): a database just opened is slower (its WebAssembly compiles each function on
 * first call, optimized since PGliteDatabase sets --no-liftoff; caches and tables still grow).
 *
 * - The messages: the shared corpus cycled, each copy unique (as in ingest-throughput), parsed
 *   beforehand with mailparser (not timed); stored in batches of 250 (the IMAP connector's
 *   largest) and filed in groups of 64 (filing's largest), each message its own conversation.
 * - Not measured here: parsing, threading, routing, JS outside the database.
 *
 * `node --import tsx --expose-gc bench/run.ts backlog-statements [--quick]`
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { sql } from 'kysely';
import { simpleParser } from 'mailparser';
import { migrate } from '../../src/store/migrate.js';
import { PGliteDatabase } from '../../src/store/pglite-database.js';
import { storable } from '../../src/store/storable.js';
import { Store } from '../../src/store/store.js';
import { corpusFiles, hasCorpus } from '../../test/helpers/corpus.js';
import { rawMail } from '../../test/helpers/mail.js';
import { round, type Bench } from '../lib/report.js';

const STORE_BATCH = 250;
const FILE_GROUP = 64;

/** What each statement is, by how it starts; the bench's own lookups are left out of the sums. */
const KINDS: [RegExp, string][] = [
  [/^select "uidl" from "mailbox_uidls"/, 'store: keys already imported (select)'],
  [/^select "raw_sha256" from "messages"/, 'store: same bytes already stored (select)'],
  [/^insert into "messages"/, 'store: raw mail (insert messages)'],
  [/^insert into "mailbox_uidls"/, 'store: source keys (insert mailbox_uidls)'],
  [/^insert into "mailbox_sync"/, 'store: position (upsert mailbox_sync)'],
  [/^update "mailboxes"/, 'store: mailbox counters (update mailboxes)'],
  [/^with v as materialized/, 'file: conversations (insert conversations)'],
  [/^update messages as m/, 'file: parsed fields (update messages)'],
  [/^(begin|commit)$/i, 'both: begin and commit'],
];
const OWN = '(the bench itself)';

interface Parsed {
  subject: string;
  text: string | null;
  html: string | null;
  messageId: string | null;
}

/** PGlite's `query`, timed per kind of statement into `into` (a map the caller swaps per phase). */
function timeStatements(pg: PGlite, phase: () => Map<string, number>): void {
  const query = pg.query.bind(pg);
  (pg as { query: unknown }).query = async (text: string, params?: unknown[]) => {
    const t = performance.now();
    try {
      return await query(text, params);
    } finally {
      const trimmed = text.replace(/\s+/g, ' ').trim();
      const kind = KINDS.find(([re]) => re.test(trimmed))?.[1] ?? OWN;
      const into = phase();
      into.set(kind, (into.get(kind) ?? 0) + performance.now() - t);
    }
  };
}

const bench: Bench = {
  name: 'backlog-statements',
  async run({ quick, log }) {
    const count = quick ? 2000 : 10_000;
    const coldCount = 2000;
    const base = hasCorpus
      ? corpusFiles().map((f) => readFileSync(f))
      : Array.from({ length: 50 }, (_, i) => rawMail({ subject: `Synthetic ${i}`, body: 'Hello, a question about my invoice.\r\n'.repeat(1 + (i % 40)) }));
    const raws = Array.from({ length: count }, (_, i) => Buffer.concat([Buffer.from(`X-Bench-Copy: ${i}-${randomBytes(4).toString('hex')}\r\n`), base[i % base.length]!]));
    const parsed: Parsed[] = [];
    for (const raw of raws) {
      const p = await simpleParser(raw).catch(() => null);
      parsed.push(storable({ subject: p?.subject ?? '', text: p?.text ?? null, html: typeof p?.html === 'string' ? p.html : null, messageId: p?.messageId ?? null }));
    }
    log(`${count} messages parsed (untimed)`);

    const dir = await mkdtemp(path.join(os.tmpdir(), 'mailroom-bench-statements-'));
    const cold = new Map<string, number>();
    const warm = new Map<string, number>();
    let current = cold;
    let coldStored = 0;
    try {
      const database = await PGliteDatabase.open(path.join(dir, 'pgdata'));
      try {
        await migrate(database);
        const store = new Store(database);
        await sql`insert into senders (name, type, spec) values ('bench', 'smtp', '{}')`.execute(store.db);
        await sql`insert into queues (name, sender_id, spec) select 'bench', id, '{}' from senders`.execute(store.db);
        await sql`insert into mailboxes (name, protocol, queue_id, spec) select 'bench', 'imap', id, '{}' from queues`.execute(store.db);
        const mailboxId = Number((await sql<{ id: number }>`select id from mailboxes`.execute(store.db)).rows[0]!.id);
        const queueId = Number((await sql<{ id: number }>`select id from queues`.execute(store.db)).rows[0]!.id);
        timeStatements((database as unknown as { pg: PGlite }).pg, () => current);

        for (let i = 0; i < count; i += STORE_BATCH) {
          if (i >= coldCount && current === cold) {
            current = warm;
            coldStored = i;
          }
          const batch = raws.slice(i, i + STORE_BATCH);
          await store.transaction((r) =>
            r.inbound.commitBatch(mailboxId, {
              messages: batch.map((raw, k) => ({ key: `1:${i + k + 1}`, raw, internalDate: null })),
              reset: false,
              position: { uidvalidity: 1, lastUid: i + batch.length, highestModseq: null, cursor: null },
            }),
          );
          const ids = (await sql<{ id: number }>`select id from messages where ingest_state = 'received' order by id`.execute(store.db)).rows.map((r) => Number(r.id));
          for (let g = 0; g < ids.length; g += FILE_GROUP) {
            const group = ids.slice(g, g + FILE_GROUP).map((id, k) => ({ id, p: parsed[i + g + k]! }));
            await store.transaction(async (r) => {
              const now = new Date();
              const conversations = await r.conversations.createMany(
                group.map(({ p }) => ({ queueId, mailboxId, subject: p.subject, customerAddress: 'customer@example.com', customerName: 'Customer', language: 'en', priority: 0, receivedAt: now, slaDueAt: now })),
              );
              await r.conversations.fileInboundMany(
                group.map(({ id, p }, k) => ({
                  messageId: id,
                  conversationId: Number(conversations[k]!.id),
                  messageIdHeader: p.messageId,
                  inReplyTo: null,
                  references: [],
                  fromAddress: 'customer@example.com',
                  fromName: 'Customer',
                  to: [],
                  cc: [],
                  subject: p.subject,
                  sentDate: null,
                  text: p.text,
                  html: p.html,
                  classification: null,
                  quarantineReason: null,
                })),
              );
            });
          }
          if ((i / STORE_BATCH) % 8 === 0) log(`${i + batch.length} / ${count} stored and filed`);
        }
        if (current === cold) coldStored = count;
      } finally {
        await database.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    const warmCount = count - coldStored;
    const perMsg = (m: Map<string, number>, n: number, kind: string) => (n > 0 ? (m.get(kind) ?? 0) / n : NaN);
    const sum = (m: Map<string, number>, n: number, prefix: string) =>
      n > 0 ? [...m].filter(([k]) => k !== OWN && k.startsWith(prefix)).reduce((s, [, v]) => s + v, 0) / n : NaN;
    const kinds = KINDS.map(([, k]) => k);
    const fmt = (v: number) => (Number.isNaN(v) ? '—' : String(round(v, 3)));
    return {
      name: 'backlog-statements',
      description: `The embedded database's time per message for each statement Mailroom's repositories run to store (batches of ${STORE_BATCH}) and file (groups of ${FILE_GROUP}) a ${count.toLocaleString('en')}-message backlog (${hasCorpus ? 'the shared corpus cycled' : 'synthetic messages'}, each copy unique), timed at PGlite's query on the thread that runs them; the first ${coldStored.toLocaleString('en')} messages after opening (cold) apart from the rest (warm).`,
      figures: {
        messages: count,
        cold_messages: coldStored,
        cold_store_ms_per_msg: round(sum(cold, coldStored, 'store'), 3),
        cold_file_ms_per_msg: round(sum(cold, coldStored, 'file'), 3),
        cold_total_ms_per_msg: round(sum(cold, coldStored, ''), 3),
        warm_store_ms_per_msg: warmCount > 0 ? round(sum(warm, warmCount, 'store'), 3) : null,
        warm_file_ms_per_msg: warmCount > 0 ? round(sum(warm, warmCount, 'file'), 3) : null,
        warm_total_ms_per_msg: warmCount > 0 ? round(sum(warm, warmCount, ''), 3) : null,
        cold_vs_warm_total: warmCount > 0 ? round(sum(cold, coldStored, '') / sum(warm, warmCount, ''), 2) : null,
      },
      table: [
        '| statement | cold ms/message | warm ms/message |',
        '|---|---|---|',
        ...kinds.map((k) => `| ${k} | ${fmt(perMsg(cold, coldStored, k))} | ${fmt(perMsg(warm, warmCount, k))} |`),
        `| **all of the above** | ${fmt(sum(cold, coldStored, ''))} | ${fmt(sum(warm, warmCount, ''))} |`,
      ].join('\n'),
      notes: [
        'Wall time of each statement on the database thread (the main thread of Mailroom on the embedded database), measured alone: no connector, parser workers or routing beside it, so no waiting for a core.',
        'Cold = a database just opened and migrated (its WebAssembly compiled optimized on first call of each function, see PGliteDatabase); compare ingest-throughput (cold) with ingest-throughput-warm.',
      ],
    };
  },
};

export default bench;
