/**
 * One handler per config section: how to load what is stored, compare it with the file, and
 * create, update or delete it inside the apply transaction. Secrets are resolved here (a
 * `********` in the file keeps the stored value) and encrypted with their row as associated data.
 */
import type { SecretBox } from '../auth/secret-box.js';
import { canonicalJson, changedFields, joinSecrets, splitSecrets, type SecretMap } from '../config/secrets.js';
import {
  mailboxSchema,
  pauseReasonSchema,
  queueSchema,
  REDACTED,
  senderSchema,
  userSchema,
  type MailboxSpec,
  type PauseReasonSpec,
  type QueueSpec,
  type SenderSpec,
  type UserSpec,
} from '../config/schema.js';
import type { ErrorDetail } from '../domain/errors.js';
import type { Repos } from '../store/store.js';
import type { UserRecord } from '../store/user.repository.js';

export type SectionName = 'proxy' | 'senders' | 'queues' | 'mailboxes' | 'pause_reasons' | 'users';

export interface Change {
  section: SectionName;
  key: string;
  action: 'create' | 'update' | 'delete';
  fields?: string[];
  before?: unknown;
  after?: unknown;
}

/** What the apply transaction works with: repos bound to it, plus collected problems. */
export interface ApplyContext {
  r: Repos;
  secrets: SecretBox;
  problems: ErrorDetail[];
  changes: Change[];
  dryRun: boolean;
}

// ---------------------------------------------------------------------------------------------
// Secrets of senders, mailboxes and the global proxy.

export function decryptSecrets(box: SecretBox, table: string, row: string, enc: string | null): SecretMap {
  return enc ? (JSON.parse(box.decrypt(enc, { table, column: 'secrets_enc', row })) as SecretMap) : {};
}

export function encryptSecrets(box: SecretBox, table: string, row: string, secrets: SecretMap): string | null {
  return Object.keys(secrets).length === 0 ? null : box.encrypt(JSON.stringify(secrets), { table, column: 'secrets_enc', row });
}

/**
 * Resolves `********` against the stored secrets. A placeholder with nothing stored behind it is
 * a problem (the admin must give the real value); returns the secrets to store.
 */
function resolveSecrets(incoming: SecretMap, stored: SecretMap, path: string, problems: ErrorDetail[]): SecretMap {
  const out: SecretMap = {};
  for (const [key, value] of Object.entries(incoming)) {
    if (value !== REDACTED) out[key] = value;
    else if (stored[key] !== undefined) out[key] = stored[key];
    else problems.push({ path: `${path}.${key === 'proxy.password' ? 'proxy' : key}`, message: `"${REDACTED}" stands for a stored secret, but none is stored: give the real value` });
  }
  return out;
}

const sameSecrets = (a: SecretMap, b: SecretMap): boolean => canonicalJson(a) === canonicalJson(b);

// ---------------------------------------------------------------------------------------------
// Senders, queues, mailboxes: spec rows keyed by name.

interface SpecRow {
  id: number;
  name: string;
  spec: unknown;
  secrets_enc?: string | null;
}

interface SpecSection<S extends { name: string }> {
  name: 'senders' | 'queues' | 'mailboxes';
  hasSecrets: boolean;
  normalize(stored: unknown): S;
  load(r: Repos): Promise<SpecRow[]>;
  insert(ctx: ApplyContext, spec: S, secretsEnc: string | null): Promise<void>;
  update(ctx: ApplyContext, id: number, spec: S, secretsEnc: string | null): Promise<void>;
}

async function idByName(load: () => Promise<SpecRow[]>, name: string): Promise<number> {
  const row = (await load()).find((x) => x.name === name);
  if (!row) throw new Error(`reference to "${name}" not found inside the apply transaction`);
  return row.id;
}

export const senderSection: SpecSection<SenderSpec> = {
  name: 'senders',
  hasSecrets: true,
  normalize: (s) => senderSchema.parse(s),
  load: (r) => r.config.listSenders(),
  insert: async (ctx, spec, enc) => void (await ctx.r.config.insertSender({ name: spec.name, type: spec.type, spec, secretsEnc: enc })),
  update: (ctx, id, spec, enc) => ctx.r.config.updateSender(id, { type: spec.type, spec, secretsEnc: enc }),
};

export const queueSection: SpecSection<QueueSpec> = {
  name: 'queues',
  hasSecrets: false,
  normalize: (s) => queueSchema.parse(s),
  load: (r) => r.config.listQueues(),
  insert: async (ctx, spec) =>
    void (await ctx.r.config.insertQueue({ name: spec.name, senderId: await idByName(() => ctx.r.config.listSenders(), spec.sender), spec })),
  update: async (ctx, id, spec) => ctx.r.config.updateQueue(id, { senderId: await idByName(() => ctx.r.config.listSenders(), spec.sender), spec }),
};

