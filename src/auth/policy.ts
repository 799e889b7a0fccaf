/**
 * The one place that says who may do what. Routes name an action; nothing else compares roles.
 * API.md: admin may do everything a supervisor may, a supervisor everything an agent may.
 */
import { forbidden } from '../domain/errors.js';
import { effectiveRoles, type Role } from '../domain/types.js';

export interface Principal {
  userId: number | null;
  login: string;
  roles: readonly Role[];
  /** How the request authenticated: a browser session, an API token, or the local CLI. */
  via: 'session' | 'token' | 'local';
}

const REQUIRED_ROLE = {
  'me.read': 'agent',
  'me.state': 'agent',
  'tokens.create': 'agent',
  'tokens.createForOthers': 'admin',
  'offers.respond': 'agent',
  'conversations.readOwn': 'agent',
  'conversations.readAll': 'supervisor',
  'conversations.routingAudit': 'supervisor',
  'queues.read': 'supervisor',
  'agents.read': 'supervisor',
  'mailboxes.read': 'supervisor',
  'mailboxes.test': 'admin',
  'mailboxes.events': 'admin',
  'senders.read': 'admin',
  'senders.test': 'admin',
  'config.read': 'admin',
  'config.apply': 'admin',
  'users.manage': 'admin',
  'quarantine.manage': 'admin',
  'retention.run': 'admin',
} as const satisfies Record<string, Role>;

export type Action = keyof typeof REQUIRED_ROLE;

export function can(principal: Pick<Principal, 'roles'>, action: Action): boolean {
  return effectiveRoles(principal.roles).has(REQUIRED_ROLE[action]);
}

/** Throws FORBIDDEN (403) unless the principal may perform `action`. */
export function authorize(principal: Pick<Principal, 'roles'>, action: Action): void {
  if (!can(principal, action)) throw forbidden(action.replace('.', ' '));
}

export function requiredRole(action: Action): Role {
  return REQUIRED_ROLE[action];
}
