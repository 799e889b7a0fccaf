import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { AppError } from '../domain/errors.js';
import { findDuplicates, formatPath, substituteEnv, substituteKnownEnv, validateConfig } from './load.js';
import { configFileSchema } from './schema.js';

const none = { senders: new Set<string>(), queues: new Set<string>() };

const GOOD = `
senders:
  - { name: s1, type: smtp, host: smtp.example.com, port: 587, security: starttls, from: "Support <s@example.com>", auth: { user: u, password: "\${PW}" } }
queues:
  - { name: q1, sender: s1 }
mailboxes:
  - { name: m1, protocol: imap, host: imap.example.com, port: 993, security: tls, auth: { user: u, password: p }, queue: q1 }
  - { name: m2, protocol: pop3, host: pop.example.com, port: 995, security: tls, auth: { user: u, password: p }, queue: q1 }
users:
  - { login: alice, roles: [agent], skills: { billing: 7 } }
`;

function problems(input: string | unknown, env: Record<string, string> = {}, known = none) {
  try {
    validateConfig(input, env, known);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('CONFIG_INVALID');
    return (err as AppError).details!;
  }
  throw new Error('expected the config to be refused');
}

describe('validateConfig', () => {
  it('fills every default of API.md', () => {
    const c = validateConfig(GOOD, { PW: 'secret' }, none);
    expect(c.senders![0]!.auth!.password).toBe('secret');
    expect(c.senders![0]!.proxy).toBe('inherit');
    expect(c.mailboxes![0]).toMatchObject({ folder: 'INBOX', after_import: 'seen', proxy: 'inherit', tls: { verify: 'chain' }, liveness: { keepalive_s: 300, timeout_s: 30, reconnect_s: 10 } });
    expect(c.mailboxes![1]!.after_import).toBe('none');
    expect(c.queues![0]).toMatchObject({ language: 'auto', priority: 5, routing: { mode: 'offer', policy: 'longest-idle', offer_timeout_s: 120, max_missed_offers: 3, broadcast: 1, sticky: { scope: 'any', hours: 72, wait_s: 60 }, relax: [] } });
    expect(c.queues![0]!.auto_ack).toBeUndefined();
    expect(c.users![0]).toMatchObject({ capacity: 3, languages: {} });
  });

  it('reports invalid YAML with line and column', () => {
    const d = problems('senders:\n  - name: a\n   bad: [');
    expect(d[0]!.path).toMatch(/^line \d+, column \d+$/);
  });

  it('reports unknown keys, wrong types, duplicates, missing references and level 11 together, each with its path', () => {
    const d = problems(`
senders:
  - { name: s1, type: smtp, host: h, port: 25, security: none, from: "a@b.c", colour: blue }
queues:
  - { name: q1, sender: nope }
  - { name: q1, sender: s1 }
mailboxes:
  - { name: m1, protocol: imap, host: h, port: "993x", security: tls, auth: { user: u, password: p }, queue: missing }
users:
  - { login: bob, roles: [agent], skills: { billing: 11 } }
`);
    const byPath = Object.fromEntries(d.map((x) => [x.path, x.message]));
    expect(byPath['senders[0].colour']).toBe('unknown key');
    expect(byPath['mailboxes[0].port']).toBe('expected a number, got "993x"');
    expect(byPath['queues[1].name']).toMatch(/duplicate name "q1"/);
    expect(byPath['queues[0].sender']).toMatch(/sender "nope" does not exist/);
    expect(byPath['mailboxes[0].queue']).toMatch(/queue "missing" does not exist/);
    expect(byPath['users[0].skills.billing']).toMatch(/1 to 10/);
    expect(d.length).toBeGreaterThanOrEqual(6);
  });

  it('accepts references to senders and queues that already exist in the store', () => {
    const c = validateConfig('queues:\n  - { name: q2, sender: stored }\n', {}, { senders: new Set(['stored']), queues: new Set() });
    expect(c.queues![0]!.sender).toBe('stored');
  });

  it('names an environment variable that is not set', () => {
    expect(problems(GOOD, {})).toContainEqual({ path: 'senders[0].auth.password', message: 'environment variable PW is not set' });
  });

  it('refuses a file that is not a mapping, and missing required keys', () => {
    expect(problems('- a\n- b')[0]!.path).toBe('(file)');
    const d = problems('queues:\n  - { name: q }\n');
    expect(d).toContainEqual({ path: 'queues[0].sender', message: 'is required (a string)' });
  });

  it('checks TLS pinning, POP3 after_import and auth combinations', () => {
    const d = problems(`
queues: [{ name: q, sender: s }]
senders: [{ name: s, type: smtp, host: h, port: 25, security: none, from: a@b.c }]
mailboxes:
  - { name: a, protocol: imap, host: h, port: 1, security: tls, auth: { user: u, password: p }, queue: q, tls: { verify: peer } }
  - { name: b, protocol: pop3, host: h, port: 1, security: tls, auth: { user: u, password: p }, queue: q, after_import: seen }
  - { name: c, protocol: imap, host: h, port: 1, security: tls, auth: { user: u }, queue: q }
`);
    const paths = d.map((x) => x.path);
    expect(paths).toEqual(expect.arrayContaining(['mailboxes[0].tls.fingerprint', 'mailboxes[1].after_import', 'mailboxes[2].auth.password']));
  });

  it('parses JSON too (JSON is YAML) and plain objects', () => {
    const c1 = validateConfig('{"queues": [{"name": "q", "sender": "s"}], "senders": [{"name": "s", "type": "smtp", "host": "h", "port": 25, "security": "none", "from": "a@b.c"}]}', {}, none);
    const c2 = validateConfig({ queues: [{ name: 'q', sender: 's' }] }, {}, { senders: new Set(['s']), queues: new Set() });
    expect(c1.queues![0]!.name).toBe('q');
    expect(c2.queues![0]!.name).toBe('q');
  });

  it('a validated config printed as YAML validates to the same config (round trip)', () => {
    const c = validateConfig(GOOD, { PW: 'x' }, none);
    expect(validateConfig(stringify(c), {}, none)).toEqual(c);
  });
});

