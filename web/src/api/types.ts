/** The shapes the API answers with (API.md), as the web app uses them. */
export type AgentState = 'available' | 'paused' | 'offline';
export type Role = 'agent' | 'supervisor' | 'admin';

export interface Me {
  id: number;
  login: string;
  name: string;
  email: string | null;
  roles: Role[];
  state: AgentState;
  reason: string | null;
  since: string;
  capacity: number;
  csrfToken?: string;
}

export interface PauseReason {
  code: string;
  label: string;
}

export interface EventFrame<T = unknown> {
  type: string;
  data: T;
}
