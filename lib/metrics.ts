/**
 * Prometheus metrics (prom-client), one registry per broker, served on `telemetry.http` by
 * `dexpress serve` (never on the public address): logins by connector and outcome, tokens issued
 * by grant, refresh failures by connector, upstream latency, request durations; with
 * `dexRequestMetrics`, Dex's own request metrics too.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

type DexLabel = 'code' | 'method' | 'handler';

/** The methods promhttp names; any other is `unknown` (client_golang's sanitizeMethod). */
const DEX_METHODS = new Set(['GET', 'PUT', 'HEAD', 'POST', 'DELETE', 'CONNECT', 'OPTIONS', 'NOTIFY', 'TRACE', 'PATCH']);

/** The labels of one route, method and status: this broker's request histogram's, and Dex's (for a matched route). */
interface RequestLabels {
  own: Record<'route' | 'method' | 'status', string>;
  dex?: Record<DexLabel, string>;
}

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

  private readonly labelSets = new Map<string | undefined, Map<string, Map<number, RequestLabels>>>();

  /** Dex's `http_requests_total`, `request_duration_seconds`, `response_size_bytes` by `code`, `method`, `handler`; see `dexRequestMetrics`. */
  private readonly dex?: { requests: Counter<DexLabel>; durations: Histogram<DexLabel>; sizes: Histogram<DexLabel> };

  /**
   * `dexRequestMetrics`: also Dex's request metrics, under Dex's names (unprefixed), so dashboards
   * and alerts written for Dex keep working; `dexpress serve` turns it on. Off by default, as a
   * host app that merges this registry into its own may have an `http_requests_total` already.
   */
  constructor(options: { processMetrics?: boolean; dexRequestMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'dexpress_' });
    if (options.dexRequestMetrics) {
      const labelNames = ['code', 'method', 'handler'] as const;
      this.dex = {
        requests: new Counter({ name: 'http_requests_total', help: 'Count of all HTTP requests.', labelNames, registers: [this.registry] }),
        durations: new Histogram({ name: 'request_duration_seconds', help: 'A histogram of latencies for requests.', labelNames, buckets: [0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] }),
        sizes: new Histogram({ name: 'response_size_bytes', help: 'A histogram of response sizes for requests.', labelNames, buckets: [200, 500, 900, 1500], registers: [this.registry] }),
      };
    }
  }

  /**
   * One answered request. `route` is the route's pattern (`/auth/:connector`), or undefined when
   * no route matched (then only `dexpress_http_request_duration_seconds` counts it, as `unmatched`:
   * Dex counts only its routes). Label values never come from the request itself.
   */
  observeRequest(route: string | undefined, method: string, status: number, seconds: number, bytes: number): void {
    const labels = this.requestLabels(route, method, status);
    this.requests.observe(labels.own, seconds);
    if (!this.dex || !labels.dex) return;
    this.dex.requests.inc(labels.dex);
    this.dex.durations.observe(labels.dex, seconds);
    this.dex.sizes.observe(labels.dex, bytes);
  }

  /**
   * The label sets of a request's metrics, built once per route, method and status (every request
   * to /token built them again, a cost on the hot path). A bounded set: the routes are the
   * router's, the methods the ones Node's HTTP parser accepts, the statuses three digits.
   */
  private requestLabels(route: string | undefined, method: string, status: number): RequestLabels {
    let byMethod = this.labelSets.get(route);
    if (!byMethod) this.labelSets.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let labels = byStatus.get(status);
    if (!labels) {
      const code = String(status);
      labels = {
        own: { route: route ?? 'unmatched', method, status: code },
        // As Dex's promhttp labels them: the route as Dex names it (`/auth/{connector}`), the method in lower case.
        ...(route !== undefined ? { dex: { code, method: DEX_METHODS.has(method) ? method.toLowerCase() : 'unknown', handler: route.replace(/:(\w+)/g, '{$1}') } } : {}),
      };
      byStatus.set(status, labels);
    }
    return labels;
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