describe('substituteEnv', () => {
  it('replaces ${VAR}, keeps $${VAR} literal and records the path of a missing one', () => {
    const errors: { path: string; message: string }[] = [];
    const out = substituteEnv({ a: ['x${A}y', '$${A}', '${B}'] }, { A: '1' }, errors);
    expect(out).toEqual({ a: ['x1y', '${A}', '${B}'] });
    expect(errors).toEqual([{ path: 'a[2]', message: 'environment variable B is not set' }]);
  });

  it('substituteKnownEnv escapes values so a second substitution keeps them literal', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        const first = substituteKnownEnv({ p: '${PW}' }, { PW: value });
        const errors: { path: string; message: string }[] = [];
        expect(substituteEnv(first, {}, errors)).toEqual({ p: value });
        expect(errors).toEqual([]);
      }),
    );
  });
});

describe('helpers', () => {
  it('formats paths like API.md', () => {
    expect(formatPath(['mailboxes', 0, 'port'])).toBe('mailboxes[0].port');
    expect(formatPath([])).toBe('(file)');
  });

  it('finds duplicate logins case-insensitively', () => {
    expect(findDuplicates({ users: [{ login: 'Ann' }, { login: 'ann' }] })).toEqual([{ path: 'users[1].login', message: 'duplicate login "ann" (also users[0])' }]);
  });

  it('an empty file is a valid empty config', () => {
    expect(configFileSchema.parse({})).toEqual({});
  });
});

describe('liveness', () => {
  it('refuses a timeout longer than the keepalive', () => {
    const d = problems(`
senders: [{ name: s, type: smtp, host: h, port: 25, security: none, from: a@b.c }]
queues: [{ name: q, sender: s }]
mailboxes: [{ name: m, protocol: imap, host: h, port: 1, security: tls, auth: { user: u, password: p }, queue: q, liveness: { keepalive_s: 10, timeout_s: 30 } }]
`);
    expect(d).toContainEqual({ path: 'mailboxes[0].liveness.timeout_s', message: expect.stringMatching(/must not exceed keepalive_s \(10\)/) });
  });
});
