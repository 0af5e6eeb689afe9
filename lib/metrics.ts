/**
 * Prometheus metrics (prom-client), one registry per broker, served on `telemetry.http` by
 * `dexpress serve` (never on the public address): logins by connector and outcome, tokens issued
 * by grant, refresh failures by connector, upstream latency, request durations.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class BrokerMetrics {
  readonly registry = new Registry();

  readonly logins = new Counter({
    name: 'dexpress_logins_total',
    help: 'Browser and password logins, by connector and outcome (success, refused, failed).',
    labelNames: ['connector', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly tokens = new Counter({
    name: 'dexpress_tokens_issued_total',
    help: 'Token responses, by grant type.',
    labelNames: ['grant'] as const,
    registers: [this.registry],
  });

  readonly refreshFailures = new Counter({
    name: 'dexpress_refresh_failures_total',
    help: 'Refresh grants refused because the connector no longer vouches for the user, by connector.',
    labelNames: ['connector'] as const,
    registers: [this.registry],
  });

  readonly upstream = new Histogram({
    name: 'dexpress_upstream_duration_seconds',
    help: 'Time spent in a connector talking to its upstream, by connector and operation.',
    labelNames: ['connector', 'operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly requests = new Histogram({
    name: 'dexpress_http_request_duration_seconds',
    help: 'HTTP request durations, by route, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'dexpress_' });
  }

  /** Times an upstream call. */
  async timeUpstream<T>(connector: string, operation: 'login' | 'callback' | 'refresh', call: () => Promise<T>): Promise<T> {
    const end = this.upstream.startTimer({ connector, operation });
    try {
      return await call();
    } finally {
      end();
    }
  }
}
