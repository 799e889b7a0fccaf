/**
 * The repositories, bound either to the database or to one transaction. Services call
 * `store.transaction(async (r) => …)` for anything that must commit together.
 */
import type { Kysely } from 'kysely';
import { AttachmentRepository } from './attachment.repository.js';
import { AuditRepository } from './audit.repository.js';
import { AuthRepository } from './auth.repository.js';
import { ConfigRepository } from './config.repository.js';
import { ConversationRepository } from './conversation.repository.js';
import { InboundRepository } from './inbound.repository.js';
import { MailboxStatusRepository } from './mailbox-status.repository.js';
import { OutboxRepository } from './outbox.repository.js';
import { QuarantineRepository } from './quarantine.repository.js';
import { RetentionRepository } from './retention.repository.js';
import { RoutingRepository } from './routing.repository.js';
import type { Database } from './database.js';
import type { DB } from './schema.js';
import { UserRepository } from './user.repository.js';

export interface Repos {
  users: UserRepository;
  auth: AuthRepository;
  config: ConfigRepository;
  audit: AuditRepository;
  inbound: InboundRepository;
  mailboxStatus: MailboxStatusRepository;
  conversations: ConversationRepository;
  attachments: AttachmentRepository;
  outbox: OutboxRepository;
  routing: RoutingRepository;
  quarantine: QuarantineRepository;
  retention: RetentionRepository;
}

export function createRepos(db: Kysely<DB>): Repos {
  return {
    users: new UserRepository(db),
    auth: new AuthRepository(db),
    config: new ConfigRepository(db),
    audit: new AuditRepository(db),
    inbound: new InboundRepository(db),
    mailboxStatus: new MailboxStatusRepository(db),
    conversations: new ConversationRepository(db),
    attachments: new AttachmentRepository(db),
    outbox: new OutboxRepository(db),
    routing: new RoutingRepository(db),
    quarantine: new QuarantineRepository(db),
    retention: new RetentionRepository(db),
  };
}

export class Store {
  readonly repos: Repos;
  private backgroundStore: Store | undefined;

  /** `kysely`: the database's own (`database.db`) unless this is its `background` store. */
  constructor(
    readonly database: Database,
    private readonly kysely: Kysely<DB> = database.db,
  ) {
    this.repos = createRepos(kysely);
  }

  get db(): Kysely<DB> {
    return this.kysely;
  }

  /**
   * The same store for work nobody waits on as it happens (storing and filing mail, retention):
   * on the embedded database, the API and routing go first (Database.background).
   */
  get background(): Store {
    if (this.kysely === this.database.background) return this;
    return (this.backgroundStore ??= new Store(this.database, this.database.background));
  }

  transaction<T>(fn: (r: Repos, tx: Kysely<DB>) => Promise<T>): Promise<T> {
    return this.kysely.transaction().execute((tx) => fn(createRepos(tx), tx));
  }
}
