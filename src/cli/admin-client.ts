/**
 * Admin commands run either directly on the database or, while a server holds the embedded
 * data folder (PGlite is single-process), through that server's API with the local credential
 * it wrote into the 0600 lock file. Both implement `AdminClient`, so commands do not care.
 */
import { readFile } from 'node:fs/promises';
import pino from 'pino';
import type { Settings } from '../config/env.js';
import { configInvalid, parseConfigText, substituteKnownEnv } from '../config/load.js';
import { AppError } from '../domain/errors.js';
import type { Actor, Role } from '../domain/types.js';
import { lockPath, readLiveLock } from '../store/data-lock.js';
import { openCore, type Core } from '../runtime.js';
import type { ApplyOptions, ApplyResult } from '../services/config.service.js';
import { AuthService } from '../services/auth.service.js';
import { DiagnosticsService } from '../services/diagnostics.service.js';
import { RetentionService, type RetentionProgress, type RetentionResult } from '../services/retention.service.js';

export interface AddUserInput {
  login: string;
  roles: Role[];
  name?: string;
  email?: string;
  password?: string;
}

export interface DoctorTarget {
  kind: 'mailbox' | 'sender';
  id: number;
  name: string;
  enabled: boolean;
}

export interface DoctorResult {
  ok: boolean;
  steps: { name: string; ok: boolean; code?: string; ms: number; detail: string; hint?: string; warnings: string[] }[];
}

export interface AdminClient {
  readonly via: 'api' | 'database';
  purge(dryRun: boolean, onProgress: (p: RetentionProgress) => void): Promise<RetentionResult>;
  doctorTargets(): Promise<DoctorTarget[]>;
  runTest(target: DoctorTarget): Promise<DoctorResult>;
  applyConfig(text: string, opts: ApplyOptions): Promise<ApplyResult>;
  exportConfig(): Promise<string>;
  addUser(input: AddUserInput): Promise<{ login: string; password?: string }>;
  createToken(login: string, name: string): Promise<{ token: string }>;
  close(): Promise<void>;
}

const CLI_ACTOR: Actor = { kind: 'cli', userId: null, login: 'cli' };

class DirectAdminClient implements AdminClient {
  readonly via = 'database' as const;
  private readonly diagnostics: DiagnosticsService;
  constructor(private readonly core: Core) {
    this.diagnostics = new DiagnosticsService({ store: core.store, secrets: core.secrets });
  }

  purge(dryRun: boolean, onProgress: (p: RetentionProgress) => void) {
    return new RetentionService({ store: this.core.store, logger: pino({ level: 'silent' }) }).run({ dryRun, onProgress }, CLI_ACTOR);
  }

  async doctorTargets(): Promise<DoctorTarget[]> {
    const [mailboxes, senders] = await Promise.all([this.core.store.repos.config.listMailboxes(), this.core.store.repos.config.listSenders()]);
    return [
      ...mailboxes.map((m) => ({ kind: 'mailbox' as const, id: m.id, name: m.name, enabled: m.enabled })),
      ...senders.map((s) => ({ kind: 'sender' as const, id: s.id, name: s.name, enabled: true })),
    ];
  }
  runTest(t: DoctorTarget) {
    return t.kind === 'mailbox' ? this.diagnostics.testMailbox(t.id) : this.diagnostics.testSender(t.id);
  }

  applyConfig(text: string, opts: ApplyOptions) {
    return this.core.config.apply(text, CLI_ACTOR, opts);
  }
  exportConfig() {
    return this.core.config.exportYaml();
  }
  async addUser(input: AddUserInput) {
    const { user, generatedPassword } = await this.core.users.addUser(CLI_ACTOR, input);
    return { login: user.login, ...(generatedPassword ? { password: generatedPassword } : {}) };
  }
  async createToken(login: string, name: string) {
    const user = await this.core.users.findByLogin(login);
    const auth = new AuthService({ store: this.core.store, users: this.core.users });
    return auth.createToken(user.id, name, CLI_ACTOR);
  }
  close() {
    return this.core.opened.close();
  }
}

