/**
 * What every broker response shares, on plain `node:http` objects so that the Express router and
 * `serve`'s direct path to /token use the same code: the request id, the security headers, CORS
 * for the API endpoints, and OAuth error answers (JSON, internals only in the log).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Settings } from './config/settings.js';
import { OAuthError, StorageUnavailableError } from './errors.js';
import { storageOutageLog } from './outage-log.js';
import { randomBytesPooled } from './tokens/random.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** A request id for the logs: the caller's X-Request-Id when it looks like one, else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomBytesPooled(8).toString('hex');
}

/** The headers on every response: no framing, no sniffing, no referrer, plus `web.headers`. */
export function securityHeaders(settings: Settings): Record<string, string> {
  return { 'X-Frame-Options': 'DENY', 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', ...settings.web.headers };
}

/** Starts every response: its request id (returned, for the logs) and the security headers. */
export function startResponse(req: IncomingMessage, res: ServerResponse, security: Record<string, string>): string {
  const id = requestIdOf(req);
  res.setHeader('X-Request-Id', id);
  for (const name in security) res.setHeader(name, security[name]!);
  return id;
}

/**
 * CORS headers for an allowed `Origin` (`web.allowedOrigins`, `*` for any), else none: the
 * request headers allowed are `web.allowedHeaders` (as in Dex; default `Authorization`) and
 * `Content-Type`.
 */
export function corsPolicy(web: Pick<Settings['web'], 'allowedOrigins' | 'allowedHeaders'>): (origin: string | undefined) => Record<string, string> | undefined {
  const allowed = web.allowedOrigins;
  const headers = new Map(['Content-Type', ...web.allowedHeaders].map((h) => [h.trim().toLowerCase(), h.trim()] as const));
  headers.delete('');
  const allowHeaders = [...headers.values()].join(', ');
  return (origin) => {
    if (!origin || !(allowed.includes('*') || allowed.includes(origin))) return undefined;
    return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin', 'Access-Control-Allow-Headers': allowHeaders, 'Access-Control-Allow-Methods': 'GET, POST, OPTIONS' };
  };
}

/**
 * The OAuth error to answer for anything thrown while serving a request: OAuth errors as they
 * are, storage outages as 503 `temporarily_unavailable` (logged at warn, rate-limited),
 * body-parser failures as `invalid_request`, anything else as a logged 500 `server_error`
 * without its details.
 */
export function oauthErrorFor(err: unknown, logger: Logger, where: { path: string; requestId: unknown }): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof StorageUnavailableError) {
    storageOutageLog.report(logger, err, where);
    return new OAuthError('temporarily_unavailable', 'The service is temporarily unavailable. Try again shortly.', 503);
  }
  const status = typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
  const bodyError = typeof (err as { type?: unknown }).type === 'string' && (err as { type: string }).type.startsWith('entity.');
  if (bodyError && status === 413) return new OAuthError('invalid_request', 'The request body is too large.', 413);
  if (bodyError || (status >= 400 && status < 500)) return new OAuthError('invalid_request', 'The request body could not be read.', 400);
  logger.error({ err, ...where }, 'internal error');
  return new OAuthError('server_error', 'An internal error occurred.', 500);
}

const HTML_SPECIAL = /[<>&]/;
const HTML_SPECIALS = /[<>&]/g;

/**
 * JSON with `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026` (as Go's encoder writes them, so
 * as Dex answers): an error description quoting hostile input is never markup, whatever a
 * client does with it. Express's `json escape` setting does the same for the router's answers.
 */
export function safeJson(value: unknown): string {
  const json = JSON.stringify(value);
  return HTML_SPECIAL.test(json) ? json.replace(HTML_SPECIALS, (c) => `\\u00${c.charCodeAt(0).toString(16)}`) : json;
}

/** Writes a JSON body with its length; `no-store` unless the headers say otherwise. */
export function writeJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = safeJson(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json), 'Cache-Control': 'no-store', Pragma: 'no-cache', ...headers });
  res.end(json);
}

/** An OAuth error as RFC 6749 §5.2 JSON; a 401 to a Basic-authenticating client names the realm. */
export function writeOAuthError(req: IncomingMessage, res: ServerResponse, oauth: OAuthError): void {
  const basic = req.headers.authorization?.toLowerCase().startsWith('basic') === true;
  const headers: Record<string, string> = {};
  if (oauth.status === 401 && basic) headers['WWW-Authenticate'] = 'Basic realm="dexpress"';
  if (oauth.retryAfter !== undefined) headers['Retry-After'] = String(oauth.retryAfter);
  writeJson(res, oauth.status, { error: oauth.code, error_description: oauth.description }, headers);
}
