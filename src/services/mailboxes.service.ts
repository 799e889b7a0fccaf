/**
 * Runs one connector per enabled mailbox and keeps the set in step with the config: a mailbox
 * whose settings (or secrets) changed is reconnected, a removed one is stopped, a disabled one
 * shows `disabled`. Status changes go to the mailbox row, the connection log and the WebSocket.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { SecretBox } from '../auth/secret-box.js';
import { mailboxSchema, type MailboxSpec } from '../config/schema.js';
import type { MailSource } from '../connectors/mail-source.js';
import { AppError, errorMessage } from '../domain/errors.js';
import type { EventBus } from '../domain/events.js';
import type { MailboxState } from '../domain/types.js';
import type { MailboxRow } from '../store/config.repository.js';
import type { Store } from '../store/store.js';
import { decryptSecrets, specWithSecrets } from './config-sections.js';
import { MailboxRunner, type InboundSink, type StatusReporter } from './mailbox-runner.js';

/** Builds the source for a mailbox; returns an AppError for a protocol this build cannot serve. */
export type SourceFactory = (spec: MailboxSpec, ctx: { mailboxId: number; logger: Logger }) => MailSource | AppError;

export interface MailboxesDeps {
  store: Store;
  secrets: SecretBox;
  bus: EventBus;
  sink: InboundSink;
  logger: Logger;
  sourceFactory: SourceFactory;
  resyncMs?: number;
}

interface Running {
  runner: MailboxRunner;
  fingerprint: string;
}

/** A mailbox's spec as its connector needs it: secrets decrypted, `proxy: inherit` resolved. */
export function effectiveMailboxSpec(secrets: SecretBox, row: MailboxRow, proxy: string | null): MailboxSpec {
  const spec = specWithSecrets(secrets, 'mailboxes', row, (s) => mailboxSchema.parse(s));
  return { ...spec, proxy: spec.proxy === 'inherit' ? (proxy ?? 'none') : spec.proxy };
}

/** The global proxy applied to `proxy: inherit`. */
export async function globalProxy(store: Store, secrets: SecretBox): Promise<string | null> {
  const row = await store.repos.config.getSetting('proxy');
  if (!row) return null;
  const url = (row.value as { url: string }).url;
  if (url === 'none') return null;
  const password = decryptSecrets(secrets, 'settings', 'proxy', row.secrets_enc)['proxy.password'];
  return password === undefined ? url : url.replace(/:\*{8}@/, `:${encodeURIComponent(password)}@`);
}

export class MailboxesService {
  private readonly running = new Map<number, Running>();
  private unsubscribe: (() => void) | undefined;
  private reconciling: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly deps: MailboxesDeps) {}

  async start(): Promise<void> {
    await this.reconcile();
    this.unsubscribe = this.deps.bus.subscribe((e) => {
      if (e.type === 'config.applied') void this.reconcile();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await this.reconciling;
    await Promise.all([...this.running.values()].map((r) => r.runner.stop()));
    this.running.clear();
  }

  /** The runner of a mailbox (tests use it to kick a sync). */
  runner(mailboxId: number): MailboxRunner | undefined {
    return this.running.get(mailboxId)?.runner;
  }

  reconcile(): Promise<void> {
    this.reconciling = this.reconciling.then(() => this.doReconcile()).catch((err: unknown) => this.deps.logger.error({ err: errorMessage(err) }, 'mailbox reconcile failed'));
    return this.reconciling;
  }

  private async doReconcile(): Promise<void> {
    if (this.stopped) return;
    const rows = await this.deps.store.repos.config.listMailboxes();
    const proxy = await globalProxy(this.deps.store, this.deps.secrets);
    const wanted = new Map<number, { row: MailboxRow; fingerprint: string }>();
    for (const row of rows) {
      // Settings, secrets and, for a mailbox that inherits it, the global proxy decide whether a
      // running connector is current: changing the global proxy reconnects exactly those.
      const inherited = ((row.spec as { proxy?: string }).proxy ?? 'inherit') === 'inherit' ? proxy : null;
      const fingerprint = createHash('sha256').update(JSON.stringify([row.spec, row.secrets_enc, row.enabled, inherited])).digest('hex');
      if (row.enabled) wanted.set(row.id, { row, fingerprint });
      else if (row.status_state !== 'disabled') await this.report(row.id, row.name).status('disabled', null);
    }
    for (const [id, r] of this.running) {
      if (wanted.get(id)?.fingerprint !== r.fingerprint) {
        await r.runner.stop();
        this.running.delete(id);
      }
    }
    for (const [id, { row, fingerprint }] of wanted) {
      if (this.running.has(id)) continue;
      const runner = this.createRunner(row, proxy);
      this.running.set(id, { runner, fingerprint });
      runner.start();
    }
  }

  private createRunner(row: MailboxRow, proxy: string | null): MailboxRunner {
    const logger = this.deps.logger.child({ mailbox: row.name });
    const effective = effectiveMailboxSpec(this.deps.secrets, row, proxy);
    const spec = effective;
    return new MailboxRunner({
      mailboxId: row.id,
      name: row.name,
      createSource: () => {
        const source = this.deps.sourceFactory(effective, { mailboxId: row.id, logger });
        if (source instanceof AppError) return unavailableSource(source);
        return source;
      },
      sink: this.deps.sink,
      reporter: this.report(row.id, row.name),
      logger,
      reconnectS: spec.liveness.reconnect_s,
      resyncMs: this.deps.resyncMs ?? 5 * 60_000,
      pollMs: spec.poll_s * 1000,
    });
  }

  private report(mailboxId: number, name: string): StatusReporter {
    const { store, bus } = this.deps;
    return {
      async status(state: MailboxState, error: AppError | null, warnings?: string[]) {
        const row = await store.repos.mailboxStatus.setStatus(mailboxId, state, error ? { code: error.code, message: error.message, hint: error.hint ?? '' } : null, warnings);
        if (!row) return;
        bus.publish(
          'mailbox.status',
          {
            id: mailboxId,
            name,
            state: row.status_state,
            since: row.status_since.toISOString(),
            lastError: row.status_error ?? null,
            lastSyncAt: row.last_sync_at?.toISOString() ?? null,
            imported: row.imported_count,
            warnings: row.status_warnings ?? [],
          },
          { kind: 'roles', roles: ['supervisor'] },
        );
      },
      async event(kind: string, message: string, detail?: unknown) {
        await store.repos.mailboxStatus.addEvent({ mailboxId, kind, message, ...(detail === undefined ? {} : { detail }) });
      },
    };
  }
}

/** A source that always fails with the reason it cannot be built (shown as the mailbox's error). */
function unavailableSource(error: AppError): MailSource {
  return {
    capabilities: { push: false, move: false, flag: false, changeMarker: false },
    connect: () => Promise.reject(error),
    read: () => Promise.resolve(),
    acknowledge: () => Promise.resolve(),
    watch: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}
