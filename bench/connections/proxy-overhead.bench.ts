/**
 * Proxy overhead (issue 5, "Performance"): FETCH throughput of a few thousand messages through
 * Dante (SOCKS5, no authentication and username authentication) as a ratio to a direct
 * connection, in the same run, alternating the routes round by round so that a change in the
 * machine's load hits all of them alike. Reads go through ImapSource (our socket, SOCKS5 client
 * and batching), from the empty position, nothing acknowledged, so every round reads the same.
 *
 * `node --import tsx --expose-gc bench/run.ts proxy-overhead [--quick]`
 */
import { randomBytes } from 'node:crypto';
import { mailboxSchema } from '../../src/config/schema.js';
import { ImapSource } from '../../src/connectors/imap/imap-source.js';
import { EMPTY_POSITION } from '../../src/connectors/mail-source.js';
import { DANTE_TEST_PASSWORD, DANTE_TEST_USER, startDante } from '../../test/peers/dante.js';
import { startDovecot } from '../../test/peers/dovecot.js';
import { percentile, round, type Bench, type BenchReport } from '../lib/report.js';
import { loadAverage } from './bench-helpers.js';

/** A message of about `size` bytes with a unique Message-ID. */
function message(i: number, size: number): Buffer {
  const head = `From: Carla <carla@customer.example>\r\nTo: support@example.com\r\nSubject: Message ${i}\r\nMessage-ID: <bench-${i}-${randomBytes(4).toString('hex')}@customer.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
  const line = 'The quick brown fox jumps over the lazy dog, again and again. 0123456789\r\n';
  return Buffer.from(head + line.repeat(Math.max(1, Math.ceil((size - head.length) / line.length))));
}

const bench: Bench = {
  name: 'proxy-overhead',
  async run({ quick, log }): Promise<BenchReport> {
    const count = quick ? 1000 : 4000;
    const rounds = quick ? 3 : 7;
    const loadBefore = loadAverage();
    const [dovecot, open, withAuth] = await Promise.all([
      startDovecot({ users: [{ user: 'bulk', password: 'bulk-pw' }] }),
      startDante({ auth: 'none' }),
      startDante({ auth: { user: DANTE_TEST_USER, password: DANTE_TEST_PASSWORD } }),
    ]);
    try {
      const sizes = Array.from({ length: count }, (_, i) => 2000 + ((i * 7919) % 30_000));
      const total = sizes.reduce((a, b) => a + b, 0);
      for (let i = 0; i < count; i += 500) await dovecot.deliver('bulk', 'INBOX', sizes.slice(i, i + 500).map((s, k) => message(i + k, s)));
      log(`${count} messages, ${round(total / 1e6, 1)} MB in the mailbox`);
      const routes = { direct: 'none', dante: open.url, 'dante-auth': withAuth.url } as const;
      const spec = (proxy: string) =>
        mailboxSchema.parse({ name: 'bulk', protocol: 'imap', host: '127.0.0.1', port: dovecot.imapPort, security: 'none', auth: { user: 'bulk', password: 'bulk-pw' }, after_import: 'none', proxy, queue: 'q' });
      const readAll = async (proxy: string): Promise<{ ms: number; bytes: number; messages: number }> => {
        const source = new ImapSource({ spec: spec(proxy) });
        let bytes = 0;
        let messages = 0;
        const t0 = performance.now();
        await source.connect({ onChange: () => undefined, onClose: () => undefined });
        await source.read(EMPTY_POSITION, async (batch) => {
          for (const m of batch.messages) bytes += m.raw.length;
          messages += batch.messages.length;
        });
        const ms = performance.now() - t0;
        await source.close();
        return { ms, bytes, messages };
      };
      // One warm-up read (Dovecot's index and page cache), then the measured rounds.
      await readAll('none');
      const results: Record<keyof typeof routes, number[]> = { direct: [], dante: [], 'dante-auth': [] };
      let bytesRead = 0;
      for (let r = 0; r < rounds; r++) {
        // Rotate the order each round.
        const order = (Object.keys(routes) as (keyof typeof routes)[]).map((_, i, all) => all[(i + r) % all.length]!);
        for (const route of order) {
          const got = await readAll(routes[route]);
          if (got.messages !== count) throw new Error(`${route}: read ${got.messages} of ${count} messages`);
          results[route].push(got.ms);
          bytesRead = got.bytes;
          log(`round ${r + 1} ${route}: ${round(got.ms, 0)} ms, ${round(got.bytes / 1e6 / (got.ms / 1000), 1)} MB/s`);
        }
      }
      const med = (v: number[]) => percentile(v, 50);
      const rate = (route: keyof typeof routes) => bytesRead / 1e6 / (med(results[route]) / 1000);
      const ratio = (route: keyof typeof routes) => rate(route) / rate('direct');
      const table = [
        '| route | median ms | median MB/s | messages/s | ratio to direct |',
        '|---|---|---|---|---|',
        ...(Object.keys(routes) as (keyof typeof routes)[]).map(
          (route) => `| ${route} | ${round(med(results[route]), 0)} | ${round(rate(route), 1)} | ${round(count / (med(results[route]) / 1000), 0)} | ${round(ratio(route), 3)} |`,
        ),
      ].join('\n');
      return {
        name: quick ? 'proxy-overhead-quick' : 'proxy-overhead',
        description:
          `Reading ${count} messages (${round(total / 1e6, 1)} MB) from Dovecot 2.3 on this machine through ImapSource (connect, SELECT, SEARCH, size listing, FETCH in batches of 100), ` +
          `directly and through Dante 1.4 (SOCKS5 without and with username authentication), ${rounds} rounds with the order rotated; MB/s from the median time per route; the connection set-up is included.`,
        figures: {
          messages: count,
          megabytes: round(total / 1e6, 1),
          direct_mb_s: round(rate('direct'), 1),
          dante_mb_s: round(rate('dante'), 1),
          dante_auth_mb_s: round(rate('dante-auth'), 1),
          dante_ratio_to_direct: round(ratio('dante'), 3),
          dante_auth_ratio_to_direct: round(ratio('dante-auth'), 3),
        },
        table,
        notes: [
          `Load average (uptime) before: ${loadBefore}; after: ${loadAverage()}. Everything (Dovecot, Dante, the reader) shares the 2 cores: the proxy's own CPU is part of the cost measured.`,
        ],
      };
    } finally {
      await Promise.allSettled([dovecot.stop(), open.stop(), withAuth.stop()]);
    }
  },
};

export default bench;
