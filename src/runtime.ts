/**
 * The composition root: opens the database, runs migrations, loads the secret key, wires the
 * services and the HTTP server, bootstraps the first admin and applies MAILROOM_CONFIG. The CLI's
 * `start` and the end-to-end tests both start Mailroom through here.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { SecretBox } from './auth/secret-box.js';
import { loadSecretKeys } from './auth/secret-key-file.js';
import type { Settings } from './config/env.js';
import { AppError, errorMessage } from './domain/errors.js';
import { EventBus } from './domain/events.js';
import { SYSTEM_ACTOR } from './domain/types.js';
import { packageInfo } from './package-info.js';
import { buildApp } from './server/app.js';
import { createLogger } from './server/logger.js';
import { Metrics } from './server/metrics.js';
import type { RouteDeps } from './server/route-deps.js';
import { WebSocketHub } from './server/websocket.js';
import { AuthService } from './services/auth.service.js';
import { ConfigService, formatChanges } from './services/config.service.js';
import { DiagnosticsService } from './services/diagnostics.service.js';
import { DirectoryService } from './services/directory.service.js';
import { ParserPool } from './ingest/index.js';
import { ConversationsService } from './services/conversations.service.js';
import { MessageDisplay } from './services/message-display.js';
import { StoreInboundSink } from './services/inbound-sink.js';
import { IngestService } from './services/ingest.service.js';
import { MailboxesService, type SourceFactory } from './services/mailboxes.service.js';
import { OutboxService } from './services/outbox.service.js';
import { PauseWatchService } from './services/pause-watch.service.js';
import { QuarantineService } from './services/quarantine.service.js';
import { RetentionService } from './services/retention.service.js';
import { RoutingService } from './services/routing.service.js';
import { SendersService, type SenderFactory } from './services/senders.service.js';
import { defaultSourceFactory } from './services/source-factory.js';
import { UsersService } from './services/users.service.js';
import { migrate } from './store/migrate.js';
import { openDatabase, type OpenedDatabase } from './store/open.js';
import { Store } from './store/store.js';

export interface RuntimeOptions {
  settings: Settings;
  /** For `${VAR}` in config files. */
  env: Record<string, string | undefined>;
  logger?: Logger;
  /** Human-readable lines (URL, first admin password, key warning); defaults to stdout. */
  print?: (line: string) => void;
  webRoot?: string;
  /** Listen on settings.host/port (default) or only build the app (tests use inject). */
  listen?: boolean;
  /** Tests and benchmarks: other sources or senders, a faster safety-net resync. */
  sourceFactory?: SourceFactory;
  senderFactory?: SenderFactory;
  resyncMs?: number;
}

/** The mail path: connectors → ingest → router → outbox, running on this node. */
export interface MailPath {
  retention: RetentionService;
  pauseWatch: PauseWatchService;
  pool: ParserPool;
  routing: RoutingService;
  senders: SendersService;
  outbox: OutboxService;
  ingest: IngestService;
  conversations: ConversationsService;
  mailboxes: MailboxesService;
}

async function startMailPath(core: Core, logger: Logger, opts: RuntimeOptions): Promise<MailPath> {
  const { store, bus, secrets, users } = core;
  const pool = new ParserPool({});
  const routing = new RoutingService({ store, bus, users, logger: logger.child({ part: 'routing' }) });
  const senders = new SendersService({ store, secrets, ...(opts.senderFactory ? { factory: opts.senderFactory } : {}) });
  const outbox = new OutboxService({ store, bus, logger: logger.child({ part: 'outbox' }), senderFor: (id) => senders.senderFor(id) });
  // Storing and filing mail and retention use the database after the API and routing (Store.background).
  const ingest = new IngestService({ store: store.background, bus, secrets, routing, pool, logger: logger.child({ part: 'ingest' }), onOutbox: () => outbox.kick() });
  const display = new MessageDisplay({ store, pool, logger: logger.child({ part: 'display' }) });
  const conversations = new ConversationsService({ store, bus, secrets, routing, outbox, display });
  const mailboxes = new MailboxesService({
    store,
    secrets,
    bus,
    sink: new StoreInboundSink(store.background, (stored) => ingest.kick(stored)),
    logger: logger.child({ part: 'mailboxes' }),
    sourceFactory: opts.sourceFactory ?? defaultSourceFactory,
    ...(opts.resyncMs ? { resyncMs: opts.resyncMs } : {}),
  });
  const retention = new RetentionService({ store: store.background, logger: logger.child({ part: 'retention' }) });
  await routing.start();
  await outbox.start();
  ingest.start();
  await mailboxes.start();
  retention.schedule();
  const pauseWatch = new PauseWatchService({ store, bus, logger: logger.child({ part: 'pauses' }) });
  pauseWatch.start();
  return { retention, pauseWatch, pool, routing, senders, outbox, ingest, conversations, mailboxes };
}

/** Stops the mail path: connectors first (nothing new comes in), then what is in flight. */
async function stopMailPath(m: MailPath): Promise<void> {
  m.retention.stop();
  m.pauseWatch.stop();
  await m.mailboxes.stop();
  await m.ingest.stop();
  await m.outbox.stop();
  await m.routing.stop();
  await m.pool.close({ drain: false });
  await m.senders.close();
}

/** The services wired over one database: what both the server and the CLI's direct mode use. */
export interface Core {
  opened: OpenedDatabase;
  store: Store;
  secrets: SecretBox;
  bus: EventBus;
  users: UsersService;
  config: ConfigService;
  directory: DirectoryService;
  keyInfo: Awaited<ReturnType<typeof loadSecretKeys>>;
}

