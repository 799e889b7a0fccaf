/**
 * From config text to a validated `ConfigFile`: YAML (or JSON, which is YAML) → `${VAR}`
 * substitution → zod → duplicate names → references. Every problem is collected with its path
 * (`mailboxes[0].port: expected a number, got "993x"`) before anything is refused, so an admin
 * fixes the file in one pass.
 */
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { AppError, type ErrorDetail } from '../domain/errors.js';
import { configFileSchema, KEY_OF, SECTIONS, type ConfigFile } from './schema.js';

export type PathSegment = string | number | symbol;

/** `['mailboxes', 0, 'port']` → `mailboxes[0].port`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out || '(file)';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

const ARTICLE: Record<string, string> = {
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
  int: 'a whole number',
};

/** Turns zod issues into the plain sentences API.md shows. */
export function issuesToDetails(issues: readonly z.core.$ZodIssue[], prefix: PathSegment[] = []): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    switch (issue.code) {
      case 'invalid_type': {
        const input = (issue as { input?: unknown }).input;
        out.push({
          path: formatPath(path),
          message:
            input === undefined
              ? `is required (${ARTICLE[issue.expected] ?? issue.expected})`
              : `expected ${ARTICLE[issue.expected] ?? issue.expected}, got ${describe(input)}`,
        });
        break;
      }
      case 'unrecognized_keys':
        for (const key of issue.keys) out.push({ path: formatPath([...path, key]), message: 'unknown key' });
        break;
      case 'invalid_value':
        out.push({ path: formatPath(path), message: `expected one of: ${issue.values.map((v) => String(v)).join(', ')}` });
        break;
      case 'too_small':
        out.push({
          path: formatPath(path),
          message: issue.message.startsWith('Too small') ? `expected at least ${String(issue.minimum)}` : issue.message,
        });
        break;
      case 'too_big':
        out.push({
          path: formatPath(path),
          message: issue.message.startsWith('Too big') ? `expected at most ${String(issue.maximum)}` : issue.message,
        });
        break;
      case 'invalid_union': {
        out.push({ path: formatPath(path), message: issue.message.startsWith('Invalid input') ? 'is not valid here' : issue.message });
        break;
      }
      default:
        out.push({ path: formatPath(path), message: issue.message });
    }
  }
  return out;
}

/** Parses YAML (JSON is valid YAML) into plain data, reporting syntax errors with line and column. */
export function parseConfigText(text: string): { value: unknown; errors: ErrorDetail[] } {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      value: undefined,
      errors: doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '(yaml)',
        message: (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, ''),
      })),
    };
  }
  return { value: doc.toJS({ maxAliasCount: 100 }) ?? {}, errors: [] };
}

/**
 * Replaces `${VAR}` in every string with the environment's value (`$${` stays a literal `${`).
 * A variable that is not set is an error with the path of the string that names it.
 */
export function substituteEnv(value: unknown, env: Record<string, string | undefined>, errors: ErrorDetail[], path: PathSegment[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (match, name: string) => {
      if (match.startsWith('$$')) return match.slice(1);
      const v = env[name];
      if (v === undefined) {
        errors.push({ path: formatPath(path), message: `environment variable ${name} is not set` });
        return match;
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, errors, [...path, i]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, errors, [...path, k])]));
  }
  return value;
}

/**
 * For the CLI going through a server's API: replaces the `${VAR}` the caller's environment has,
 * escaping `${` inside the values so the server's own substitution leaves them literal; the
 * others stay for the server to resolve or report.
 */
export function substituteKnownEnv(value: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (match, name: string) => {
      if (match.startsWith('$$')) return match;
      const v = env[name];
      return v === undefined ? match : v.replaceAll('${', '$${');
    });
  }
  if (Array.isArray(value)) return value.map((v) => substituteKnownEnv(v, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteKnownEnv(v, env)]));
  }
  return value;
}

function rawList(raw: unknown, section: string): Record<string, unknown>[] {
  if (raw === null || typeof raw !== 'object') return [];
  const list = (raw as Record<string, unknown>)[section];
  return Array.isArray(list) ? list.filter((x): x is Record<string, unknown> => x !== null && typeof x === 'object') : [];
}

