/**
 * The MailSource contract suite (mail-source-contract.ts) against every implementation that has
 * a real peer here: ImapSource on Dovecot's IMAP and Pop3Source on Dovecot's POP3, one Dovecot
 * for both, a user of its own for every test.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll } from 'vitest';
import { mailboxSchema, type MailboxSpec } from '../../src/config/schema.js';
import { ImapSource, imapKey } from '../../src/connectors/imap/imap-source.js';
import { Pop3Client } from '../../src/connectors/pop3/pop3-client.js';
import { Pop3Source } from '../../src/connectors/pop3/pop3-source.js';
import { startDovecot, type DovecotPeer } from '../peers/dovecot.js';
import { getFreePort } from '../peers/ports.js';
import { defineMailSourceContract, type ContractHarness, type ContractMailbox } from './mail-source-contract.js';

const PER_PROTOCOL = 12;
const users = (prefix: string) => Array.from({ length: PER_PROTOCOL }, (_, i) => ({ user: `${prefix}${i}`, password: `${prefix}${i}-pw` }));
const BAD_PASSWORD = 'not-the-password-7f3a';

let dovecot: DovecotPeer;
let deadPort: number;

beforeAll(async () => {
  [dovecot, deadPort] = await Promise.all([startDovecot({ users: [...users('imap'), ...users('pop')] }), getFreePort()]);
});
afterAll(async () => {
  await dovecot?.stop();
});

function spec(protocol: 'imap' | 'pop3', user: string, over: Record<string, unknown> = {}): MailboxSpec {
  return mailboxSchema.parse({
    name: `contract-${user}`,
    protocol,
    host: '127.0.0.1',
    port: protocol === 'imap' ? dovecot.imapPort : dovecot.pop3Port,
    security: 'none',
    auth: { user, password: `${user}-pw` },
    // The acknowledging action of each protocol: IMAP flags \Seen (its default), POP3 deletes.
    after_import: protocol === 'imap' ? 'seen' : 'delete',
    proxy: 'none',
    liveness: { timeout_s: 5 },
    queue: 'q',
    ...over,
  });
}

/** Hands out the users of a protocol one by one, so every test has an empty mailbox. */
function pool(prefix: string): () => string {
  let next = 0;
  return () => {
    if (next >= PER_PROTOCOL) throw new Error(`more than ${PER_PROTOCOL} contract tests: raise PER_PROTOCOL`);
    return `${prefix}${next++}`;
  };
}

const nextImapUser = pool('imap');
defineMailSourceContract('ImapSource on Dovecot IMAP', (): ContractHarness => ({
  badPassword: BAD_PASSWORD,
  async mailbox(): Promise<ContractMailbox> {
    const user = nextImapUser();
    return {
      // The contract's bound of 100 (POP3's default); IMAP's own default is larger (IMAP_BATCH_MESSAGES).
      // Sizes asked for 32 messages at a time (default IMAP_SIZE_WINDOW): batches span windows,
      // and `known` is asked window by window.
      source: () => new ImapSource({ spec: spec('imap', user), batchMessages: 100, sizeWindow: 32 }),
      put: async (raws) => void (await dovecot.append(user, 'INBOX', raws)),
      async unacknowledged() {
        const peek = new ImapFlow({ host: dovecot.host, port: dovecot.imapPort, secure: false, doSTARTTLS: false, auth: { user, pass: `${user}-pw` }, logger: false });
        peek.on('error', () => undefined);
        await peek.connect();
        try {
          const mb = await peek.mailboxOpen('INBOX', { readOnly: true });
          const out = new Set<string>();
          if (mb.exists === 0) return out;
          for (const m of await peek.fetchAll('1:*', { uid: true, flags: true })) if (!m.flags?.has('\\Seen')) out.add(imapKey(Number(mb.uidValidity), m.uid));
          return out;
        } finally {
          await peek.logout();
        }
      },
    };
  },
  wrongPassword: () => new ImapSource({ spec: spec('imap', 'imap0', { auth: { user: 'imap0', password: BAD_PASSWORD } }) }),
  nothingListening: () => new ImapSource({ spec: spec('imap', 'imap0', { port: deadPort }) }),
}));

const nextPopUser = pool('pop');
defineMailSourceContract('Pop3Source on Dovecot POP3', (): ContractHarness => ({
  badPassword: BAD_PASSWORD,
  async mailbox(): Promise<ContractMailbox> {
    const user = nextPopUser();
    return {
      source: () => new Pop3Source({ spec: spec('pop3', user) }),
      // APPEND over IMAP gives the messages their order (POP3 lists the maildrop in UID order).
      put: async (raws) => void (await dovecot.append(user, 'INBOX', raws)),
      async unacknowledged() {
        const client = await Pop3Client.connect({ host: dovecot.host, port: dovecot.pop3Port, security: 'none' });
        try {
          await client.login(user, `${user}-pw`);
          return new Set((await client.uidlAll()).map((l) => l.uidl));
        } finally {
          await client.quit().catch(() => client.destroy());
        }
      },
    };
  },
  wrongPassword: () => new Pop3Source({ spec: spec('pop3', 'pop0', { auth: { user: 'pop0', password: BAD_PASSWORD } }) }),
  nothingListening: () => new Pop3Source({ spec: spec('pop3', 'pop0', { port: deadPort }) }),
}));