export const mailboxSection: SpecSection<MailboxSpec> = {
  name: 'mailboxes',
  hasSecrets: true,
  normalize: (s) => mailboxSchema.parse(s),
  load: (r) => r.config.listMailboxes(),
  insert: async (ctx, spec, enc) =>
    void (await ctx.r.config.insertMailbox({
      name: spec.name,
      protocol: spec.protocol,
      queueId: await idByName(() => ctx.r.config.listQueues(), spec.queue),
      spec,
      secretsEnc: enc,
      enabled: spec.enabled,
    })),
  update: async (ctx, id, spec, enc) =>
    ctx.r.config.updateMailbox(id, {
      protocol: spec.protocol,
      queueId: await idByName(() => ctx.r.config.listQueues(), spec.queue),
      spec,
      secretsEnc: enc,
      enabled: spec.enabled,
    }),
};

/** Creates and updates one spec section; returns the names it holds after the apply. */
export async function applySpecSection<S extends { name: string; auth?: { password?: string } | undefined; proxy?: string }>(
  ctx: ApplyContext,
  section: SpecSection<S>,
  items: S[] | undefined,
): Promise<void> {
  if (!items) return;
  const stored = new Map((await section.load(ctx.r)).map((row) => [row.name, row]));
  for (const [i, item] of items.entries()) {
    const { spec, secrets: incoming } = section.hasSecrets ? splitSecrets(item) : { spec: item, secrets: {} };
    const row = stored.get(item.name);
    const storedSecrets = row && section.hasSecrets ? decryptSecrets(ctx.secrets, section.name, row.name, row.secrets_enc ?? null) : {};
    const resolved = resolveSecrets(incoming, storedSecrets, `${section.name}[${i}]`, ctx.problems);
    const enc = () => (section.hasSecrets ? encryptSecrets(ctx.secrets, section.name, item.name, resolved) : null);
    if (!row) {
      ctx.changes.push({ section: section.name, key: item.name, action: 'create', after: spec });
      await section.insert(ctx, spec, enc());
      continue;
    }
    const before = section.normalize(row.spec);
    const fields = changedFields(before as Record<string, unknown>, spec as Record<string, unknown>);
    const secretsChanged = !sameSecrets(resolved, storedSecrets);
    if (fields.length === 0 && !secretsChanged) continue;
    ctx.changes.push({
      section: section.name,
      key: item.name,
      action: 'update',
      fields: secretsChanged ? [...new Set([...fields, ...Object.keys({ ...resolved, ...storedSecrets })])].sort() : fields,
      before,
      after: spec,
    });
    await section.update(ctx, row.id, spec, enc());
  }
}

export async function pruneSpecSection(ctx: ApplyContext, section: SpecSection<{ name: string }>, keep: Set<string>): Promise<void> {
  for (const row of await section.load(ctx.r)) {
    if (keep.has(row.name)) continue;
    ctx.changes.push({ section: section.name, key: row.name, action: 'delete', before: section.normalize(row.spec) });
    await ctx.r.config.softDelete(section.name, row.id);
  }
}

/** The stored spec with secrets decrypted: what a connector needs to log in. */
export function specWithSecrets<S extends { auth?: { password?: string } | undefined; proxy?: string }>(
  box: SecretBox,
  table: 'senders' | 'mailboxes',
  row: { name: string; spec: unknown; secrets_enc: string | null },
  normalize: (s: unknown) => S,
): S {
  return joinSecrets(normalize(row.spec), decryptSecrets(box, table, row.name, row.secrets_enc));
}

// ---------------------------------------------------------------------------------------------
// Pause reasons (keyed by code) and the global proxy (a setting).

export function pauseReasonSpec(row: { code: string; label: string; productive: boolean; max_minutes: number | null }): PauseReasonSpec {
  return pauseReasonSchema.parse({ code: row.code, label: row.label, productive: row.productive, ...(row.max_minutes ? { max_minutes: row.max_minutes } : {}) });
}

export async function applyPauseReasons(ctx: ApplyContext, items: PauseReasonSpec[] | undefined, prune: boolean): Promise<void> {
  if (!items) return;
  const stored = new Map((await ctx.r.config.listPauseReasons()).map((row) => [row.code, row]));
  for (const [position, item] of items.entries()) {
    const row = stored.get(item.code);
    const before = row ? pauseReasonSpec(row) : undefined;
    const fields = before ? changedFields(before, item) : [];
    if (!row) ctx.changes.push({ section: 'pause_reasons', key: item.code, action: 'create', after: item });
    else if (fields.length > 0) ctx.changes.push({ section: 'pause_reasons', key: item.code, action: 'update', fields, before, after: item });
    if (!row || fields.length > 0 || row.position !== position) {
      await ctx.r.config.upsertPauseReason({ code: item.code, label: item.label, productive: item.productive, max_minutes: item.max_minutes ?? null, position });
    }
  }
  if (!prune) return;
  const keep = new Set(items.map((x) => x.code));
  for (const row of stored.values()) {
    if (keep.has(row.code)) continue;
    ctx.changes.push({ section: 'pause_reasons', key: row.code, action: 'delete', before: pauseReasonSpec(row) });
    await ctx.r.config.deletePauseReason(row.code);
  }
}