/** Opens the database (locking the embedded folder), migrates, and wires the services. */
export async function openCore(settings: Settings, env: Record<string, string | undefined>, logger: Logger): Promise<Core> {
  const opened = await openDatabase({
    databaseUrl: settings.databaseUrl,
    dataDir: settings.dataDir,
    onPoolError: (err) => logger.warn({ err: errorMessage(err) }, 'database connection lost; it will reconnect on the next query'),
  });
  try {
    const keyInfo = await loadSecretKeys(settings);
    const { applied } = await migrate(opened.database, { onProgress: (msg) => logger.info(msg) });
    if (applied.length) logger.info({ applied }, 'database migrated');
    const store = new Store(opened.database);
    const secrets = new SecretBox(keyInfo.keys);
    const bus = new EventBus((err, event) => logger.error({ err, event: event.type }, 'event listener failed'));
    const users = new UsersService({ store, secrets, bus });
    return {
      opened,
      store,
      secrets,
      bus,
      users,
      config: new ConfigService({ store, secrets, bus, env }),
      directory: new DirectoryService({ store }),
      keyInfo,
    };
  } catch (err) {
    await opened.close();
    throw err;
  }
}

export class Runtime {
  private closed = false;

  private constructor(
    readonly core: Core,
    readonly app: FastifyInstance,
    readonly hub: WebSocketHub,
    readonly url: string,
    readonly logger: Logger,
    readonly mail: MailPath,
  ) {}

  static async start(opts: RuntimeOptions): Promise<Runtime> {
    const { settings } = opts;
    const print = opts.print ?? ((line: string) => process.stdout.write(`${line}\n`));
    const logger = opts.logger ?? createLogger({ level: settings.logLevel });
    const { version } = packageInfo();
    const core = await openCore(settings, opts.env, logger);
    let mail: MailPath | undefined;
    try {
      if (core.keyInfo.generated) {
        print(`A new secret key was written to ${core.keyInfo.file}. Back it up: without it, stored mailbox passwords cannot be decrypted.`);
      }
      const boot = await core.users.bootstrap(settings.adminLogin, settings.adminPassword);
      if (boot.created) {
        logger.info({ login: boot.login }, 'created the first admin');
        print(boot.generatedPassword
          ? `Created the admin "${boot.login}" with the password: ${boot.generatedPassword}  (shown once; change it or set MAILROOM_ADMIN_PASSWORD before the first start)`
          : `Created the admin "${boot.login}" with the password from MAILROOM_ADMIN_PASSWORD.`);
      }
      if (settings.configFile) await applyStartupConfig(core, settings.configFile, print);

      mail = await startMailPath(core, logger, opts);
      const metrics = new Metrics();
      const pool = mail.pool;
      metrics.watchParserPool(() => pool.stats());
      const hub = new WebSocketHub(core.bus, metrics);
      const localToken = randomBytes(32).toString('base64url');
      const auth = new AuthService({ store: core.store, users: core.users }, localToken);
      const nodeId = `${os.hostname()}:${process.pid}`;
      const deps: RouteDeps = {
        database: core.opened.database,
        auth,
        users: core.users,
        config: core.config,
        directory: core.directory,
        conversations: mail.conversations,
        diagnostics: new DiagnosticsService({ store: core.store, secrets: core.secrets }),
        quarantine: new QuarantineService({ store: core.store, kick: () => mail!.ingest.kick() }),
        retention: mail.retention,
        routing: mail.routing,
        metrics,
        hub,
        nodeId,
        version,
        publicUrl: settings.publicUrl,
      };
      const app = await buildApp(deps, { logger, webRoot: opts.webRoot });
      app.addHook('onClose', async () => hub.close());
      let url = settings.publicUrl;
      if (opts.listen ?? true) {
        const address = await app.listen({ host: settings.host, port: settings.port });
        const port = Number(new URL(address).port);
        url = settings.publicUrl.replace(/:\d+$/, `:${port}`);
        // The CLI on this machine reaches the server through this file (0600, like the data).
        await core.opened.lock?.update({ url: `http://${settings.host === '0.0.0.0' ? '127.0.0.1' : settings.host}:${port}`, localToken });
      } else {
        await app.ready();
      }
      print(`Mailroom ${version} is running at ${url}  (database: ${core.opened.database.kind === 'pglite' ? `embedded, ${settings.dataDir}` : 'PostgreSQL server'})`);
      print(`Sign in as "${boot.login}". Health: ${url}/api/v1/health`);
      return new Runtime(core, app, hub, url, logger, mail);
    } catch (err) {
      if (mail) await stopMailPath(mail).catch(() => undefined);
      await core.opened.close();
      throw err;
    }
  }

  /** Stops cleanly: HTTP and WebSockets first, then the database (PGlite must be closed to exit). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await stopMailPath(this.mail);
    await this.app.close();
    await this.core.opened.close();
  }
}

async function applyStartupConfig(core: Core, file: string, print: (line: string) => void): Promise<void> {
  let text: string;
  try {
    text = await readFile(path.resolve(file), 'utf8');
  } catch (err) {
    throw new AppError('CONFIG_FILE_UNREADABLE', `Cannot read MAILROOM_CONFIG ${file}: ${errorMessage(err)}`, {
      hint: 'Check the path in MAILROOM_CONFIG, or unset it.',
    });
  }
  const result = await core.config.apply(text, SYSTEM_ACTOR, {});
  print(`Applied ${file}: ${result.created.length} created, ${result.updated.length} updated, ${result.deleted.length} deleted.`);
  if (result.changes.length) print(formatChanges(result));
}
