import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { dotStuff, startFakePop3, type FakeConnection, type FakeServer } from '../../../test/helpers/pop3-fake-server.js';
import type { ConnectionStep } from '../net/connection-steps.js';
import { apopDigest, apopTimestamp, parseCapabilities, Pop3Client, type Pop3ClientOptions } from './pop3-client.js';

const servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

const GREETING = '+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n';
const CAPA = '+OK\r\nUSER\r\nUIDL\r\nRESP-CODES\r\n.\r\n';

/** A server that greets, answers CAPA, then runs `rest` (the commands after CAPA). */
async function serve(rest: (c: FakeConnection) => Promise<void>, opts: { greeting?: string; capa?: string } = {}): Promise<FakeServer> {
  const server = await startFakePop3(async (c) => {
    await c.write(opts.greeting ?? GREETING);
    expect(await c.readLine()).toBe('CAPA');
    await c.write(opts.capa ?? CAPA);
    await rest(c);
  });
  servers.push(server);
  return server;
}

const connect = (s: FakeServer, extra: Partial<Pop3ClientOptions> = {}) => Pop3Client.connect({ host: s.host, port: s.port, security: 'none', timeoutMs: 2000, ...extra });

/** Answers each expected command with the given bytes, in packets of `packet` bytes. */
function script(pairs: Array<[command: string | RegExp, answer: string | Buffer]>, packet?: number) {
  return async (c: FakeConnection) => {
    for (const [command, answer] of pairs) {
      const line = await c.readLine();
      if (typeof command === 'string') expect(line).toBe(command);
      else expect(line).toMatch(command);
      await c.write(answer, packet);
    }
  };
}

describe('APOP', () => {
  it('computes the digest of RFC 1939 §7 and finds the greeting timestamp', () => {
    expect(apopDigest('<1896.697170952@dbc.mtview.ca.us>', 'tanstaaf')).toBe('c4c9334bac560ecc979e58001b3e22fb');
    expect(apopTimestamp('POP3 ready <1896.697170952@dbc.mtview.ca.us>')).toBe('<1896.697170952@dbc.mtview.ca.us>');
    expect(apopTimestamp('Dovecot (Debian) ready.')).toBeUndefined();
  });

  it('sends APOP with the digest, never the password', async () => {
    const s = await serve(script([[/^APOP /, '+OK maildrop has 0 messages\r\n']]));
    const client = await connect(s);
    await client.login('mrose', 'tanstaaf', 'apop');
    expect(s.commands).toContain('APOP mrose c4c9334bac560ecc979e58001b3e22fb');
    expect(s.commands.join(' ')).not.toContain('tanstaaf');
    client.destroy();
  });

  it('refuses APOP when the greeting has no timestamp', async () => {
    const s = await serve(async () => undefined, { greeting: '+OK ready\r\n' });
    const client = await connect(s);
    await expect(client.login('u', 'p', 'apop')).rejects.toMatchObject({ code: 'APOP_NOT_OFFERED' });
    client.destroy();
  });
});

