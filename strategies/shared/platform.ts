/**
 * What the code-forge connectors (GitHub, GitLab, Gitea, Bitbucket Cloud, OpenShift) share:
 * calling a REST API with the user's bearer token (status-aware errors, Link pagination), the
 * upstream tokens kept in `connectorData`, the mapping of errors on the refresh path, Dex's group
 * filter, and a single-flight guard so two concurrent refreshes of one rotating upstream refresh
 * token do not burn it twice.
 */
import { createHash } from 'node:crypto';
import { AccessDeniedError, ConfigError, RefreshFailedError, UpstreamError, errorMessage } from '../../lib/errors.js';
import type { JsonValue } from '../../lib/identity.js';
import { callUpstream, isRecord, nextLink, optionalString, redactUrl, requireString, type UpstreamResponse } from './http.js';
import type { OAuth2Tokens } from './oauth2.js';
import { fetchWithCA, fetchWithTimeout, readCA } from './tls.js';

/** An upstream API answered outside 2xx; `upstreamStatus` is what it answered. */
export class UpstreamApiError extends UpstreamError {
  readonly upstreamStatus: number;
  constructor(url: string, upstreamStatus: number) {
    super(`${redactUrl(url)} answered ${upstreamStatus}`);
    this.upstreamStatus = upstreamStatus;
  }
}

/** How a connector reaches its upstream: a fetch (custom CA) and a bound on every call. */
export interface UpstreamOptions {
  fetch?: typeof fetch;
  /** Milliseconds one upstream call may take (default 10 s). */
  timeoutMs?: number;
}

/** The fetch every call of a connector uses: `options.fetch` (or global fetch) bounded in time. */
export function upstreamFetch(options: UpstreamOptions = {}): typeof fetch {
  return fetchWithTimeout(options.fetch ?? fetch, options.timeoutMs ?? 10_000);
}

/**
 * A fetch trusting the CA a config key names (path or PEM), or a `ConfigError` naming the key
 * when the file cannot be read.
 */
export function fetchTrusting(rootCA: string, key: string): typeof fetch {
  let ca: string;
  try {
    ca = readCA(rootCA);
  } catch (err) {
    throw new ConfigError([{ path: key, message: `cannot read the CA: ${errorMessage(err)}` }]);
  }
  return fetchWithCA({ ca });
}

/** A REST API called with one user's access token. */
export class BearerApi {
  constructor(
    private readonly token: string,
    private readonly fetchFn: typeof fetch,
    private readonly headers: Record<string, string> = {},
  ) {}

  /** The raw answer, whatever its status (for endpoints where 404 means "no"). */
  async call(url: string): Promise<UpstreamResponse> {
    return callUpstream(url, {
      headers: { ...this.headers, authorization: `Bearer ${this.token}` },
      fetch: this.fetchFn,
    });
  }

  /** A 2xx JSON answer, else `UpstreamApiError`. */
  async get(url: string): Promise<unknown> {
    const res = await this.call(url);
    if (res.status < 200 || res.status > 299) throw new UpstreamApiError(url, res.status);
    return res.body;
  }

  /** Every page of a JSON-array endpoint, following `Link: rel="next"` (GitHub, Gitea). */
  async getLinkedPages(url: string, maxPages = 100): Promise<unknown[]> {
    const items: unknown[] = [];
    let next: string | undefined = url;
    for (let page = 0; next !== undefined; page++) {
      if (page >= maxPages) throw new UpstreamError(`${redactUrl(url)} has more than ${maxPages} pages`);
      const res = await this.call(next);
      if (res.status < 200 || res.status > 299) throw new UpstreamApiError(next, res.status);
      if (!Array.isArray(res.body)) throw new UpstreamError(`${redactUrl(next)} did not answer a JSON array`);
      items.push(...(res.body as unknown[]));
      next = sameOrigin(url, nextLink(res.headers.get('link')));
    }
    return items;
  }
}

/**
 * A next-page URL, only if it is on the same origin as the first page: the bearer token is
 * sent to it, so a pagination link elsewhere is an upstream error, not a leak.
 */
export function sameOrigin(first: string, next: string | undefined): string | undefined {
  if (next === undefined) return undefined;
  let target: URL;
  try {
    target = new URL(next, first);
  } catch {
    throw new UpstreamError(`${redactUrl(first)} gave an invalid next-page link`);
  }
  if (target.origin !== new URL(first).origin) throw new UpstreamError(`${redactUrl(first)} gave a next-page link to another origin`);
  return target.toString();
}

/** The upstream tokens a connector keeps in `connectorData` (Dex's field names). */
export interface UpstreamTokenData {
  accessToken: string;
  refreshToken?: string;
  /** When the access token expires (RFC 3339), if the upstream said. */
  expiry?: string;
}

