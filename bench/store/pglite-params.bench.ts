/**
 * How the embedded database's parameters are encoded (src/store/pglite-database.ts): storing raw
 * mail (bytea) and a filing group's JSON (jsonb) through PGlite with Mailroom's serializers
 * (bytes and JSON in the binary format), against PGlite's own serializers and the hex-text bytea
 * serializer Mailroom used before, in the same process, on the same rows.
 *
 * `node --import tsx --expose-gc bench/run.ts pglite-params [--quick]`
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite, types } from '@electric-sql/pglite';
import { parseBytea, serializeBytea, serializeUtf8 } from '../../src/store/pglite-database.js';
import { rawMail } from '../../test/helpers/mail.js';
import { corpusFiles, hasCorpus } from '../../test/helpers/corpus.js';
import { round, type Bench } from '../lib/report.js';

type Serializers = Record<number, (v: unknown) => string>;

const VARIANTS: { name: string; serializers: Serializers }[] = [
  { name: "PGlite's own serializers", serializers: {} },
  {
    name: 'hex-text bytea (Mailroom before)',
    serializers: { [types.BYTEA]: (v: unknown) => `\\x${Buffer.from(v as Uint8Array).toString('hex')}` },
  },
  {
    name: 'Mailroom: bytea and JSON in binary',
    serializers: { [types.BYTEA]: serializeBytea, [types.JSONB]: serializeUtf8(1), [types.JSON]: serializeUtf8(null) } as unknown as Serializers,
  },
];

const ROWS = 100;

async function measure(serializers: Serializers, raws: Buffer[], json: string, statements: number): Promise<{ rawMs: number; jsonMs: number }> {
  // On disk, as Mailroom runs (PGlite's in-memory file system is slower per byte written).
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailroom-bench-pglite-'));
  const pg = new PGlite(dir, { parsers: { [types.BYTEA]: parseBytea }, serializers });
  try {
    await pg.exec('create table t (id serial primary key, raw bytea not null, size int not null)');
    const values = Array.from({ length: ROWS }, (_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ');
    const insert = `insert into t (raw, size) values ${values}`;
    const select = 'select count(*) from jsonb_to_recordset($1::jsonb) as x(n int, text text)';
    const run = async (n: number) => {
      let rawMs = 0;
      let jsonMs = 0;
      for (let s = 0; s < n; s++) {
        const batch = Array.from({ length: ROWS }, (_, i) => raws[(s * ROWS + i) % raws.length]!);
        let t = performance.now();
        await pg.query(insert, batch.flatMap((r) => [r, r.length]));
        rawMs += performance.now() - t;
        t = performance.now();
        await pg.query(select, [json]);
        jsonMs += performance.now() - t;
      }
      return { rawMs, jsonMs };
    };
    await run(15); // warm up (a new instance: its WebAssembly tiers up first)
    return await run(statements);
  } finally {
    await pg.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const bench: Bench = {
  name: 'pglite-params',
  async run({ quick, log }) {
    const raws = hasCorpus ? corpusFiles().map((f) => readFileSync(f)) : Array.from({ length: 50 }, (_, i) => rawMail({ subject: `Synthetic ${i}`, body: 'A question about my invoice.\r\n'.repeat(1 + (i % 80)) }));
    const avgRaw = raws.reduce((a, r) => a + r.length, 0) / raws.length;
    // A filing group: 32 messages' text in one JSON parameter.
    const json = JSON.stringify(Array.from({ length: 32 }, (_, i) => ({ n: i, text: `Bonjour, je vous écris au sujet de ma facture n° ${i}. `.repeat(40) })));
    const statements = quick ? 10 : 40;
    const results: { name: string; rawMsPerMsg: number; jsonMsPerStatement: number }[] = [];
    // Twice each, interleaved, so a change in the machine's load hits every variant.
    for (let round2 = 0; round2 < 2; round2++) {
      for (const v of VARIANTS) {
        const r = await measure(v.serializers, raws, json, statements);
        const prev = results.find((x) => x.name === v.name);
        const rawMsPerMsg = r.rawMs / (statements * ROWS);
        const jsonMsPerStatement = r.jsonMs / statements;
        if (prev) {
          prev.rawMsPerMsg = Math.min(prev.rawMsPerMsg, rawMsPerMsg);
          prev.jsonMsPerStatement = Math.min(prev.jsonMsPerStatement, jsonMsPerStatement);
        } else results.push({ name: v.name, rawMsPerMsg, jsonMsPerStatement });
        log(`${v.name}: ${round(rawMsPerMsg, 3)} ms a message stored, ${round(jsonMsPerStatement, 2)} ms a JSON statement`);
      }
    }
    const [own, hex, ours] = results as [(typeof results)[0], (typeof results)[0], (typeof results)[0]];
    return {
      name: 'pglite-params',
      description:
        `Embedded PGlite (a data folder on disk, as Mailroom runs it): ${ROWS}-row inserts of raw mail (bytea, ${hasCorpus ? 'the shared corpus' : 'synthetic messages'}, ${Math.round(avgRaw)} bytes on average) and a jsonb_to_recordset of a ` +
        `${Math.round(json.length / 1024)} KB JSON parameter (a filing group's size), ${statements} statements each, with three parameter serializers in the same process (best of two interleaved runs).`,
      figures: {
        raw_ms_per_msg_pglite_own: round(own.rawMsPerMsg, 3),
        raw_ms_per_msg_hex_before: round(hex.rawMsPerMsg, 3),
        raw_ms_per_msg_mailroom: round(ours.rawMsPerMsg, 3),
        raw_ratio_vs_hex_before: round(ours.rawMsPerMsg / hex.rawMsPerMsg, 2),
        json_ms_per_statement_pglite_own: round(own.jsonMsPerStatement, 2),
        json_ms_per_statement_mailroom: round(ours.jsonMsPerStatement, 2),
        json_ratio_vs_pglite_own: round(ours.jsonMsPerStatement / own.jsonMsPerStatement, 2),
      },
      table: ['| serializers | ms per message stored (raw) | ms per JSON statement |', '|---|---|---|', ...results.map((r) => `| ${r.name} | ${round(r.rawMsPerMsg, 3)} | ${round(r.jsonMsPerStatement, 2)} |`)].join('\n'),
      notes: ['Wall time of the statements, this process only; lower is better. The ratios compare Mailroom\'s serializers with the ones they replaced.'],
    };
  },
};

export default bench;
