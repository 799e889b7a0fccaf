/**
 * The live channel (`GET /api/v1/events`): domain events from the bus, as JSON frames
 * `{type, data}`, to each connected user the event's audience includes. A ping every 30 s
 * drops connections whose other end is gone.
 */
import type { WebSocket } from 'ws';
import type { Principal } from '../auth/policy.js';
import type { DomainEvent, EventBus } from '../domain/events.js';
import { effectiveRoles } from '../domain/types.js';
import type { Metrics } from './metrics.js';

interface Client {
  socket: WebSocket;
  principal: Principal;
  alive: boolean;
}

export function inAudience(event: DomainEvent, p: Principal): boolean {
  const a = event.audience;
  if (a.kind === 'all') return true;
  if (a.kind === 'users') return p.userId !== null && a.userIds.includes(p.userId);
  if (a.kind === 'some' && p.userId !== null && a.userIds.includes(p.userId)) return true;
  const roles = effectiveRoles(p.roles);
  return a.roles.some((r) => roles.has(r));
}

export class WebSocketHub {
  private readonly clients = new Set<Client>();
  private readonly unsubscribe: () => void;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(bus: EventBus, private readonly metrics?: Metrics) {
    this.unsubscribe = bus.subscribe((e) => this.dispatch(e));
    this.heartbeat = setInterval(() => this.ping(), 30_000);
    this.heartbeat.unref();
  }

  add(socket: WebSocket, principal: Principal): void {
    const client: Client = { socket, principal, alive: true };
    this.clients.add(client);
    this.metrics?.wsClients.inc();
    socket.on('pong', () => (client.alive = true));
    socket.on('close', () => {
      if (this.clients.delete(client)) this.metrics?.wsClients.dec();
    });
    socket.on('error', () => socket.terminate());
    socket.send(JSON.stringify({ type: 'hello', data: { login: principal.login } }));
  }

  private dispatch(event: DomainEvent): void {
    const frame = JSON.stringify({ type: event.type, data: event.data });
    for (const c of this.clients) {
      if (c.socket.readyState === c.socket.OPEN && inAudience(event, c.principal)) c.socket.send(frame);
    }
  }

  private ping(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        c.socket.terminate();
        continue;
      }
      c.alive = false;
      c.socket.ping();
    }
  }

  get size(): number {
    return this.clients.size;
  }

  close(): void {
    this.unsubscribe();
    clearInterval(this.heartbeat);
    for (const c of this.clients) c.socket.close(1001, 'server shutting down');
    this.clients.clear();
  }
}