/** Two entries of one section with the same key. Checked on the raw input so it is reported with the type errors. */
export function findDuplicates(raw: unknown): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const section of SECTIONS) {
    const key = KEY_OF[section];
    const seen = new Map<string, number>();
    rawList(raw, section).forEach((item, i) => {
      const k = item[key];
      if (typeof k !== 'string') return;
      const first = seen.get(k.toLowerCase());
      if (first !== undefined) out.push({ path: `${section}[${i}].${key}`, message: `duplicate ${key} "${k}" (also ${section}[${first}])` });
      else seen.set(k.toLowerCase(), i);
    });
  }
  return out;
}

/** Names that exist in the store and stay after this apply (so the file may refer to them). */
export interface KnownNames {
  senders: ReadonlySet<string>;
  queues: ReadonlySet<string>;
}

/** References to senders and queues that neither the file nor the store has. */
export function findMissingReferences(raw: unknown, known: KnownNames): ErrorDetail[] {
  const names = (section: string) => new Set(rawList(raw, section).map((x) => x.name).filter((n): n is string => typeof n === 'string'));
  const senders = new Set([...known.senders, ...names('senders')]);
  const queues = new Set([...known.queues, ...names('queues')]);
  const out: ErrorDetail[] = [];
  rawList(raw, 'queues').forEach((q, i) => {
    if (typeof q.sender === 'string' && !senders.has(q.sender)) {
      out.push({ path: `queues[${i}].sender`, message: `sender "${q.sender}" does not exist: add it under senders:` });
    }
    const routing = q.routing as { relax?: unknown } | undefined;
    if (routing && Array.isArray(routing.relax)) {
      routing.relax.forEach((step: unknown, j: number) => {
        const add = (step as { add_queues?: unknown } | null)?.add_queues;
        if (!Array.isArray(add)) return;
        add.forEach((name: unknown, k: number) => {
          if (typeof name === 'string' && !queues.has(name)) {
            out.push({ path: `queues[${i}].routing.relax[${j}].add_queues[${k}]`, message: `queue "${name}" does not exist: add it under queues:` });
          }
        });
      });
    }
  });
  rawList(raw, 'mailboxes').forEach((m, i) => {
    if (typeof m.queue === 'string' && !queues.has(m.queue)) {
      out.push({ path: `mailboxes[${i}].queue`, message: `queue "${m.queue}" does not exist: add it under queues:` });
    }
  });
  return out;
}

export function configInvalid(details: ErrorDetail[]): AppError {
  const shown = details.slice(0, 5).map((d) => `${d.path}: ${d.message}`).join('; ');
  return new AppError('CONFIG_INVALID', `The config has ${details.length} problem${details.length === 1 ? '' : 's'}: ${shown}${details.length > 5 ? '; …' : ''}`, {
    status: 400,
    hint: 'Fix every problem listed in details (each names its path in the file), then apply again. Nothing was applied.',
    details,
  });
}

/**
 * Validates config input (YAML/JSON text or already-parsed data). Throws `CONFIG_INVALID` with
 * every problem; returns the typed config with all defaults filled in.
 */
export function validateConfig(input: string | unknown, env: Record<string, string | undefined>, known: KnownNames): ConfigFile {
  const errors: ErrorDetail[] = [];
  let raw: unknown = input;
  if (typeof input === 'string') {
    const parsed = parseConfigText(input);
    if (parsed.errors.length > 0) throw configInvalid(parsed.errors);
    raw = parsed.value;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configInvalid([{ path: '(file)', message: 'expected a mapping with senders:, mailboxes:, queues:, users: …' }]);
  }
  raw = substituteEnv(raw, env, errors);
  const result = configFileSchema.safeParse(raw, { reportInput: true });
  if (!result.success) errors.push(...issuesToDetails(result.error.issues));
  errors.push(...findDuplicates(raw), ...findMissingReferences(raw, known));
  if (errors.length > 0 || !result.success) throw configInvalid(errors);
  return result.data;
}
