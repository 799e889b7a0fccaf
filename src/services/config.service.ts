/**
 * Config as code (API.md): apply a YAML/JSON file atomically and idempotently, keyed by name or
 * login, with `--prune` and `--dry-run`; export it back with secrets as "********". One
 * transaction does the whole apply, so a crash in the middle leaves the old config or the new,
 * never a mix; a dry run is the same code path, rolled back.
 */
import { stringify } from 'yaml';
import { hashPassword } from '../auth/password.js';
import type { SecretBox } from '../auth/secret-box.js';
import { configInvalid, validateConfig, type KnownNames } from '../config/load.js';
import { configFileSchema, DEFAULT_PAUSE_REASONS, type ConfigFile } from '../config/schema.js';
import type { ErrorDetail } from '../domain/errors.js';
import type { EventBus } from '../domain/events.js';
import type { Actor } from '../domain/types.js';
import type { Store } from '../store/store.js';
import {
  applyPauseReasons,
  applyProxy,
  applySpecSection,
  applyUsers,
  mailboxSection,
  passwordPurpose,
  pauseReasonSpec,
  pruneSpecSection,
  pruneUsers,
  queueSection,
  senderSection,
  userSpec,
  type ApplyContext,
  type Change,
  type PreparedPasswords,
} from './config-sections.js';

export interface ApplyOptions {
  prune?: boolean;
  dryRun?: boolean;
}

export interface ApplyResult {
  /** `section/key` of each entity created, updated or deleted. */
  created: string[];
  updated: string[];
  deleted: string[];
  changes: Omit<Change, 'before' | 'after'>[];
  warnings: string[];
  dryRun: boolean;
}

class DryRunRollback extends Error {
  constructor(readonly result: ApplyResult) {
    super('dry run');
  }
}

export interface ConfigServiceDeps {
  store: Store;
  secrets: SecretBox;
  bus: EventBus;
  /** For `${VAR}` substitution. */
  env: Record<string, string | undefined>;
}

export class ConfigService {
  constructor(private readonly deps: ConfigServiceDeps) {}

  private async knownNames(prune: boolean): Promise<KnownNames> {
    if (prune) return { senders: new Set(), queues: new Set() };
    const [senders, queues] = await Promise.all([this.deps.store.repos.config.listSenders(), this.deps.store.repos.config.listQueues()]);
    return { senders: new Set(senders.map((s) => s.name)), queues: new Set(queues.map((q) => q.name)) };
  }

  /** argon2 hashes for passwords that changed, computed before the transaction opens. */
  private async preparePasswords(config: ConfigFile, dryRun: boolean): Promise<PreparedPasswords> {
    const prepared: PreparedPasswords = new Map();
    if (dryRun) return prepared;
    for (const u of config.users ?? []) {
      if (!u.password || u.password === '********') continue;
      const row = await this.deps.store.repos.users.findByLogin(u.login);
      const purpose = passwordPurpose(u.login);
      if (row && this.deps.secrets.fingerprintMatches(row.password_fp, purpose, u.password)) continue;
      prepared.set(u.login.toLowerCase(), { hash: await hashPassword(u.password), fp: this.deps.secrets.fingerprint(purpose, u.password) });
    }
    return prepared;
  }