export async function applyProxy(ctx: ApplyContext, proxy: string | undefined, prune: boolean): Promise<void> {
  const row = await ctx.r.config.getSetting('proxy');
  const beforeUrl = row ? (row.value as { url: string }).url : undefined;
  if (proxy === undefined) {
    if (prune && row) {
      ctx.changes.push({ section: 'proxy', key: 'proxy', action: 'delete', before: beforeUrl });
      await ctx.r.config.deleteSetting('proxy');
    }
    return;
  }
  const { spec, secrets: incoming } = splitSecrets({ proxy });
  const stored = row ? decryptSecrets(ctx.secrets, 'settings', 'proxy', row.secrets_enc) : {};
  const resolved = resolveSecrets(incoming, stored, 'proxy', ctx.problems);
  if (row && beforeUrl === spec.proxy && sameSecrets(resolved, stored)) return;
  ctx.changes.push({ section: 'proxy', key: 'proxy', action: row ? 'update' : 'create', before: beforeUrl, after: spec.proxy });
  await ctx.r.config.putSetting('proxy', { url: spec.proxy }, encryptSecrets(ctx.secrets, 'settings', 'proxy', resolved));
}

// ---------------------------------------------------------------------------------------------
// Users (keyed by login): roles, skills, languages and a password kept as an argon2id hash.

/** A password's fingerprint purpose: bound to the login, so equal passwords differ per user. */
export const passwordPurpose = (login: string): string => `user-password:${login.toLowerCase()}`;

export function userSpec(u: UserRecord): UserSpec {
  return userSchema.parse({
    login: u.login,
    name: u.name,
    ...(u.email ? { email: u.email } : {}),
    roles: [...u.roles].sort(),
    ...(u.password_hash ? { password: REDACTED } : {}),
    skills: u.skills,
    languages: u.languages,
    capacity: u.capacity,
  });
}

function comparableUser(s: UserSpec): Omit<UserSpec, 'password'> {
  const { password: _password, ...rest } = s;
  return { ...rest, name: s.name ?? s.login, roles: [...s.roles].sort() };
}

/** Hashes prepared before the transaction (argon2 is slow): login → new hash and fingerprint. */
export type PreparedPasswords = Map<string, { hash: string; fp: string }>;

export async function applyUsers(ctx: ApplyContext, items: UserSpec[] | undefined, prepared: PreparedPasswords): Promise<void> {
  if (!items) return;
  for (const item of items) {
    const row = await ctx.r.users.findByLogin(item.login);
    const wanted = comparableUser(item);
    const pw = item.password !== undefined && item.password !== REDACTED ? prepared.get(item.login.toLowerCase()) : undefined;
    const passwordChanged = item.password !== undefined && item.password !== REDACTED && !ctx.secrets.fingerprintMatches(row?.password_fp ?? null, passwordPurpose(item.login), item.password);
    if (item.password === REDACTED && !row?.password_hash) {
      ctx.problems.push({ path: `users[${items.indexOf(item)}].password`, message: `"${REDACTED}" stands for a stored password, but none is stored: give the real password` });
    }
    if (!row) {
      ctx.changes.push({ section: 'users', key: item.login, action: 'create', after: { ...wanted, ...(item.password ? { password: REDACTED } : {}) } });
      if (ctx.dryRun) continue;
      const id = await ctx.r.users.insert({
        login: item.login,
        name: wanted.name ?? item.login,
        email: item.email ?? null,
        passwordHash: pw?.hash ?? null,
        passwordFp: pw?.fp ?? null,
        capacity: item.capacity,
        managedByConfig: true,
      });
      await ctx.r.users.setRoles(id, item.roles);
      await ctx.r.users.setSkills(id, item.skills);
      await ctx.r.users.setLanguages(id, item.languages);
      continue;
    }
    const before = comparableUser(userSpec(row));
    const fields = changedFields(before, wanted);
    if (fields.length === 0 && !passwordChanged) continue;
    ctx.changes.push({ section: 'users', key: item.login, action: 'update', fields: passwordChanged ? [...fields, 'password'].sort() : fields, before, after: wanted });
    if (ctx.dryRun) continue;
    await ctx.r.users.update(row.id, {
      name: wanted.name ?? item.login,
      email: item.email ?? null,
      capacity: item.capacity,
      managed_by_config: true,
      ...(passwordChanged && pw ? { password_hash: pw.hash, password_fp: pw.fp } : {}),
    });
    if (fields.includes('roles')) await ctx.r.users.setRoles(row.id, item.roles);
    if (fields.includes('skills')) await ctx.r.users.setSkills(row.id, item.skills);
    if (fields.includes('languages')) await ctx.r.users.setLanguages(row.id, item.languages);
  }
}

export async function pruneUsers(ctx: ApplyContext, keep: Set<string>, actorUserId: number | null, warnings: string[]): Promise<void> {
  for (const u of await ctx.r.users.listAll()) {
    if (keep.has(u.login.toLowerCase())) continue;
    if (u.id === actorUserId) {
      warnings.push(`users: kept "${u.login}", the user applying this config, though the file does not name it`);
      continue;
    }
    ctx.changes.push({ section: 'users', key: u.login, action: 'delete', before: comparableUser(userSpec(u)) });
    if (!ctx.dryRun) await ctx.r.users.softDelete(u.id);
  }
}
