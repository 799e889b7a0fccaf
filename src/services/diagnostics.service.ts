/**
 * Self-diagnosis (DESIGN.md): the step-by-step connection test of a mailbox or a sender, and the
 * connection log. The test uses the stored settings exactly as the connector does (secrets,
 * inherited proxy, TLS policy), so what it reports is what the connector meets.
 */
import type { SecretBox } from '../auth/secret-box.js';
import type { MailboxSpec, SenderSpec } from '../config/schema.js';
import { testImapConnection } from '../connectors/imap/imap-connection-test.js';
import type { ConnectionStep } from '../connectors/net/connection-steps.js';
import { testPop3Connection } from '../connectors/pop3/pop3-connection-test.js';
import { testSmtpConnection } from '../connectors/smtp/smtp-connection-test.js';
import { notFound } from '../domain/errors.js';
import type { Store } from '../store/store.js';
import { effectiveMailboxSpec, globalProxy } from './mailboxes.service.js';
import { effectiveSenderSpec } from './senders.service.js';

export interface ConnectionTestResult {
  ok: boolean;
  steps: ConnectionStep[];
}

export type MailboxTester = (spec: MailboxSpec) => Promise<ConnectionTestResult>;

/** The connection test of each protocol that has one. */
export const MAILBOX_TESTERS: Partial<Record<MailboxSpec['protocol'], MailboxTester>> = {
  imap: testImapConnection,
  pop3: (spec) => testPop3Connection(spec),
};

export class DiagnosticsService {
  constructor(private readonly deps: { store: Store; secrets: SecretBox; testers?: Partial<Record<MailboxSpec['protocol'], MailboxTester>>; senderTester?: (spec: SenderSpec) => Promise<ConnectionTestResult> }) {}

  async testMailbox(id: number): Promise<ConnectionTestResult & { name: string; protocol: string }> {
    const row = await this.deps.store.repos.config.findMailbox(id);
    if (!row) throw notFound(`Mailbox ${id}`);
    const spec = effectiveMailboxSpec(this.deps.secrets, row, await globalProxy(this.deps.store, this.deps.secrets));
    const tester = { ...MAILBOX_TESTERS, ...this.deps.testers }[spec.protocol];
    const result: ConnectionTestResult = tester
      ? await tester(spec)
      : {
          ok: false,
          steps: [{ name: 'tcp', ok: false, code: 'PROTOCOL_NOT_AVAILABLE', ms: 0, detail: `No connection test for ${spec.protocol} in this version`, hint: 'Use IMAP or POP3 for this mailbox for now.', warnings: [] }],
        };
    await this.deps.store.repos.mailboxStatus.addEvent({ mailboxId: id, kind: 'test', message: result.ok ? 'connection test passed' : `connection test failed at ${result.steps.at(-1)?.name}: ${result.steps.at(-1)?.code}`, detail: { ok: result.ok } });
    return { ...result, name: row.name, protocol: spec.protocol };
  }

  async testSender(id: number): Promise<ConnectionTestResult & { name: string; type: string }> {
    const row = await this.deps.store.repos.config.findSender(id);
    if (!row) throw notFound(`Sender ${id}`);
    const spec = effectiveSenderSpec(this.deps.secrets, row, await globalProxy(this.deps.store, this.deps.secrets));
    const result: ConnectionTestResult =
      spec.type === 'smtp'
        ? await (this.deps.senderTester ?? testSmtpConnection)(spec)
        : { ok: false, steps: [{ name: 'tcp', ok: false, code: 'SENDER_NOT_SUPPORTED', ms: 0, detail: `No connection test for ${spec.type} in this version`, hint: 'Use an SMTP sender for now.', warnings: [] }] };
    await this.deps.store.repos.mailboxStatus.addEvent({ senderId: id, kind: 'test', message: result.ok ? 'connection test passed' : `connection test failed at ${result.steps.at(-1)?.name}`, detail: { ok: result.ok } });
    return { ...result, name: row.name, type: spec.type };
  }

  async mailboxEvents(id: number, beforeId: number | null, limit: number) {
    if (!(await this.deps.store.repos.config.findMailbox(id))) throw notFound(`Mailbox ${id}`);
    return this.deps.store.repos.mailboxStatus.listEvents({ mailboxId: id }, beforeId, limit);
  }

  async senderEvents(id: number, beforeId: number | null, limit: number) {
    if (!(await this.deps.store.repos.config.findSender(id))) throw notFound(`Sender ${id}`);
    return this.deps.store.repos.mailboxStatus.listEvents({ senderId: id }, beforeId, limit);
  }
}