  async apply(input: unknown, actor: Actor, opts: ApplyOptions = {}): Promise<ApplyResult> {
    const prune = opts.prune ?? false;
    const dryRun = opts.dryRun ?? false;
    const config = validateConfig(input, this.deps.env, await this.knownNames(prune));
    const prepared = await this.preparePasswords(config, dryRun);
    const warnings: string[] = [];
    let result: ApplyResult;
    try {
      result = await this.deps.store.transaction(async (r) => {
        await r.config.lockForApply();
        const adminsBefore = await r.users.countWithRole('admin');
        const ctx: ApplyContext = { r, secrets: this.deps.secrets, problems: [], changes: [], dryRun };
        await applyProxy(ctx, config.proxy, prune);
        await applySpecSection(ctx, senderSection, config.senders);
        await applySpecSection(ctx, queueSection, config.queues);
        await applySpecSection(ctx, mailboxSection, config.mailboxes);
        // API.md: pause reasons default to the built-in list when the file has none; a pruning
        // apply of such a file therefore resets them to the defaults rather than deleting all.
        await applyPauseReasons(ctx, config.pause_reasons ?? (prune ? DEFAULT_PAUSE_REASONS : undefined), prune);
        await applyUsers(ctx, config.users, prepared);
        if (prune) {
          await pruneUsers(ctx, new Set((config.users ?? []).map((u) => u.login.toLowerCase())), actor.userId, warnings);
          await pruneSpecSection(ctx, mailboxSection, new Set((config.mailboxes ?? []).map((x) => x.name)));
          await pruneSpecSection(ctx, queueSection, new Set((config.queues ?? []).map((x) => x.name)));
          await pruneSpecSection(ctx, senderSection, new Set((config.senders ?? []).map((x) => x.name)));
        }
        if (!dryRun && adminsBefore > 0 && (await r.users.countWithRole('admin')) === 0) {
          ctx.problems.push({ path: 'users', message: 'this would leave no user with the admin role: keep at least one admin' });
        }
        if (ctx.problems.length > 0) throw configInvalid(ctx.problems);
        await r.audit.write(
          actor,
          ctx.changes.map((c) => ({ action: `config.${c.action}`, entityType: c.section, entityKey: c.key, before: c.before, after: c.after })),
        );
        const summary = summarize(ctx.changes, warnings, dryRun);
        if (dryRun) throw new DryRunRollback(summary);
        return summary;
      });
    } catch (err) {
      if (err instanceof DryRunRollback) return err.result;
      throw err;
    }
    if (result.created.length + result.updated.length + result.deleted.length > 0) {
      this.deps.bus.publish('config.applied', { created: result.created, updated: result.updated, deleted: result.deleted, by: actor.login });
    }
    return result;
  }

  /** The stored config in the file's format, secrets as "********"; applying it changes nothing. */
  async export(): Promise<ConfigFile> {
    const r = this.deps.store.repos;
    const [proxy, senders, queues, mailboxes, reasons, users] = await Promise.all([
      r.config.getSetting('proxy'),
      r.config.listSenders(),
      r.config.listQueues(),
      r.config.listMailboxes(),
      r.config.listPauseReasons(),
      r.users.listAll(),
    ]);
    const out = {
      ...(proxy ? { proxy: (proxy.value as { url: string }).url } : {}),
      senders: senders.map((s) => senderSection.normalize(s.spec)),
      mailboxes: mailboxes.map((m) => mailboxSection.normalize(m.spec)),
      queues: queues.map((q) => queueSection.normalize(q.spec)),
      pause_reasons: reasons.map(pauseReasonSpec),
      users: users.map(userSpec),
    };
    return configFileSchema.parse(out);
  }

  async exportYaml(): Promise<string> {
    return stringify(await this.export(), { lineWidth: 0 });
  }
}

function summarize(changes: Change[], warnings: string[], dryRun: boolean): ApplyResult {
  const keys = (action: Change['action']) => changes.filter((c) => c.action === action).map((c) => `${c.section}/${c.key}`);
  return {
    created: keys('create'),
    updated: keys('update'),
    deleted: keys('delete'),
    changes: changes.map(({ before: _b, after: _a, ...c }) => c),
    warnings,
    dryRun,
  };
}

/** A diff an admin reads in a terminal (used by `config apply --dry-run`). */
export function formatChanges(result: ApplyResult): string {
  if (result.changes.length === 0) return 'No changes: the stored config already matches the file.';
  const sign = { create: '+', update: '~', delete: '-' } as const;
  const lines = result.changes.map((c) => `${sign[c.action]} ${c.section}/${c.key}${c.fields?.length ? ` (${c.fields.join(', ')})` : ''}`);
  return [...lines, ...result.warnings.map((w) => `! ${w}`)].join('\n');
}

export type { ErrorDetail };
