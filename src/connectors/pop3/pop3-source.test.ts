/**
 * What Dovecot cannot be made to do: a POP3 server that lists the same UIDL for two different
 * messages (RFC 1939 §7 forbids it; broken servers do it). A scripted maildrop server speaks
 * the commands the source uses; the in-memory sink commits and acknowledges as the runner does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { dotStuff, startFakePop3, type FakeConnection, type FakeServer } from '../../../test/helpers/pop3-fake-server.js';
import { MemorySink, sha } from '../../../test/helpers/pop3-fixtures.js';
import { mailboxSchema } from '../../config/schema.js';
import { Pop3Source } from './pop3-source.js';

interface Stored {
  uidl: string;
  raw: Buffer;
}

/** A maildrop: UIDL, LIST, RETR, DELE applied at QUIT (RFC 1939 §6), as a real server. */
async function maildrop(messages: Stored[]): Promise<FakeServer> {
  return startFakePop3(async (c: FakeConnection) => {
    await c.write('+OK ready\r\n');
    const view = [...messages];
    const deleted = new Set<number>();
    for (;;) {
      const line = await c.readLine().catch(() => null);
      if (line === null) return;
      const [cmd = '', arg] = line.split(' ');
      const n = Number(arg);
      switch (cmd.toUpperCase()) {
        case 'CAPA':
          await c.write('+OK\r\nUSER\r\nUIDL\r\n.\r\n');
          break;
        case 'UIDL':
          await c.write(`+OK\r\n${view.map((m, i) => (deleted.has(i + 1) ? '' : `${i + 1} ${m.uidl}\r\n`)).join('')}.\r\n`);
          break;
        case 'LIST':
          await c.write(`+OK\r\n${view.map((m, i) => (deleted.has(i + 1) ? '' : `${i + 1} ${m.raw.length}\r\n`)).join('')}.\r\n`);
          break;
        case 'RETR':
          await c.write(Buffer.concat([Buffer.from('+OK\r\n'), dotStuff(view[n - 1]!.raw)]));
          break;
        case 'DELE':
          deleted.add(n);
          await c.write('+OK\r\n');
          break;
        case 'QUIT':
          for (const i of [...deleted].sort((a, b) => b - a)) messages.splice(messages.indexOf(view[i - 1]!), 1);
          await c.write('+OK\r\n');
          c.socket.end();
          return;
        default:
          await c.write('+OK\r\n');
      }
    }
  });
}

const mail = (subject: string) => Buffer.from(`Subject: ${subject}\r\nFrom: a@example.com\r\n\r\nHello ${subject}\r\n`);

describe('POP3 source: a server that repeats a UIDL', () => {
  const servers: FakeServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  /** A scripted maildrop serving `messages` (DELE at QUIT removes from that array), stopped after the test. */
  const serve = async (messages: Stored[]) => {
    const server = await maildrop(messages);
    servers.push(server);
    return server;
  };

  const source = (server: FakeServer, afterImport: 'none' | 'delete') =>
    new Pop3Source({
      spec: mailboxSchema.parse({ name: 'dup', protocol: 'pop3', host: server.host, port: server.port, security: 'none', auth: { user: 'u', password: 'p' }, queue: 'q', after_import: afterImport }),
    });

  it('imports every message once, keyed by content, and warns (after_import: none)', async () => {
    const messages = [
      { uidl: 'u1', raw: mail('one') },
      { uidl: 'dup', raw: mail('two') },
      { uidl: 'dup', raw: mail('three') },
      { uidl: 'u4', raw: mail('four') },
    ];
    const server = await serve(messages);
    const sink = new MemorySink();
    const first = source(server, 'none');
    expect(await sink.poll(first)).toBeUndefined();
    expect(new Set(sink.stored.values())).toEqual(new Set(messages.map((m) => sha(m.raw))));
    expect([...sink.stored.keys()].filter((k) => k.startsWith('dup#'))).toHaveLength(2);
    expect(first.warnings().join(' ')).toMatch(/UIDL dup for 2 messages/);

    // The next polls hand on nothing known again, and a third message under the same UIDL is new.
    expect(await sink.poll(source(server, 'none'))).toBeUndefined();
    messages.push({ uidl: 'dup', raw: mail('five') });
    expect(await sink.poll(source(server, 'none'))).toBeUndefined();
    expect(sink.duplicates).toBe(0);
    expect(sink.stored.size).toBe(5);
    expect(sink.stored.get([...sink.stored.keys()].at(-1)!)).toBe(sha(mail('five')));
  });

  it('deletes each of them once committed (after_import: delete)', async () => {
    const messages = [
      { uidl: 'dup', raw: mail('a') },
      { uidl: 'dup', raw: mail('b') },
      { uidl: 'u3', raw: mail('c') },
    ];
    const server = await serve(messages);
    const sink = new MemorySink();
    expect(await sink.poll(source(server, 'delete'))).toBeUndefined();
    expect(sink.stored.size).toBe(3);
    expect(messages).toEqual([]);
    expect(server.commands.filter((c) => c.startsWith('DELE'))).toHaveLength(3);
  });
});
