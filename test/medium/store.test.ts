/** Repository and migration tests, run alike against embedded PGlite and the PostgreSQL server. */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/store/migrate.js';
import { MIGRATIONS } from '../../src/store/migrations/index.js';
import { PostgresDatabase } from '../../src/store/postgres-database.js';
import { Store } from '../../src/store/store.js';
import { createPgDatabase, DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../helpers/databases.js';

describe.each(DATABASE_KINDS)('store on %s', (kind) => {
  let t: TestDatabase;
  let store: Store;

  beforeAll(async () => {
    t = await openTestDatabase(kind);
    store = new Store(t.database);
  });
  afterAll(async () => t?.close());

  it('migrations are recorded and a second run applies nothing', async () => {
    const again = await migrate(t.database);
    expect(again.applied).toEqual([]);
    const rows = await sql<{ name: string }>`select name from mailroom_migrations order by name`.execute(t.database.db);
    expect(rows.rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
  });

  it('stores raw mail, bodies and attachment bytes with lz4 where the server offers it (migration 004)', async () => {
    const offered = await sql<{ lz4: boolean }>`select 'lz4' = any (enumvals) as lz4 from pg_settings where name = 'default_toast_compression'`.execute(t.database.db);
    const columns = await sql<{ name: string; compression: string }>`
      select c.relname || '.' || a.attname as name, a.attcompression::text as compression from pg_attribute a join pg_class c on c.oid = a.attrelid
       where (c.relname, a.attname) in (('messages', 'raw'), ('messages', 'text_body'), ('messages', 'html_body'), ('attachment_chunks', 'data')) order by 1`.execute(t.database.db);
    // Debian's PostgreSQL has lz4; the embedded database has not (its columns keep the default, pglz).
    const lz4 = offered.rows[0]?.lz4 === true;
    expect(columns.rows).toEqual(
      ['attachment_chunks.data', 'messages.html_body', 'messages.raw', 'messages.text_body'].map((name) => ({ name, compression: lz4 ? 'l' : '' })),
    );
  });

  it('stores raw mail and bodies uncompressed on the embedded database only, compressed on a server (migration 005)', async () => {
    const columns = await sql<{ name: string; storage: string }>`
      select c.relname || '.' || a.attname as name, a.attstorage::text as storage from pg_attribute a join pg_class c on c.oid = a.attrelid
       where (c.relname, a.attname) in (('messages', 'raw'), ('messages', 'text_body'), ('messages', 'html_body'), ('attachment_chunks', 'data')) order by 1`.execute(t.database.db);
    // 'e' external: out of line when large, never compressed; 'x' extended: compressed first (the default).
    const mail = kind === 'pglite' ? 'e' : 'x';
    expect(columns.rows).toEqual([
      { name: 'attachment_chunks.data', storage: 'x' },
      { name: 'messages.html_body', storage: mail },
      { name: 'messages.raw', storage: mail },
      { name: 'messages.text_body', storage: mail },
    ]);
    // A large message is still stored whole and read back byte for byte.
    const raw = Buffer.from('Subject: big\r\n\r\n' + 'The same line again and again, compressible.\r\n'.repeat(4000));
    const inserted = await sql<{ id: number }>`
      insert into messages (direction, raw, raw_sha256, size, to_addrs, cc_addrs) values ('inbound', ${raw}, 'x', ${raw.length}, '[]', '[]') returning id`.execute(t.database.db);
    const msgId = inserted.rows[0]!.id;
    const stored = await sql<{ raw: Buffer; size: number }>`select raw, pg_column_size(raw) as size from messages where id = ${msgId}`.execute(t.database.db);
    expect(Buffer.compare(Buffer.from(stored.rows[0]!.raw), raw)).toBe(0);
    // Uncompressed it takes its full size; compressed, a fraction of it.
    if (kind === 'pglite') expect(Number(stored.rows[0]!.size)).toBeGreaterThanOrEqual(raw.length);
    else expect(Number(stored.rows[0]!.size)).toBeLessThan(raw.length / 4);
    await sql`delete from messages where id = ${msgId}`.execute(t.database.db);
  });

  it('creates users with roles, skills and languages, found by login case-insensitively', async () => {
    const id = await store.transaction(async (r) => {
      const uid = await r.users.insert({ login: 'Alice', name: 'Alice M', email: 'a@example.com', passwordHash: 'h', passwordFp: null, capacity: 4, managedByConfig: true });
      await r.users.setRoles(uid, ['agent', 'supervisor']);
      await r.users.setSkills(uid, { billing: 7, tech: 2 });
      await r.users.setLanguages(uid, { en: 10 });
      return uid;
    });
    const u = await store.repos.users.findByLogin('alice');
    expect(u).toMatchObject({ id, login: 'Alice', capacity: 4, roles: ['agent', 'supervisor'], skills: { billing: 7, tech: 2 }, languages: { en: 10 }, state: 'offline' });
    expect(await store.repos.users.countWithRole('supervisor')).toBe(1);
  });

  it('refuses a second live user with the same login, and levels outside 1–10', async () => {
    await expect(store.repos.users.insert({ login: 'ALICE', name: 'x', email: null, passwordHash: null, passwordFp: null, capacity: 1, managedByConfig: false })).rejects.toThrow();
    const u = (await store.repos.users.findByLogin('alice'))!;
    await expect(store.repos.users.setSkills(u.id, { billing: 11 })).rejects.toThrow();
  });

  it('stores every agent state change in the history with its reason and actor', async () => {
    const u = (await store.repos.users.findByLogin('alice'))!;
    await store.transaction((r) => r.users.setState(u.id, 'available', null, 'alice'));
    await store.transaction((r) => r.users.setState(u.id, 'paused', 'lunch', 'alice'));
    expect(await store.transaction((r) => r.users.setState(u.id, 'paused', 'lunch', 'alice'))).toBeUndefined();
    const history = await store.repos.users.stateHistory(u.id);
    expect(history.map((h) => [h.state, h.reason, h.actor, h.ended_at === null])).toEqual([
      ['paused', 'lunch', 'alice', true],
      ['available', null, 'alice', false],
    ]);
    expect((await store.repos.users.findById(u.id))!.state_reason).toBe('lunch');
  });

  it('sessions expire and tokens are found by hash until revoked', async () => {
    const u = (await store.repos.users.findByLogin('alice'))!;
    await store.repos.auth.createSession({ idHash: 'live', userId: u.id, csrfToken: 'c', expiresAt: new Date(Date.now() + 60_000) });
    await store.repos.auth.createSession({ idHash: 'dead', userId: u.id, csrfToken: 'c', expiresAt: new Date(Date.now() - 1) });
    expect(await store.repos.auth.findSession('live')).toBeDefined();
    expect(await store.repos.auth.findSession('dead')).toBeUndefined();
    expect(await store.repos.auth.deleteExpiredSessions()).toBe(1);
    const t1 = await store.repos.auth.createToken({ userId: u.id, name: 'ci', tokenHash: 'hash1' });
    expect((await store.repos.auth.findToken('hash1'))?.id).toBe(t1.id);
    expect(await store.repos.auth.revokeToken(u.id, t1.id)).toBe(true);
    expect(await store.repos.auth.findToken('hash1')).toBeUndefined();
  });

  it('the background store is the same database; on the embedded one, waiting requests go before waiting background work', async () => {
    const bg = store.background;
    expect(bg.background).toBe(bg);
    await store.db.insertInto('pause_reasons').values({ code: 'bg-check', label: 'Background check', productive: false, max_minutes: null, position: 99 }).execute();
    expect(await bg.db.selectFrom('pause_reasons').select('label').where('code', '=', 'bg-check').executeTakeFirst()).toEqual({ label: 'Background check' });
    if (kind !== 'pglite') {
      // A server has connections enough: background work shares the pool.
      expect(bg.db).toBe(store.db);
      return;
    }
    const order: string[] = [];
    let letGo!: () => void;
    const held = new Promise<void>((r) => (letGo = r));
    let holding!: () => void;
    const holds = new Promise<void>((r) => (holding = r));
    // Filing holds the one connection; a commit then waits, then a supervisor's read.
    const filing = bg.transaction(async (r) => {
      holding();
      await held;
      await r.users.listAll();
      order.push('filing');
    });
    await holds;
    const commit = bg.transaction(async (r) => {
      await r.users.listAll();
      order.push('commit');
    });
    await new Promise((r) => setImmediate(r));
    const read = store.repos.users.listAll().then(() => order.push('read'));
    await new Promise((r) => setImmediate(r));
    letGo();
    await Promise.all([filing, commit, read]);
    expect(order).toEqual(['filing', 'read', 'commit']);
  });

  it('a failed transaction leaves nothing behind', async () => {
    await expect(
      store.transaction(async (r) => {
        await r.users.insert({ login: 'ghost', name: 'g', email: null, passwordHash: null, passwordFp: null, capacity: 1, managedByConfig: false });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.repos.users.findByLogin('ghost')).toBeUndefined();
  });

  it('commits a batch of raw mail once (duplicates by key or bytes skipped, ids in arrival order); reading it for a parse clears leftovers', async () => {
    const mailboxId = await store.transaction(async (r) => {
      const senderId = await r.config.insertSender({ name: 'batch-out', type: 'smtp', spec: {}, secretsEnc: null });
      const queueId = await r.config.insertQueue({ name: 'batch-q', senderId, spec: {} });
      return r.config.insertMailbox({ name: 'batch-in', protocol: 'imap', queueId, spec: {}, secretsEnc: null, enabled: false });
    });
    const mail = (n: number) => Buffer.from(`Subject: batch ${n}\r\n\r\nbody ${n}\r\n`);
    const position = (lastUid: number) => ({ uidvalidity: 7, lastUid, highestModseq: null, cursor: null });
    const first = await store.transaction((r) => r.inbound.commitBatch(mailboxId, { messages: [{ key: 'k1', raw: mail(1), internalDate: null }], position: position(1), reset: false }));
    expect(first).toEqual({ inserted: [{ id: expect.any(Number), key: 'k1' }], duplicates: [] });
    // 250 new messages (more than one INSERT statement) around four duplicates.
    const messages = [
      { key: 'k1', raw: mail(99), internalDate: null }, // key stored before
      { key: 'k2', raw: mail(1), internalDate: null }, // bytes stored before under k1
      ...Array.from({ length: 250 }, (_, i) => ({ key: `n${i}`, raw: mail(1000 + i), internalDate: i === 0 ? new Date('2026-01-02T03:04:05Z') : null })),
      { key: 'n0', raw: mail(5000), internalDate: null }, // key earlier in this batch
      { key: 'k3', raw: mail(1000), internalDate: null }, // bytes earlier in this batch
    ];
    const r = await store.transaction((x) => x.inbound.commitBatch(mailboxId, { messages, position: position(300), reset: false }));
    expect(r.duplicates).toEqual(['k1', 'k2', 'n0', 'k3']);
    expect(r.inserted.map((m) => m.key)).toEqual(Array.from({ length: 250 }, (_, i) => `n${i}`));
    const ids = r.inserted.map((m) => m.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const rows = await store.db.selectFrom('messages').select(['source_key', 'raw', 'received_at']).where('mailbox_id', '=', mailboxId).orderBy('id').execute();
    expect(rows).toHaveLength(251);
    expect(Buffer.from(rows[1]!.raw).equals(mail(1000))).toBe(true);
    expect(rows[1]!.received_at.toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(await store.repos.inbound.position(mailboxId)).toMatchObject({ uidvalidity: 7, lastUid: 300 });
    expect((await store.repos.inbound.known(mailboxId, ['k2', 'k3', 'n249', 'zz'])).size).toBe(3);

    // Every key committed waits for its acknowledgement, a duplicate's too (a crash before it
    // must not leave the server's copy unflagged); k1 first (the earlier commit), `limit` honoured.
    const unacked = await store.repos.inbound.unackedKeys(mailboxId);
    expect(unacked[0]).toBe('k1');
    expect(new Set(unacked)).toEqual(new Set(['k1', 'k2', 'k3', ...Array.from({ length: 250 }, (_, i) => `n${i}`)]));
    expect(await store.repos.inbound.unackedKeys(mailboxId, 2)).toEqual(unacked.slice(0, 2));
    await store.repos.inbound.markAcked(mailboxId, ['k1', 'k2', 'n0', 'unknown']);
    const left = await store.repos.inbound.unackedKeys(mailboxId);
    expect(left).toHaveLength(unacked.length - 3);
    expect(left).not.toContain('k1');
    expect(left).not.toContain('n0');
    await store.repos.inbound.markAcked(mailboxId, left);
    expect(await store.repos.inbound.unackedKeys(mailboxId)).toEqual([]);

    // Reading for a parse clears what an interrupted parse stored, only while the message is `received`.
    const [received, filed] = ids as [number, number];
    // Whole attachments of several messages in one statement: rows complete, bytes exact, in order.
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await store.repos.attachments.insertMany([
      { messageId: received, filename: 'a.txt', contentType: 'text/plain', contentId: null, inline: false, data: Buffer.from('abc'), size: 3, sha256: 'x' },
      { messageId: filed, filename: 'b.bin', contentType: 'application/octet-stream', contentId: 'img@x', inline: true, data: binary, size: 256, sha256: 'y' },
      { messageId: filed, filename: 'empty.txt', contentType: 'text/plain', contentId: null, inline: false, data: Buffer.alloc(0), size: 0, sha256: 'z' },
    ]);
    const stored = await store.db
      .selectFrom('attachments')
      .leftJoin('attachment_chunks', 'attachment_chunks.attachment_id', 'attachments.id')
      .select(['attachments.id', 'message_id', 'filename', 'content_id', 'inline', 'size', 'complete', 'data'])
      .where('message_id', 'in', [received, filed])
      .orderBy('attachments.id')
      .execute();
    expect(stored.map((a) => [a.message_id, a.filename, a.content_id, a.inline, a.size, a.complete])).toEqual([
      [received, 'a.txt', null, false, 3, true],
      [filed, 'b.bin', 'img@x', true, 256, true],
      [filed, 'empty.txt', null, false, 0, true],
    ]);
    expect(Buffer.from(stored[0]!.data!).toString()).toBe('abc');
    expect(Buffer.from(stored[1]!.data!).equals(binary)).toBe(true);
    expect(stored[2]!.data).toBeNull();
    await store.db.updateTable('messages').set({ ingest_state: 'done' }).where('id', '=', filed).execute();
    expect((await store.repos.inbound.forParsing(received))?.ingest_state).toBe('received');
    expect(await store.repos.attachments.count(received)).toBe(0);
    expect((await store.repos.inbound.forParsing(filed))?.ingest_state).toBe('done');
    expect(await store.repos.attachments.count(filed)).toBe(2);
  });

  it('creates a group of conversations in one statement, in the order given, ids increasing in that order', async () => {
    const queueId = await store.transaction(async (r) => {
      const senderId = await r.config.insertSender({ name: 'many-out', type: 'smtp', spec: {}, secretsEnc: null });
      return r.config.insertQueue({ name: 'many-q', senderId, spec: {} });
    });
    const received = new Date('2026-03-04T05:06:07Z');
    const rows = Array.from({ length: 40 }, (_, i) => ({
      queueId,
      mailboxId: null,
      subject: `Frage ${i} – Überweisung`,
      customerAddress: `c${i}@example.com`,
      customerName: i % 2 ? null : `Kundin ${i}`,
      language: i % 3 ? null : 'de',
      priority: i % 5,
      receivedAt: received,
      slaDueAt: new Date(received.getTime() + i * 60_000),
    }));
    const created = await store.transaction((r) => r.conversations.createMany(rows));
    expect(created.map((c) => [c.subject, c.customer_address, c.customer_name, c.language, c.priority, c.state])).toEqual(
      rows.map((c) => [c.subject, c.customerAddress, c.customerName, c.language, c.priority, 'queued']),
    );
    expect(created.map((c) => new Date(c.sla_due_at!).getTime())).toEqual(rows.map((c) => c.slaDueAt.getTime()));
    const ids = created.map((c) => c.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(rows.length);
    expect(Object.keys(created[0]!)).not.toContain('n');
    expect(await store.transaction((r) => r.conversations.createMany([]))).toEqual([]);
  });

  it('json and jsonb parameters round-trip, text or objects, beyond ASCII', async () => {
    const value = { name: 'Zoë 😀 日本', n: [1, 2.5, null], nested: { ok: true } };
    const r = await sql<{ a: unknown; b: unknown; c: unknown }>`select ${JSON.stringify(value)}::jsonb as a, ${JSON.stringify(value)}::json as b, jsonb_typeof(${JSON.stringify([value])}::jsonb) as c`.execute(store.db);
    expect(r.rows[0]).toEqual({ a: value, b: value, c: 'array' });
  });

  it('bytea round-trips byte for byte, a view into a larger buffer included', async () => {
    // Every byte value, at an offset inside a larger buffer (as Buffer slices of a socket read are).
    const bytes = new Uint8Array(300).map((_, i) => (i + 200) % 256).subarray(44);
    const u = (await store.repos.users.findByLogin('alice'))!;
    const sid = await store.repos.config.insertSender({ name: 's', type: 'smtp', spec: {}, secretsEnc: null });
    const qid = await store.repos.config.insertQueue({ name: 'q', senderId: sid, spec: {} });
    const conv = await store.db.insertInto('conversations').values({ queue_id: qid, customer_address: 'c@example.com' }).returning('id').executeTakeFirstOrThrow();
    const m = await store.db
      .insertInto('messages')
      .values({ conversation_id: conv.id, direction: 'inbound', to_addrs: '[]', cc_addrs: '[]', raw: bytes, raw_sha256: 'x', size: bytes.length, author_id: u.id })
      .returning('id')
      .executeTakeFirstOrThrow();
    const back = await store.db.selectFrom('messages').select('raw').where('id', '=', m.id).executeTakeFirstOrThrow();
    expect(Buffer.from(back.raw).equals(Buffer.from(bytes))).toBe(true);
  });
});

describe.each(DATABASE_KINDS)('migration 003 on %s', (kind) => {
  it('moves the acknowledgements of stored messages to their keys: only what was still to do stays to do', async () => {
    const t = await openTestDatabase(kind, { migrated: false });
    try {
      await migrate(t.database, { migrations: MIGRATIONS.slice(0, 2) });
      await sql.raw(`
        insert into senders (name, type, spec) values ('o', 'smtp', '{}');
        insert into queues (name, sender_id, spec) select 'q', id, '{}' from senders;
        insert into mailboxes (name, protocol, queue_id, spec, enabled) select 'm', 'imap', id, '{}', false from queues;
        insert into messages (mailbox_id, direction, source_key, raw, raw_sha256, size, ingest_state, source_acked_at)
          select id, 'inbound', k, 'x', k, 1, 'done', a from mailboxes, (values ('1:1', now()), ('1:2', null)) v(k, a);
        insert into mailbox_uidls (mailbox_id, uidl) select id, k from mailboxes, (values ('1:1'), ('1:2'), ('1:3')) v(k);
      `).execute(t.database.db);
      expect((await migrate(t.database)).applied).toEqual(MIGRATIONS.slice(2).map((m) => m.name));
      const store = new Store(t.database);
      const mailboxId = (await store.repos.config.listMailboxes())[0]!.id;
      // 1:2 was committed and never acknowledged; 1:1 was; 1:3 (a duplicate) was acknowledged with its batch.
      expect(await store.repos.inbound.unackedKeys(mailboxId)).toEqual(['1:2']);
    } finally {
      await t.close();
    }
  });
});

describe('migrations on a PostgreSQL server', () => {
  it('several nodes migrating at once apply each migration exactly once', async () => {
    const created = await createPgDatabase();
    const nodes = Array.from({ length: 4 }, () => new PostgresDatabase({ url: created.url }));
    try {
      const results = await Promise.all(nodes.map((n) => migrate(n)));
      expect(results.flatMap((r) => r.applied)).toEqual(MIGRATIONS.map((m) => m.name));
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
      await created.drop();
    }
  });
});
