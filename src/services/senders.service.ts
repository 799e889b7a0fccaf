/** The MailSender of each configured sender, built from its spec and secrets, rebuilt when they change. */
import { createHash } from 'node:crypto';
import type { SecretBox } from '../auth/secret-box.js';
import { senderSchema, type SenderSpec } from '../config/schema.js';
import type { MailSender } from '../connectors/mail-sender.js';
import { SendError, SmtpSender } from '../connectors/smtp/smtp-sender.js';
import type { SenderRow } from '../store/config.repository.js';
import type { Store } from '../store/store.js';
import { specWithSecrets } from './config-sections.js';
import { globalProxy } from './mailboxes.service.js';

export type SenderFactory = (spec: SenderSpec) => MailSender;

export const defaultSenderFactory: SenderFactory = (spec) => {
  if (spec.type !== 'smtp') {
    throw new SendError('SENDER_NOT_SUPPORTED', `Sending through ${spec.type} is not available in this version`, true, 'Use an SMTP sender for this queue.');
  }
  return new SmtpSender({ spec });
};

/** A sender's spec as the connector needs it: secrets decrypted, `proxy: inherit` resolved. */
export function effectiveSenderSpec(secrets: SecretBox, row: SenderRow, proxy: string | null): SenderSpec {
  const spec = specWithSecrets(secrets, 'senders', row, (s) => senderSchema.parse(s));
  return { ...spec, proxy: spec.proxy === 'inherit' ? (proxy ?? 'none') : spec.proxy };
}

export class SendersService {
  private readonly cache = new Map<number, { sender: MailSender; fingerprint: string }>();

  constructor(private readonly deps: { store: Store; secrets: SecretBox; factory?: SenderFactory }) {}

  async senderFor(senderId: number): Promise<MailSender> {
    const row = await this.deps.store.repos.config.findSender(senderId);
    if (!row) throw new SendError('SENDER_MISSING', `Sender ${senderId} no longer exists`, true, 'Give the queue an existing sender, then resend.');
    const proxy = await globalProxy(this.deps.store, this.deps.secrets);
    // The global proxy matters only to senders that inherit it.
    const inherits = (row.spec as { proxy?: string }).proxy === 'inherit';
    const fingerprint = createHash('sha256').update(JSON.stringify([row.spec, row.secrets_enc, inherits ? proxy : null])).digest('hex');
    const cached = this.cache.get(senderId);
    if (cached?.fingerprint === fingerprint) return cached.sender;
    await cached?.sender.close();
    const sender = (this.deps.factory ?? defaultSenderFactory)(effectiveSenderSpec(this.deps.secrets, row, proxy));
    this.cache.set(senderId, { sender, fingerprint });
    return sender;
  }

  async close(): Promise<void> {
    await Promise.all([...this.cache.values()].map((c) => c.sender.close()));
    this.cache.clear();
  }
}
