/**
 * `fetch` functions for self-hosted upstreams: one that trusts a custom CA (GitHub Enterprise's
 * `rootCA`, OpenShift's `rootCA`, GitLab's `rootCAData`), and a wrapper that bounds every call
 * of a fetch by a timeout, so a connector can set one limit for its token endpoint and its API.
 */
import { readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';

export interface CAOptions {
  /** PEM certificates to trust instead of the system's roots. */
  ca?: string | undefined;
  /** Skip certificate verification entirely. Risks: anyone on the path can impersonate the upstream. */
  insecureSkipVerify?: boolean | undefined;
}

/** A fetch that verifies the upstream against `ca` (PEM), or not at all when asked to. */
export function fetchWithCA(options: CAOptions): typeof fetch {
  const connect: { ca?: string; rejectUnauthorized?: boolean } = {};
  if (options.ca !== undefined) connect.ca = options.ca;
  if (options.insecureSkipVerify) connect.rejectUnauthorized = false;
  const dispatcher = new Agent({ connect });
  const bound = (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher,
    }) as unknown as Promise<Response>;
  return bound as typeof fetch;
}

/**
 * Reads a CA given as Dex does: a path to a PEM file, or (as Dex also accepts for some
 * connectors) the PEM text itself.
 */
export function readCA(pathOrPem: string): string {
  if (pathOrPem.includes('-----BEGIN')) return pathOrPem;
  const pem = readFileSync(pathOrPem, 'utf8');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`${pathOrPem} holds no PEM certificate`);
  return pem;
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
