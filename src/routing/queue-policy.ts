/**
 * From a queue of the config file (`queues[]` in API.md) to what the router needs: `language:
 * auto` becomes no queue-wide requirement (each conversation then brings its detected language,
 * if confident), a code stays a requirement.
 */
import type { QueueSpec } from '../config/schema.js';
import type { QueuePolicy } from './routing-types.js';

/** The router's view of a parsed queue spec. */
export function queuePolicyFromSpec(spec: Pick<QueueSpec, 'name' | 'skills' | 'language' | 'priority' | 'sla_first_response_minutes' | 'routing'>): QueuePolicy {
  return {
    name: spec.name,
    skills: { ...spec.skills },
    language: spec.language === 'auto' ? null : spec.language,
    priority: spec.priority,
    slaMinutes: spec.sla_first_response_minutes,
    routing: spec.routing,
  };
}
