/**
 * What an agent must have to take a conversation, and how relaxation widens it. A requirement
 * set is a list of alternatives (any one suffices): the conversation's own requirement first,
 * then one per queue added by an `add_queues` relaxation step.
 */
import type { LevelMap } from '../domain/types.js';
import type { QueuePolicy } from './routing-types.js';

/** Skills with minimum levels (sorted by name) and an optional language (primary subtag). */
export interface Requirement {
  readonly skills: ReadonlyArray<readonly [string, number]>;
  readonly language: string | null;
  /** The queue this alternative came from through `add_queues`; null for the conversation's own. */
  readonly viaQueue: string | null;
}

/** Alternatives, any of which makes an agent eligible; never empty. */
export type RequirementSet = readonly Requirement[];

/** The parts of an agent the filter looks at. */
export interface Qualifications {
  readonly skills: ReadonlyMap<string, number>;
  /** Primary language subtag → best proficiency. */
  readonly languages: ReadonlyMap<string, number>;
}

/**
 * `pt-BR` → `pt`. Matching on the primary subtag lets a Brazilian agent answer a message
 * detected as `pt`, and the reverse; language detection rarely tells regions apart anyway.
 */
export function primaryLanguage(code: string): string {
  const dash = code.indexOf('-');
  return (dash < 0 ? code : code.slice(0, dash)).toLowerCase();
}

/** Agent skills and languages as the filter reads them. */
export function toQualifications(skills: LevelMap, languages: LevelMap): Qualifications {
  const langs = new Map<string, number>();
  for (const [code, level] of Object.entries(languages)) {
    const p = primaryLanguage(code);
    langs.set(p, Math.max(level, langs.get(p) ?? 0));
  }
  return { skills: new Map(Object.entries(skills)), languages: langs };
}

/** A requirement in canonical form (skills sorted, language reduced to its primary subtag). */
export function makeRequirement(skills: LevelMap | ReadonlyMap<string, number>, language: string | null, viaQueue: string | null = null): Requirement {
  const entries = skills instanceof Map ? [...skills.entries()] : Object.entries(skills as LevelMap);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { skills: entries, language: language === null ? null : primaryLanguage(language), viaQueue };
}

/** A stable key: two requirement sets with the same key select exactly the same agents. */
export function requirementKey(alts: RequirementSet): string {
  return alts.map((r) => `${r.skills.map(([s, l]) => `${s}>=${l}`).join(',')}|${r.language ?? '*'}`).join(' OR ');
}

/** Human-readable form for the audit: `billing≥1, language en | queue general (tech≥3)`. */
export function describeRequirement(alts: RequirementSet): string {
  return alts
    .map((r) => {
      const parts = r.skills.map(([s, l]) => `${s}≥${l}`);
      if (r.language) parts.push(`language ${r.language}`);
      const body = parts.length ? parts.join(', ') : 'anyone';
      return r.viaQueue ? `queue ${r.viaQueue} (${body})` : body;
    })
    .join(' | ');
}

/** Null when the agent meets `req`; otherwise the first failing check, in a form fit to count. */
export function checkRequirement(q: Qualifications, req: Requirement): string | null {
  for (const [skill, min] of req.skills) {
    const level = q.skills.get(skill);
    if (level === undefined) return `skill ${skill} missing`;
    if (level < min) return `skill ${skill} below ${min}`;
  }
  if (req.language !== null && !q.languages.has(req.language)) return `language ${req.language}`;
  return null;
}

/** Null when the agent meets any alternative; otherwise why it fails the first (its own) one. */
export function checkRequirementSet(q: Qualifications, alts: RequirementSet): string | null {
  let first: string | null = null;
  for (let i = 0; i < alts.length; i++) {
    const why = checkRequirement(q, alts[i]!);
    if (why === null) return null;
    if (i === 0) first = why;
  }
  return first;
}

/** Sum of the agent's levels on the skills of the conversation's own requirement (most/least-skilled). */
export function skillSum(q: Qualifications, alts: RequirementSet): number {
  let sum = 0;
  for (const [skill] of alts[0]!.skills) sum += q.skills.get(skill) ?? 0;
  return sum;
}

/** The relaxation steps already due for something waiting since `arrivedAt`, at `now`. */
export function relaxStepAt(queue: QueuePolicy, arrivedAt: number, now: number): number {
  const steps = queue.routing.relax;
  let i = 0;
  while (i < steps.length && arrivedAt + steps[i]!.after_s * 1000 <= now) i++;
  return i;
}

/** When step `step + 1` becomes due, or null when no step is left. */
export function nextRelaxAt(queue: QueuePolicy, arrivedAt: number, step: number): number | null {
  const next = queue.routing.relax[step];
  return next ? arrivedAt + next.after_s * 1000 : null;
}

/**
 * The requirement set in force after `step` relaxation steps (0 = none). Steps apply in order:
 * `skills` lowers the minimum of a skill the conversation requires (it never adds a skill or
 * raises one), `drop_language` removes the language, `add_queues` adds each named queue's own
 * skills as an alternative, with the conversation's language in force (a customer's language
 * does not change with the queue). Unknown queue names are ignored: config apply checks them.
 */
export function requirementAt(
  queue: QueuePolicy,
  ownSkills: LevelMap,
  ownLanguage: string | null,
  step: number,
  lookupQueue: (name: string) => QueuePolicy | undefined,
): RequirementSet {
  const skills = new Map(Object.entries(ownSkills));
  let language = ownLanguage;
  const added: string[] = [];
  const steps = queue.routing.relax;
  for (let i = 0; i < step && i < steps.length; i++) {
    const s = steps[i]!;
    for (const [skill, level] of Object.entries(s.skills ?? {})) {
      const current = skills.get(skill);
      if (current !== undefined && level < current) skills.set(skill, level);
    }
    if (s.drop_language) language = null;
    for (const name of s.add_queues ?? []) if (name !== queue.name && !added.includes(name)) added.push(name);
  }
  const own = makeRequirement(skills, language);
  const alts: Requirement[] = [own];
  const seen = new Set([requirementKey([own])]);
  for (const name of added) {
    const other = lookupQueue(name);
    if (!other) continue;
    const alt = makeRequirement(other.skills, language, name);
    const key = requirementKey([alt]);
    if (seen.has(key)) continue;
    seen.add(key);
    alts.push(alt);
  }
  return alts;
}

/** `base` or `relax 2 (after 300 s)`. */
export function stepLabel(queue: QueuePolicy, step: number): string {
  if (step === 0) return 'base';
  const s = queue.routing.relax[step - 1];
  return s ? `relax ${step} (after ${s.after_s} s)` : `relax ${step}`;
}
