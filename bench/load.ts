/**
 * A small closed-loop load generator on loopback: `concurrency` workers, each on its own
 * keep-alive connection, each running one unit of work (one or several HTTP requests) after the
 * other until the time or the request budget is spent. Latency is per unit; units that start
 * during the warm-up are not counted.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface HttpRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export type Send = (req: HttpRequest) => Promise<HttpResponse>;

/** One unit of work: `ok`, `exhausted` when the worker has nothing left to do, or what went wrong. */
export type Unit = (send: Send) => Promise<'ok' | 'exhausted' | { error: string }>;

export interface LoadOptions {
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  /** Stop after this many units in total (warm-up included). */
  maxUnits: number;
}

export interface LoadResult {
  /** Units counted (after the warm-up) that succeeded. */
  units: number;
  /** Units run during the warm-up. */
  warmupUnits: number;
  errors: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  /** The first failed response, for the report. */
  firstError?: string;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runLoad(origin: string, options: LoadOptions, makeUnit: (worker: number) => Unit): Promise<LoadResult> {
  const pool = new Pool(origin, { connections: options.concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const send: Send = async (req) => {
    const res = await pool.request({
      method: req.method,
      path: req.path,
      ...(req.headers ? { headers: req.headers } : {}),
      ...(req.body !== undefined ? { body: req.body } : {}),
    });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };
  const start = performance.now();
  const countFrom = start + options.warmupMs;
  const end = countFrom + options.durationMs;
  const latencies: number[] = [];
  let started = 0;
  let errors = 0;
  let warmupUnits = 0;
  let firstError: string | undefined;
  let lastFinish = countFrom;

  const worker = async (index: number) => {
    const unit = makeUnit(index);
    while (performance.now() < end && started < options.maxUnits) {
      started++;
      const t0 = performance.now();
      let outcome: Awaited<ReturnType<Unit>>;
      try {
        outcome = await unit(send);
      } catch (err) {
        outcome = { error: String(err) };
      }
      if (outcome === 'exhausted') return;
      const t1 = performance.now();
      if (t0 >= countFrom) {
        if (outcome === 'ok') latencies.push(t1 - t0);
        else errors++;
        lastFinish = Math.max(lastFinish, t1);
      } else warmupUnits++;
      if (outcome !== 'ok') firstError ??= outcome.error;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => worker(i)));
  await pool.close();
  const seconds = Math.max(0.001, (lastFinish - countFrom) / 1000);
  const sorted = Float64Array.from(latencies).sort();
  return {
    units: latencies.length,
    warmupUnits,
    errors,
    seconds,
    perSecond: latencies.length / seconds,
    p50ms: percentile(sorted, 50),
    p99ms: percentile(sorted, 99),
    ...(firstError ? { firstError } : {}),
  };
}

/** `ok` for a 2xx response, else the error with the start of its body. */
export function okOrError(res: HttpResponse): 'ok' | { error: string } {
  return res.status >= 200 && res.status < 300 ? 'ok' : { error: `${res.status} ${res.body.slice(0, 300)}` };
}