export function tokenData(tokens: OAuth2Tokens): UpstreamTokenData {
  const data: UpstreamTokenData = { accessToken: tokens.accessToken };
  if (tokens.refreshToken !== undefined) data.refreshToken = tokens.refreshToken;
  if (tokens.expiresAt !== undefined) data.expiry = new Date(tokens.expiresAt * 1000).toISOString();
  return data;
}

export function tokenDataJson(data: UpstreamTokenData): JsonValue {
  return { ...data };
}

/** Reads `connectorData` back; anything else means this refresh token cannot be honoured. */
export function parseTokenData(value: JsonValue | undefined, connector: string): UpstreamTokenData {
  if (!isRecord(value) || typeof value.accessToken !== 'string') {
    throw new RefreshFailedError(`${connector}: no upstream access token stored for this login`);
  }
  const data: UpstreamTokenData = { accessToken: value.accessToken };
  if (typeof value.refreshToken === 'string' && value.refreshToken !== '') data.refreshToken = value.refreshToken;
  if (typeof value.expiry === 'string') data.expiry = value.expiry;
  return data;
}

/** Whether the stored access token has expired (or will within `skewSeconds`). */
export function isExpired(data: UpstreamTokenData, now = Date.now(), skewSeconds = 10): boolean {
  if (data.expiry === undefined) return false;
  const at = Date.parse(data.expiry);
  return Number.isNaN(at) || at - skewSeconds * 1000 <= now;
}

/**
 * The upstream tokens to use for a refresh: the stored ones, or, when the access token has
 * expired (or `always`, for upstreams whose access tokens are short-lived), new ones from the
 * refresh_token grant. Concurrent refreshes of one upstream refresh token share one grant.
 * A refresh token the upstream did not rotate is kept.
 */
export async function currentTokens(
  data: UpstreamTokenData,
  grant: (refreshToken: string) => Promise<OAuth2Tokens>,
  flight: SingleFlight<UpstreamTokenData>,
  always = false,
): Promise<UpstreamTokenData> {
  const refreshToken = data.refreshToken;
  if (refreshToken === undefined || !(always || isExpired(data))) return data;
  const key = createHash('sha256').update(refreshToken).digest('base64url');
  return flight.run(key, async () => {
    const fresh = tokenData(await grant(refreshToken));
    fresh.refreshToken ??= refreshToken;
    return fresh;
  });
}

/**
 * Runs a refresh and maps its failures: the upstream refusing the token (401) or the user having
 * lost access (not in the required groups any more) becomes `RefreshFailedError`; an unreachable
 * or failing upstream stays an `UpstreamError`.
 */
export async function mapRefreshErrors<T>(connector: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof RefreshFailedError) throw err;
    if (err instanceof AccessDeniedError) {
      throw new RefreshFailedError(`${connector}: the user no longer has access: ${err.message}`, { cause: err });
    }
    if (err instanceof UpstreamApiError && err.upstreamStatus === 401) {
      throw new RefreshFailedError(`${connector}: the upstream no longer accepts the stored token`, { cause: err });
    }
    throw err;
  }
}

/** Dex's `groups.Filter`: the given groups that are in `required`, in the given order. */
export function filterGroups(given: readonly string[], required: readonly string[]): string[] {
  const wanted = new Set(required);
  return given.filter((g) => wanted.has(g));
}

/** Drops repeated entries, keeping the first of each. */
export function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/**
 * Joins concurrent calls for one key into one, and remembers the result for `keepMs` so that a
 * retry with the same (now rotated) upstream refresh token gets the tokens it produced instead
 * of a refusal. Keys should be hashes, not the tokens themselves.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();
  private readonly done = new Map<string, { value: T; until: number }>();

  constructor(private readonly keepMs = 60_000) {}

  run(key: string, task: () => Promise<T>, now = Date.now()): Promise<T> {
    for (const [k, v] of this.done) if (v.until <= now) this.done.delete(k);
    const recent = this.done.get(key);
    if (recent) return Promise.resolve(recent.value);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const started = task().then(
      (value) => {
        this.inFlight.delete(key);
        this.done.set(key, { value, until: Date.now() + this.keepMs });
        return value;
      },
      (err: unknown) => {
        this.inFlight.delete(key);
        throw err;
      },
    );
    this.inFlight.set(key, started);
    return started;
  }
}

/**
 * A required string field of an upstream payload, or an `UpstreamError` naming it. A number is
 * not taken for a string: an email, a login or a group name of `42` is a malformed answer.
 */
export function requireField(obj: unknown, key: string, what: string): string {
  if (!isRecord(obj)) throw new UpstreamError(`${what} is not a JSON object`);
  return requireString(obj, key, what);
}

/** A required id: a string, or an integer (GitHub, GitLab and Gitea number their users and groups). */
export function requireId(obj: unknown, key: string, what: string): string {
  if (isRecord(obj) && Number.isSafeInteger(obj[key])) return String(obj[key]);
  return requireField(obj, key, what);
}

/** An optional string field: absent, null and "" all mean absent. */
export const optionalField = optionalString;
