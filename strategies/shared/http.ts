/**
 * HTTP calls to upstream APIs: every call has a timeout, and every failure becomes an
 * `UpstreamError` that names the URL and the status, never a hang or a raw stack. Payloads are
 * returned as `unknown`: the caller validates what it uses.
 */
import { UpstreamError } from '../../lib/errors.js';

/** Default timeout of one upstream call, in milliseconds. */
export const UPSTREAM_TIMEOUT_MS = 10_000;

export interface UpstreamRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Sent as `application/x-www-form-urlencoded`. */
  form?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  timeoutMs?: number;
  /** A fetch with a custom CA or TLS settings (see `tlsFetch`). */
  fetch?: typeof fetch;
}

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** Sends a request and parses a JSON answer; non-JSON answers give `body` as text. */
export async function callUpstream(url: string, request: UpstreamRequest = {}): Promise<UpstreamResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
  let body: string | undefined;
  if (request.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(request.form).toString();
  } else if (request.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(request.json);
  }
  const doFetch = request.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(url, {
      method: request.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(request.timeoutMs ?? UPSTREAM_TIMEOUT_MS),
      redirect: 'manual',
    });
  } catch (err) {
    // fetch's DOMException may come from another realm (jest), so check the name, not the class.
    const reason = (err as { name?: unknown } | null)?.name === 'TimeoutError' ? 'timed out' : 'could not be reached';
    throw new UpstreamError(`${redactUrl(url)} ${reason}`, { cause: err });
  }
  const text = await res.text().catch(() => '');
  let parsed: unknown = text;
  if (text !== '' && /json/i.test(res.headers.get('content-type') ?? 'json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Like `callUpstream`, but any status outside 2xx is an `UpstreamError`. */
export async function getJson(url: string, request: UpstreamRequest = {}): Promise<unknown> {
  const res = await callUpstream(url, request);
  if (res.status < 200 || res.status > 299) throw new UpstreamError(`${redactUrl(url)} answered ${res.status}`);
  return res.body;
}

/** Follows RFC 8288 `Link: <...>; rel="next"` headers (GitHub, Gitea) and concatenates the pages. */
export async function getAllPages(url: string, request: UpstreamRequest = {}, maxPages = 50): Promise<unknown[]> {
  const items: unknown[] = [];
  let next: string | undefined = url;
  for (let page = 0; next !== undefined; page++) {
    if (page >= maxPages) throw new UpstreamError(`${redactUrl(url)} has more than ${maxPages} pages`);
    const res = await callUpstream(next, request);
    if (res.status < 200 || res.status > 299) throw new UpstreamError(`${redactUrl(next)} answered ${res.status}`);
    if (!Array.isArray(res.body)) throw new UpstreamError(`${redactUrl(next)} did not answer a JSON array`);
    items.push(...(res.body as unknown[]));
    next = nextLink(res.headers.get('link'));
  }
  return items;
}

export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]+)>\s*;(.*)/.exec(part.trim());
    if (m && /rel="?([^";]*\s)?next(\s[^";]*)?"?/.test(m[2]!)) return m[1];
  }
  return undefined;
}

/** A URL without query string, for messages and logs (queries may carry tokens). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

/** Narrowing helpers for upstream payloads. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A required string field, or an `UpstreamError` naming it. A number is not taken for a string:
 * a user key, an id or a group name of `42` is a malformed answer (as `requireField`).
 */
export function requireString(obj: Record<string, unknown>, key: string, what: string): string {
  const v = obj[key];
  if (typeof v === 'string' && v !== '') return v;
  throw new UpstreamError(`${what} has no "${key}"`);
}

export function optionalString(obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Unix seconds from a token answer's `expires_in` (RFC 6749 5.1: the lifetime in seconds), or
 * undefined when it is not a number. A negative lifetime, or one past any date (`1e300`), is
 * malformed: the token is taken as expiring now, so the next refresh renews it where there is a
 * refresh token. Refusing the answer instead would drop tokens the upstream has already issued,
 * and a provider that rotates its refresh tokens has spent the previous one by then: the login
 * would be lost for a field the tokens work without.
 */
export function expiresAtOf(expiresIn: unknown, now = Date.now()): number | undefined {
  if (typeof expiresIn !== 'number') return undefined;
  const nowSeconds = Math.floor(now / 1000);
  const expiresAt = nowSeconds + expiresIn;
  if (!(expiresIn >= 0) || Number.isNaN(new Date(expiresAt * 1000).getTime())) return nowSeconds;
  return expiresAt;
}