describe('commands and multi-line answers, in packets of one byte', () => {
  it('USER/PASS, STAT, UIDL, LIST, RETR, DELE, RSET, NOOP, QUIT', async () => {
    const body = Buffer.from('Subject: t\r\n\r\n.leading dot\r\n..two\r\nbare\nLF and bare\rCR\r\n.\r\nlast\r\n', 'latin1');
    const s = await serve(
      script(
        [
          ['USER alice', '+OK\r\n'],
          ['PASS secret pw', '+OK Logged in.\r\n'],
          ['STAT', '+OK 2 320\r\n'],
          ['UIDL', '+OK\r\n1 000000016b042f11\r\n2 000000026b042f11\r\n.\r\n'],
          ['UIDL 2', '+OK 2 000000026b042f11\r\n'],
          ['LIST', '+OK 2 messages:\r\n1 120\r\n2 200\r\n.\r\n'],
          ['LIST 1', '+OK 1 120\r\n'],
          ['RETR 1', Buffer.concat([Buffer.from('+OK 120 octets\r\n'), dotStuff(body)])],
          ['DELE 1', '+OK Marked to be deleted.\r\n'],
          ['RSET', '+OK\r\n'],
          ['NOOP', '+OK\r\n'],
          ['QUIT', '+OK Logging out.\r\n'],
        ],
        1,
      ),
    );
    const client = await connect(s);
    expect([...client.capabilities.keys()]).toEqual(['USER', 'UIDL', 'RESP-CODES']);
    await client.login('alice', 'secret pw');
    expect(await client.stat()).toEqual({ count: 2, size: 320 });
    expect(await client.uidlAll()).toEqual([
      { msg: 1, uidl: '000000016b042f11' },
      { msg: 2, uidl: '000000026b042f11' },
    ]);
    expect(await client.uidl(2)).toBe('000000026b042f11');
    expect(await client.listAll()).toEqual([
      { msg: 1, size: 120 },
      { msg: 2, size: 200 },
    ]);
    expect(await client.list(1)).toBe(120);
    expect((await client.retr(1)).equals(body)).toBe(true);
    await client.dele(1);
    await client.rset();
    await client.noop();
    await client.quit();
    expect(client.usable).toBe(false);
    await expect(client.noop()).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
  });

  it('streams RETR in pieces whose sum is the message, and serializes concurrent commands', async () => {
    const body = Buffer.alloc(300_000, 'x');
    for (let i = 0; i < body.length; i += 100) body.write('\r\n.', i, 'latin1');
    body.write('\r\n', body.length - 2, 'latin1');
    const s = await serve(
      script([
        ['RETR 1', Buffer.concat([Buffer.from('+OK\r\n'), dotStuff(body)])],
        ['NOOP', '+OK\r\n'],
      ]),
    );
    const client = await connect(s);
    const pieces: Buffer[] = [];
    const [size] = await Promise.all([client.retrStream(1, (p) => pieces.push(Buffer.from(p))), client.noop()]);
    expect(size).toBe(body.length);
    expect(pieces.length).toBeGreaterThan(1);
    expect(createHash('sha256').update(Buffer.concat(pieces)).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    client.destroy();
  });

  it('parses CAPA lines with arguments', () => {
    const caps = parseCapabilities(['TOP', 'SASL PLAIN LOGIN', 'implementation Dovecot', 'LOGIN-DELAY 900']);
    expect(caps.get('SASL')).toEqual(['PLAIN', 'LOGIN']);
    expect(caps.get('LOGIN-DELAY')).toEqual(['900']);
    expect(caps.has('IMPLEMENTATION')).toBe(true);
  });
});

describe('errors', () => {
  it.each([
    ['-ERR [AUTH] Authentication failed.', 'AUTH_FAILED'],
    ['-ERR [IN-USE] Mailbox is locked by another POP3 session.', 'MAILBOX_IN_USE'],
    ['-ERR [IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=10)', 'CONNECTION_LIMIT'],
    ['-ERR [SYS/TEMP] Internal error occurred.', 'POP3_SERVER_TEMPORARY'],
    ['-ERR [LOGIN-DELAY] Too soon', 'POP3_LOGIN_DELAY'],
    ['-ERR invalid password', 'AUTH_FAILED'],
  ])('PASS answered %s → %s', async (answer, code) => {
    const s = await serve(script([['USER u', '+OK\r\n'], ['PASS p', `${answer}\r\n`]]));
    const client = await connect(s);
    const err = await client.login('u', 'p').catch((e: unknown) => e);
    expect(err).toMatchObject({ code, hint: expect.any(String) });
    expect((err as Error).message).not.toContain(' p ');
    client.destroy();
  });

  it('a plaintext refusal at USER says to use TLS', async () => {
    const s = await serve(script([['USER u', '-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n']]));
    const client = await connect(s);
    await expect(client.login('u', 'p')).rejects.toMatchObject({ code: 'AUTH_FAILED', hint: expect.stringMatching(/security: starttls/) });
    client.destroy();
  });

  it('-ERR to QUIT: the deletions were not applied (POP3_DELETE_FAILED)', async () => {
    const s = await serve(script([['DELE 1', '+OK\r\n'], ['QUIT', '-ERR [SYS/PERM] Some deleted messages not removed\r\n']]));
    const client = await connect(s);
    await client.dele(1);
    await expect(client.quit()).rejects.toMatchObject({ code: 'POP3_DELETE_FAILED', hint: expect.stringMatching(/Nothing is lost/) });
    expect(client.usable).toBe(false);
  });

  it('-ERR on RETR is POP3_ERROR and the session goes on; UIDL refused is POP3_NO_UIDL', async () => {
    const s = await serve(script([['RETR 9', '-ERR There is no message 9.\r\n'], ['UIDL', '-ERR Unknown command\r\n'], ['NOOP', '+OK\r\n']]));
    const client = await connect(s);
    await expect(client.retr(9)).rejects.toMatchObject({ code: 'POP3_ERROR' });
    await expect(client.uidlAll()).rejects.toMatchObject({ code: 'POP3_NO_UIDL' });
    await client.noop();
    client.destroy();
  });

  it('a server that closes in the middle of RETR: CONNECTION_CLOSED, and the session is over', async () => {
    const s = await serve(async (c) => {
      expect(await c.readLine()).toBe('RETR 1');
      await c.write('+OK 5000 octets\r\nSubject: cut\r\n\r\nhalf of it', 3);
      c.socket.end();
    });
    const client = await connect(s);
    await expect(client.retr(1)).rejects.toMatchObject({ code: 'CONNECTION_CLOSED', message: expect.stringMatching(/receiving message 1/) });
    expect(client.usable).toBe(false);
    await expect(client.noop()).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
  });

  it('a server that goes silent: POP3_TIMEOUT after timeoutMs of silence', async () => {
    const s = await serve(async (c) => {
      await c.readLine();
      await c.write('+OK\r\n1 a\r\n');
    });
    const client = await connect(s, { timeoutMs: 150 });
    await expect(client.uidlAll()).rejects.toMatchObject({ code: 'POP3_TIMEOUT', message: expect.stringMatching(/UIDL/) });
    expect(client.usable).toBe(false);
  });

  it('an endless line is POP3_PROTOCOL_ERROR, not unbounded memory', async () => {
    const s = await serve(async (c) => {
      await c.readLine();
      await c.write(`+OK ${'x'.repeat(20_000)}`);
    });
    const client = await connect(s);
    await expect(client.noop()).rejects.toMatchObject({ code: 'POP3_PROTOCOL_ERROR', message: expect.stringMatching(/longer than 8192/) });
  });

  it('a greeting that is not POP3 (an IMAP port) or a refusal', async () => {
    const imap = await startFakePop3(async (c) => c.write('* OK [CAPABILITY IMAP4rev1] ready\r\n'));
    servers.push(imap);
    await expect(connect(imap)).rejects.toMatchObject({ code: 'POP3_PROTOCOL_ERROR', hint: expect.stringMatching(/110/) });
    const busy = await startFakePop3(async (c) => c.write('-ERR [SYS/TEMP] Server busy\r\n'));
    servers.push(busy);
    await expect(connect(busy)).rejects.toMatchObject({ code: 'POP3_SERVER_TEMPORARY' });
    const refused = await startFakePop3(async (c) => c.write('-ERR go away\r\n'));
    servers.push(refused);
    await expect(connect(refused)).rejects.toMatchObject({ code: 'POP3_ERROR', message: expect.stringMatching(/refused the session: go away/) });
  });

  it('CAPA answered -ERR means no capabilities, not a failure', async () => {
    const s = await serve(async () => undefined, { capa: '-ERR unknown command\r\n' });
    const client = await connect(s);
    expect(client.capabilities.size).toBe(0);
    client.destroy();
  });
});

describe('STLS policy', () => {
  const withStls = '+OK\r\nUSER\r\nUIDL\r\nSTLS\r\n.\r\n';

  it('security: none never sends STLS, even when offered', async () => {
    const s = await serve(script([['NOOP', '+OK\r\n']]), { capa: withStls });
    const client = await connect(s, { security: 'none' });
    await client.noop();
    expect(s.commands).toEqual(['CAPA', 'NOOP']);
    client.destroy();
  });

  it('security: starttls without STLS offered: STARTTLS_NOT_OFFERED as a failed tls step, nothing sent', async () => {
    const s = await serve(async (c) => void (await c.readLine().catch(() => undefined)));
    const steps: ConnectionStep[] = [];
    await expect(connect(s, { security: 'starttls', steps })).rejects.toMatchObject({ code: 'STARTTLS_NOT_OFFERED' });
    expect(steps.map((st) => `${st.name}:${st.ok ? 'ok' : st.code}`)).toEqual(['tcp:ok', 'tls:STARTTLS_NOT_OFFERED']);
    expect(s.commands).toEqual(['CAPA']);
  });

  it('STLS refused by the server is STARTTLS_NOT_OFFERED with its answer; no fallback to plain', async () => {
    const s = await serve(script([['STLS', '-ERR TLS support isn\'t enabled.\r\n']]), { capa: withStls });
    await expect(connect(s, { security: 'starttls' })).rejects.toMatchObject({ code: 'STARTTLS_NOT_OFFERED', message: expect.stringMatching(/TLS support isn't enabled/) });
    expect(s.commands).not.toContain('USER');
  });

  it('bytes injected after the STLS answer are refused (CVE-2011-0411)', async () => {
    const s = await serve(script([['STLS', '+OK Begin TLS negotiation now.\r\n+OK injected\r\n']]), { capa: withStls });
    await expect(connect(s, { security: 'starttls' })).rejects.toMatchObject({ code: 'POP3_PROTOCOL_ERROR', message: expect.stringMatching(/STLS/) });
  });
});
