/**
 * Domain events: every state change that someone else may care about (the WebSocket, metrics,
 * the audit log, other nodes) is published here instead of being pushed from the code path that
 * made the change (CONVENTIONS.md: side effects hang off domain events).
 */
import type { Role } from './types.js';

/** Who may receive an event on the WebSocket. */
export type Audience =
  | { kind: 'all' }
  | { kind: 'users'; userIds: number[] }
  | { kind: 'roles'; roles: Role[] }
  /** These users, and everyone holding one of these roles (e.g. the agent and the supervisors). */
  | { kind: 'some'; userIds: number[]; roles: Role[] };

export interface DomainEvent<T = unknown> {
  type: string;
  data: T;
  audience: Audience;
}

export type EventListener = (event: DomainEvent) => void;

/** In-process publish/subscribe. A listener that throws never stops the others. */
export class EventBus {
  private readonly listeners = new Set<EventListener>();
  private readonly onListenerError: (err: unknown, event: DomainEvent) => void;

  constructor(onListenerError: (err: unknown, event: DomainEvent) => void = () => {}) {
    this.onListenerError = onListenerError;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish<T>(type: string, data: T, audience: Audience = { kind: 'all' }): void {
    const event: DomainEvent = { type, data, audience };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.onListenerError(err, event);
      }
    }
  }
}
