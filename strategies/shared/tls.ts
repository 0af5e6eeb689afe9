/**
 * `fetch` functions for self-hosted upstreams: one that trusts a custom CA (GitHub Enterprise's
 * `rootCA`, OpenShift's `rootCA`, GitLab's `rootCAData`), and a wrapper that bounds every call
 * of a fetch by a timeout, so a connector can set one limit for its token endpoint and its API.
 */
import { readFileSync } from 'node:fs';
import { fetch as undiciFetch } from 'undici';
import { defaultCAsAnd, dispatcherWithTls, type UpstreamTls } from '../../lib/upstream-agent.js';

export interface CAOptions {
  /** PEM certificates to trust in addition to the system's roots (as Dex's HTTP client does). */
  ca?: string | undefined;
  /** Skip certificate verification entirely. Risks: anyone on the path can impersonate the upstream. */
  insecureSkipVerify?: boolean | undefined;
}

/**
 * A fetch that verifies the upstream against `ca` (PEM), or not at all when asked to; through the
 * proxy of `dexpress serve`'s environment where that applies (see `lib/upstream-agent.ts`).
 */
export function fetchWithCA(options: CAOptions): typeof fetch {
  const tls: UpstreamTls = {};
  if (options.ca !== undefined) tls.ca = defaultCAsAnd([options.ca]).join('\n');
  if (options.insecureSkipVerify) tls.rejectUnauthorized = false;
  const dispatcher = dispatcherWithTls(tls);
  const bound = (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher: dispatcher(),
    }) as unknown as Promise<Response>;
  return bound as typeof fetch;
}

const PEM_MARK = '-----BEGIN CERTIFICATE-----';

/**
 * Reads a CA given as Dex's HTTP client takes it: a path to a PEM file, base64 of PEM, or the
 * PEM text itself.
 */
export function readCA(value: string): string {
  if (value.includes(PEM_MARK)) return value;
  let fromFile: string | undefined;
  try {
    fromFile = readFileSync(value, 'utf8');
  } catch {
    fromFile = undefined;
  }
  if (fromFile !== undefined) {
    if (!fromFile.includes(PEM_MARK)) throw new Error(`${value} holds no PEM certificate`);
    return fromFile;
  }
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  if (decoded.includes(PEM_MARK)) return decoded;
  throw new Error('not a PEM file path, base64 of PEM, or PEM text');
}

/** Wraps a fetch so that no call outlives `timeoutMs`, whatever signal the caller passed. */
export function fetchWithTimeout(base: typeof fetch, timeoutMs: number): typeof fetch {
  const bounded = (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const limit = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, limit]) : limit;
    return base(input, { ...init, signal }).catch((err: unknown) => {
      if (!limit.aborted) throw err;
      // A plain TimeoutError, so callers see "timed out" whatever realm the abort reason came from.
      const timeout = new Error(`no answer within ${timeoutMs} ms`, { cause: err });
      timeout.name = 'TimeoutError';
      throw timeout;
    });
  };
  return bounded as typeof fetch;
}
