/** Which MailSource serves which protocol. */
import type { MailboxSpec } from '../config/schema.js';
import { ImapSource } from '../connectors/imap/imap-source.js';
import { Pop3Source } from '../connectors/pop3/pop3-source.js';
import { AppError } from '../domain/errors.js';
import type { SourceFactory } from './mailboxes.service.js';

export const defaultSourceFactory: SourceFactory = (spec: MailboxSpec, ctx) => {
  switch (spec.protocol) {
    case 'imap':
      return new ImapSource({ spec, logger: ctx.logger });
    case 'pop3':
      return new Pop3Source({ spec, logger: ctx.logger });
    default:
      return new AppError('PROTOCOL_NOT_AVAILABLE', `Reading mail over ${spec.protocol} is not available in this version`, {
        status: 501,
        hint: 'Use IMAP or POP3 for this mailbox for now (most providers offer them).',
      });
  }
};
