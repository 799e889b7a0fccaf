/** The shared vocabulary of Mailroom. No I/O here: types and small pure helpers only. */

export const ROLES = ['agent', 'supervisor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const AGENT_STATES = ['offline', 'available', 'paused'] as const;
export type AgentState = (typeof AGENT_STATES)[number];

export const CONVERSATION_STATES = ['queued', 'offered', 'assigned', 'waiting', 'handled'] as const;
export type ConversationState = (typeof CONVERSATION_STATES)[number];

export const MAILBOX_STATES = ['connecting', 'connected', 'error', 'disabled'] as const;
export type MailboxState = (typeof MAILBOX_STATES)[number];

/** Skill or language levels are 1–10 everywhere (config, routing, API). */
export type LevelMap = Record<string, number>;

/** Who did something: a user, the CLI on the server's machine, or the system itself. */
export interface Actor {
  kind: 'user' | 'system' | 'cli';
  userId: number | null;
  login: string;
}

export const SYSTEM_ACTOR: Actor = { kind: 'system', userId: null, login: 'system' };

/** Roles include the ones below them: admin ⊃ supervisor ⊃ agent (API.md "Roles"). */
export function effectiveRoles(roles: readonly Role[]): Set<Role> {
  const out = new Set<Role>(roles);
  if (out.has('admin')) out.add('supervisor');
  if (out.has('supervisor')) out.add('agent');
  return out;
}
