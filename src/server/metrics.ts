/** Prometheus metrics on a registry of the server's own (several servers can share a process in tests). */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ParserPoolStats } from '../ingest/index.js';

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

  /**
   * The parser pool, read at each scrape: its workers (a spare runs while a slow parse holds every
   * kept worker), its jobs, and what became of the messages it was given (timeouts, out of
   * memory and crashes are messages quarantined for it).
   */
  watchParserPool(stats: () => ParserPoolStats): void {
    const registers = [this.registry];
    /** One gauge whose label's values are read from the stats at each scrape. */
    const gauge = (name: string, help: string, label: string, read: (s: ParserPoolStats) => Record<string, number>) =>
      new Gauge({
        name,
        help,
        labelNames: [label],
        registers,
        collect() {
          for (const [value, n] of Object.entries(read(stats()))) this.set({ [label]: value }, n);
        },
      });
    gauge('mailroom_parser_workers', 'Parser worker threads: kept (one per core beyond the first) and spare', 'kind', (s) => ({ kept: s.size, spare: s.spares }));
    gauge('mailroom_parser_jobs', 'Parses running and waiting', 'state', (s) => ({ running: s.busy, waiting: s.queued }));
    new Counter({
      name: 'mailroom_parser_events_total',
      help: 'Parser pool events since the server started: messages parsed or failed (of which timeouts, out of memory, crashes), workers restarted, spares started',
      labelNames: ['event'],
      registers,
      collect() {
        const s = stats();
        this.reset();
        const events = { parsed: s.parsed, failed: s.failed, timeout: s.timeouts, out_of_memory: s.outOfMemory, crash: s.crashes, restart: s.restarts, spare_start: s.spareStarts };
        for (const [event, n] of Object.entries(events)) this.inc({ event }, n);
      },
    });
  }
}
