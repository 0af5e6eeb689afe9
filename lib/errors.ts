/**
 * Error classes with a stable `code`. On HTTP paths the broker turns them into an OAuth error
 * (`error`, `error_description`, status) or an error page; anything else leaves as
 * `server_error` and is logged with its cause. No stack trace ever reaches a client.
 */

export class DexpressError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A protocol error returned to an OAuth client (RFC 6749 section 5.2). */
export class OAuthError extends DexpressError {
  readonly status: number;
  readonly description: string;
  /** Seconds until a retry may succeed: sent as `Retry-After` (a throttled password grant). */
  readonly retryAfter: number | undefined;
  constructor(error: string, description: string, status = 400, options?: ErrorOptions & { retryAfter?: number }) {
    super(error, description, options);
    this.status = status;
    this.description = description;
    this.retryAfter = options?.retryAfter;
  }
}

/** Invalid configuration; `path` is the dotted path of the offending key. */
export class ConfigError extends DexpressError {
  readonly issues: readonly { path: string; message: string }[];
  constructor(issues: readonly { path: string; message: string }[]) {
    super('invalid_config', issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('\n'));
    this.issues = issues;
  }
}

/**
 * A login a connector refuses for a reason the user should read (not in the required groups,
 * email not verified...). Strategies report it with `fail()`; the broker shows `message` on an
 * error page with `status` (403 by default).
 */
export class AccessDeniedError extends DexpressError {
  readonly status: number;
  constructor(message: string, status = 403) {
    super('access_denied', message);
    this.status = status;
  }
}

/** The upstream identity provider failed or could not be reached (shown as 502). */
export class UpstreamError extends DexpressError {
  readonly status = 502;
  constructor(message: string, options?: ErrorOptions) {
    super('upstream_error', message, options);
  }
}

/**
 * A connector's refresh failed because the upstream no longer vouches for the user (revoked
 * token, user gone, DN changed). The client sees `invalid_grant`.
 */
export class RefreshFailedError extends DexpressError {
  constructor(message: string, options?: ErrorOptions) {
    super('refresh_failed', message, options);
  }
}

/** The storage backend cannot be reached: answered as 503 `temporarily_unavailable`. */
export class StorageUnavailableError extends DexpressError {
  constructor(message: string, options?: ErrorOptions) {
    super('storage_unavailable', message, options);
  }
}

/**
 * A middleware of the host app read a request body before the broker and left nothing the broker
 * can read it from (no `req.body`). Logged; the client gets `server_error`.
 */
export class HostBodyError extends DexpressError {
  constructor(path: string) {
    super(
      'host_body',
      `The body of ${path} was read by a middleware in front of the broker, which left no req.body to read the form from. ` +
        'Mount the broker before that middleware, or let it leave the body in req.body (express.urlencoded(), express.text() or express.raw() do).',
    );
  }
}

/**
 * `broker.app` mounted under a prefix (`app.use('/sso', broker.app)`): it already serves under
 * the issuer's path, so it would answer at the prefix plus that path. Thrown by `app.use`.
 */
export class BrokerMountError extends DexpressError {
  constructor(mountPath: string | string[], issuerPath: string) {
    super(
      'broker_mount',
      `broker.app is mounted at ${JSON.stringify(mountPath)} but already serves under the issuer's path ${issuerPath}, so it would answer at the two joined. ` +
        `Mount it with app.use(broker.app), or mount broker.router (the same routes relative to the issuer path) at the issuer's path: app.use('${issuerPath}', broker.router).`,
    );
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * What a page or an OAuth `error_description` may say of an upstream failure: a fixed sentence
 * naming the upstream (`connectorName`, the connector's display name) or, without it, "The
 * identity provider". The error's own message names URLs, hosts, base DNs and service accounts:
 * that detail goes to the log only, never to the browser or the client.
 */
export function publicSummary(_err: Error, connectorName?: string): string {
  return `${connectorName ?? 'The identity provider'} cannot be reached or is misconfigured`;
}
