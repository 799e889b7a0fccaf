/** Prometheus metrics on a registry of the server's own (several servers can share a process in tests). */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Histogram<'method' | 'route' | 'status'>;
  readonly wsClients: Gauge;
  readonly configApplies: Counter<'result'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'mailroom_' });
    this.httpRequests = new Histogram({
      name: 'mailroom_http_request_duration_seconds',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.wsClients = new Gauge({ name: 'mailroom_websocket_clients', help: 'Open WebSocket connections', registers: [this.registry] });
    this.configApplies = new Counter({ name: 'mailroom_config_applies_total', help: 'Config applies by result', labelNames: ['result'], registers: [this.registry] });
  }
}
