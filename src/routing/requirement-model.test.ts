import { describe, expect, it } from 'vitest';
import { ROUTING_DEFAULTS, queueSchema, type RoutingSpec } from '../config/schema.js';
import { queuePolicyFromSpec } from './queue-policy.js';
import {
  checkRequirementSet,
  describeRequirement,
  nextRelaxAt,
  relaxStepAt,
  requirementAt,
  requirementKey,
  toQualifications,
} from './requirement-model.js';
import type { QueuePolicy } from './routing-types.js';

function queue(name: string, skills: Record<string, number>, language: string | null, routing: Partial<RoutingSpec> = {}): QueuePolicy {
  return { name, skills, language, priority: 5, slaMinutes: 60, routing: { ...ROUTING_DEFAULTS, ...routing } };
}

const general = queue('general', { tech: 3 }, null);
const billing = queue('billing', { billing: 5, tax: 4 }, 'en', {
  relax: [
    { after_s: 120, skills: { billing: 1, unrelated: 1 } },
    { after_s: 300, drop_language: true },
    { after_s: 600, add_queues: ['general', 'missing'] },
  ],
});
const lookup = (n: string) => (n === 'general' ? general : undefined);

describe('relaxation timeline', () => {
  it('counts the steps due since arrival and the time of the next one', () => {
    expect(relaxStepAt(billing, 1000, 1000 + 119_999)).toBe(0);
    expect(relaxStepAt(billing, 1000, 1000 + 120_000)).toBe(1);
    expect(relaxStepAt(billing, 1000, 1000 + 10_000_000)).toBe(3);
    expect(nextRelaxAt(billing, 1000, 0)).toBe(121_000);
    expect(nextRelaxAt(billing, 1000, 2)).toBe(601_000);
    expect(nextRelaxAt(billing, 1000, 3)).toBeNull();
  });

  it('lowers only required skills, then drops the language, then adds other queues with the language in force', () => {
    expect(describeRequirement(requirementAt(billing, billing.skills, 'en', 0, lookup))).toBe('billing≥5, tax≥4, language en');
    // `unrelated` is not required, so the step does not add it.
    expect(describeRequirement(requirementAt(billing, billing.skills, 'en', 1, lookup))).toBe('billing≥1, tax≥4, language en');
    expect(describeRequirement(requirementAt(billing, billing.skills, 'en', 2, lookup))).toBe('billing≥1, tax≥4');
    // `missing` is not a queue: ignored.
    expect(describeRequirement(requirementAt(billing, billing.skills, 'en', 3, lookup))).toBe('billing≥1, tax≥4 | queue general (tech≥3)');
  });

  it('keeps a conversation-specific language until drop_language, and applies it to added queues', () => {
    const q = queue('q', {}, null, { relax: [{ after_s: 10, add_queues: ['general'] }, { after_s: 20, drop_language: true }] });
    expect(describeRequirement(requirementAt(q, {}, 'fr', 1, lookup))).toBe('language fr | queue general (tech≥3, language fr)');
    expect(describeRequirement(requirementAt(q, {}, 'fr', 2, lookup))).toBe('anyone | queue general (tech≥3)');
  });
});

describe('eligibility', () => {
  const alts = requirementAt(billing, billing.skills, 'en', 0, lookup);
  it('names the first failing check', () => {
    expect(checkRequirementSet(toQualifications({ billing: 5, tax: 4 }, { en: 3 }), alts)).toBeNull();
    expect(checkRequirementSet(toQualifications({ tax: 4 }, { en: 3 }), alts)).toBe('skill billing missing');
    expect(checkRequirementSet(toQualifications({ billing: 4, tax: 4 }, { en: 3 }), alts)).toBe('skill billing below 5');
    expect(checkRequirementSet(toQualifications({ billing: 5, tax: 4 }, { fr: 3 }), alts)).toBe('language en');
  });

  it('matches languages on the primary subtag', () => {
    const pt = requirementAt(queue('pt', {}, 'pt-BR'), {}, 'pt-BR', 0, lookup);
    expect(checkRequirementSet(toQualifications({}, { 'pt-PT': 5 }), pt)).toBeNull();
    expect(checkRequirementSet(toQualifications({}, { es: 5 }), pt)).toBe('language pt');
  });

  it('accepts an agent who meets any alternative, and reports the own requirement otherwise', () => {
    const widened = requirementAt(billing, billing.skills, 'en', 3, lookup);
    expect(checkRequirementSet(toQualifications({ tech: 3 }, {}), widened)).toBeNull();
    expect(checkRequirementSet(toQualifications({ tech: 2 }, {}), widened)).toBe('skill billing missing');
  });

  it('gives equal keys to equal requirements whatever the input order', () => {
    const a = requirementAt(queue('x', { b: 1, a: 2 }, 'EN'), { b: 1, a: 2 }, 'EN', 0, lookup);
    const b = requirementAt(queue('y', { a: 2, b: 1 }, 'en'), { a: 2, b: 1 }, 'en', 0, lookup);
    expect(requirementKey(a)).toBe(requirementKey(b));
    expect(requirementKey(a)).not.toBe(requirementKey(requirementAt(queue('z', { a: 2 }, 'en'), { a: 2 }, 'en', 0, lookup)));
  });
});

describe('queue policy from the config file', () => {
  it('turns language auto into no queue-wide requirement and keeps a fixed code', () => {
    const auto = queuePolicyFromSpec(queueSchema.parse({ name: 'q', sender: 's', skills: { billing: 3 }, sla_first_response_minutes: 30 }));
    expect(auto).toMatchObject({ name: 'q', skills: { billing: 3 }, language: null, priority: 5, slaMinutes: 30 });
    expect(auto.routing.policy).toBe('longest-idle');
    expect(queuePolicyFromSpec(queueSchema.parse({ name: 'q', sender: 's', language: 'fr' })).language).toBe('fr');
  });
});