class ApiAdminClient implements AdminClient {
  readonly via = 'api' as const;
  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly env: Record<string, string | undefined>,
  ) {}

  private async call<T>(method: string, path: string, body?: { type: string; data: string }): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, accept: 'application/json', ...(body ? { 'content-type': body.type } : {}) },
        ...(body ? { body: body.data } : {}),
      });
    } catch (err) {
      throw new AppError('SERVER_UNREACHABLE', `The running Mailroom server at ${this.url} did not answer`, {
        hint: 'Check that the server is up (its health is at /api/v1/health); if it has stopped, run this command again.',
        cause: err,
      });
    }
    const text = await res.text();
    if (!res.ok) {
      let parsed: { error?: { code: string; message: string; hint?: string; details?: { path: string; message: string }[] } } = {};
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        // not JSON
      }
      const e = parsed.error;
      throw new AppError(e?.code ?? 'SERVER_ERROR', e?.message ?? `The server answered ${res.status}`, {
        status: res.status,
        ...(e?.hint ? { hint: e.hint } : {}),
        ...(e?.details ? { details: e.details } : {}),
      });
    }
    return (res.headers.get('content-type') ?? '').includes('json') ? (JSON.parse(text) as T) : (text as T);
  }

  /** `${VAR}` comes from the environment of whoever runs the command, not the server's. */
  /** Progress is not streamed through the API: the server logs it; the answer is the summary. */
  purge(dryRun: boolean) {
    return this.call<RetentionResult>('POST', `/api/v1/retention/run?dryRun=${dryRun}`);
  }

  async doctorTargets(): Promise<DoctorTarget[]> {
    const all = async <T>(path: string): Promise<T[]> => {
      const out: T[] = [];
      let cursor: string | undefined;
      do {
        const page = await this.call<{ items: T[]; nextCursor?: string }>('GET', `${path}?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        out.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      return out;
    };
    const mailboxes = await all<{ id: number; name: string; enabled: boolean }>('/api/v1/mailboxes');
    const senders = await all<{ id: number; name: string }>('/api/v1/senders');
    return [...mailboxes.map((m) => ({ kind: 'mailbox' as const, id: m.id, name: m.name, enabled: m.enabled })), ...senders.map((s) => ({ kind: 'sender' as const, id: s.id, name: s.name, enabled: true }))];
  }
  runTest(t: DoctorTarget) {
    return this.call<DoctorResult>('POST', `/api/v1/${t.kind === 'mailbox' ? 'mailboxes' : 'senders'}/${t.id}/test`);
  }

  applyConfig(text: string, opts: ApplyOptions) {
    const parsed = parseConfigText(text);
    if (parsed.errors.length > 0) throw configInvalid(parsed.errors);
    const q = new URLSearchParams({ prune: String(opts.prune ?? false), dryRun: String(opts.dryRun ?? false) });
    return this.call<ApplyResult>('PUT', `/api/v1/config?${q}`, { type: 'application/json', data: JSON.stringify(substituteKnownEnv(parsed.value, this.env)) });
  }
  async exportConfig() {
    const res = await fetch(`${this.url}/api/v1/config`, { headers: { authorization: `Bearer ${this.token}`, accept: 'application/yaml' } });
    if (!res.ok) return this.call<string>('GET', '/api/v1/config');
    return res.text();
  }
  async addUser(input: AddUserInput) {
    const r = await this.call<{ user: { login: string }; password?: string }>('POST', '/api/v1/users', { type: 'application/json', data: JSON.stringify(input) });
    return { login: r.user.login, ...(r.password ? { password: r.password } : {}) };
  }
  createToken(login: string, name: string) {
    return this.call<{ token: string }>('POST', '/api/v1/tokens', { type: 'application/json', data: JSON.stringify({ name, user: login }) });
  }
  async close() {}
}

/** The way in: through a live server that holds the embedded folder, else the database itself. */
export async function openAdminClient(settings: Settings, env: Record<string, string | undefined>): Promise<AdminClient> {
  if (!settings.databaseUrl) {
    const holder = await readLiveLock(settings.dataDir);
    if (holder) {
      const info = JSON.parse(await readFile(lockPath(settings.dataDir), 'utf8')) as { url?: string; localToken?: string };
      if (!info.url || !info.localToken) {
        throw new AppError('SERVER_STARTING', `Mailroom (process ${holder.pid}) holds ${settings.dataDir} but is not serving yet`, {
          hint: 'Wait until it prints its URL, then run this command again.',
        });
      }
      return new ApiAdminClient(info.url, info.localToken, env);
    }
  }
  const core = await openCore(settings, env, pino({ level: 'warn' }, pino.destination(2)));
  return new DirectAdminClient(core);
}
