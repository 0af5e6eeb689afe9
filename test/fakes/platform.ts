/**
 * Plumbing shared by the fakes of OAuth 2.0 platforms (GitHub, GitLab, Gitea, Bitbucket Cloud,
 * OpenShift): an express app on 127.0.0.1 (optionally over TLS with a CA made in the test), an
 * authorization endpoint that approves as a chosen user and redirects back with a code (PKCE
 * checked), a token endpoint (authorization_code and refresh_token grants, rotating refresh
 * tokens, expiring access tokens), bearer-token lookup for the API routes, and injected faults
 * (an error status, or an answer that never comes).
 *
 * Each platform's fake adds its own paths, error bodies and pagination on top.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';

export interface TlsMaterial {
  caPem: string;
  caPath: string;
  key: string;
  cert: string;
  /** Removes the files. */
  cleanup(): void;
}

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost, made with openssl. */
export function makeTestCA(): TlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), 'dexpress-ca-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=dexpress test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1,DNS:localhost\\n" > ext.cnf'], { cwd: dir });
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'ext.cnf');
  return {
    caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    caPath: join(dir, 'ca.pem'),
    key: readFileSync(join(dir, 'server.key'), 'utf8'),
    cert: readFileSync(join(dir, 'server.pem'), 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Grant {
  login: string;
  scope: string;
}

interface PendingCode extends Grant {
  clientID: string;
  redirectURI: string;
  challenge?: string;
}

interface AccessGrant extends Grant {
  expiresAt?: number;
}

/**
 * An answer forced on a path: a status with a JSON body (a string: an HTML page) and optional
 * headers (a rate limit's `retry-after`, a `link`), or none at all.
 */
export type Fault = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang';

export interface OAuthFakeOptions {
  clientID: string;
  clientSecret: string;
  /** How the token endpoint takes client credentials. */
  clientAuth: 'basic' | 'post' | 'either';
  /** Writes an OAuth error from the token endpoint the way the platform does. */
  tokenError(res: Response, error: string, description: string): void;
  /**
   * Writes the token endpoint's answer the way the platform does (default JSON): GitHub answers
   * form-encoded unless the request's Accept asks for JSON.
   */
  tokenAnswer?(res: Response, body: Record<string, unknown>): void;
  /** Writes the answer to an API call without a valid token. */
  unauthorized(res: Response): void;
  /** Access-token lifetime in seconds; undefined: tokens do not expire (GitHub OAuth apps). */
  accessTokenLifetime?: number;
  /** Issue refresh tokens (and rotate them on every use). */
  refreshTokens: boolean;
  /**
   * The `error` codes for a bad code, a bad refresh token (default invalid_grant) and bad client
   * credentials (default invalid_client); GitHub has its own.
   */
  errorCodes?: { badCode: string; badRefreshToken: string; badClient?: string };
  /**
   * The scopes the platform knows, where it refuses any other at the authorization endpoint
   * (GitLab's Doorkeeper redirects back with `invalid_scope`; a comma-joined list is one unknown
   * scope there). Undefined: any scope string is granted as asked.
   */
  knownScopes?: readonly string[];
  tls?: TlsMaterial;
}

/** The OAuth 2.0 side of a platform fake, with counters tests can read. */
export class OAuthFake {
  readonly app: Express = express();
  url = '';
  /** Who the authorization endpoint logs in as; undefined: the user denies access. */
  approveAs: string | undefined;
  accessTokenLifetime: number | undefined;
  readonly counts = { authorize: 0, codeGrants: 0, refreshGrants: 0, api: 0 };
  /** Last `scope` asked at the authorization endpoint. */
  lastScope = '';
  private readonly codes = new Map<string, PendingCode>();
  private readonly access = new Map<string, AccessGrant>();
  private readonly refresh = new Map<string, Grant>();
  private readonly faults = new Map<string, Fault>();
  private server: http.Server | undefined;

  constructor(private readonly options: OAuthFakeOptions) {
    this.accessTokenLifetime = options.accessTokenLifetime;
    this.app.set('etag', false);
    this.app.use((req, res, next) => this.applyFault(req, res, next));
  }

  /** Answers `path` (exact, without query) with a status, or never, until `clearFaults()`. */
  fail(path: string, fault: Fault): void {
    this.faults.set(path, fault);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Revokes every token of a user, as when they remove the app's authorization. */
  revoke(login: string): void {
    for (const map of [this.access, this.refresh]) {
      for (const [token, grant] of map) if (grant.login === login) map.delete(token);
    }
  }

  /** Issues tokens directly, as if a login had happened (for refresh and token-exchange tests). */
  issue(login: string, scope = ''): Record<string, unknown> {
    const accessToken = `at_${randomBytes(12).toString('hex')}`;
    const grant: AccessGrant = { login, scope };
    const body: Record<string, unknown> = { access_token: accessToken, token_type: 'bearer', scope };
    if (this.accessTokenLifetime !== undefined) {
      grant.expiresAt = Date.now() + this.accessTokenLifetime * 1000;
      body.expires_in = this.accessTokenLifetime;
    }
    this.access.set(accessToken, grant);
    if (this.options.refreshTokens) {
      const refreshToken = `rt_${randomBytes(12).toString('hex')}`;
      this.refresh.set(refreshToken, { login, scope });
      body.refresh_token = refreshToken;
    }
    return body;
  }

  /** The user behind a request's bearer token, or undefined (expired, revoked, missing). */
  bearer(req: Request): Grant | undefined {
    this.counts.api++;
    const m = /^(?:Bearer|token)\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    const grant = m ? this.access.get(m[1]!) : undefined;
    if (!grant || (grant.expiresAt !== undefined && grant.expiresAt <= Date.now())) return undefined;
    return grant;
  }

  /** Express middleware: puts the grant on `res.locals.grant`, or answers as unauthorized. */
  readonly requireToken = (req: Request, res: Response, next: NextFunction): void => {
    const grant = this.bearer(req);
    if (!grant) return this.options.unauthorized(res);
    res.locals.grant = grant;
    next();
  };

  /** The authorization endpoint: approves as `approveAs` and redirects back with a code. */
  readonly authorize = (req: Request, res: Response): void => {
    this.counts.authorize++;
    const q = req.query as Record<string, string | undefined>;
    if (q.client_id !== this.options.clientID || !q.redirect_uri || q.response_type !== 'code') {
      res.status(400).send('invalid authorization request');
      return;
    }
    this.lastScope = q.scope ?? '';
    const back = new URL(q.redirect_uri);
    if (q.state !== undefined) back.searchParams.set('state', q.state);
    const known = this.options.knownScopes;
    if (known && !this.lastScope.split(' ').every((scope) => scope === '' || known.includes(scope))) {
      back.searchParams.set('error', 'invalid_scope');
      back.searchParams.set('error_description', 'The requested scope is invalid, unknown, or malformed.');
    } else if (this.approveAs === undefined) {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The user has denied your application access.');
    } else {
      const code = randomBytes(10).toString('hex');
      const pending: PendingCode = { login: this.approveAs, scope: this.lastScope, clientID: q.client_id, redirectURI: q.redirect_uri };
      if (q.code_challenge !== undefined) {
        if (q.code_challenge_method !== 'S256') {
          res.status(400).send('only S256');
          return;
        }
        pending.challenge = q.code_challenge;
      }
      this.codes.set(code, pending);
      back.searchParams.set('code', code);
    }
    res.redirect(302, back.toString());
  };

  /** The token endpoint: authorization_code and refresh_token grants. */
  readonly token = [
    express.urlencoded({ extended: false }),
    (req: Request, res: Response): void => {
      const form = req.body as Record<string, string | undefined>;
      if (!this.clientAuthenticated(req, form)) {
        return this.options.tokenError(res, this.options.errorCodes?.badClient ?? 'invalid_client', 'Client authentication failed.');
      }
      if (form.grant_type === 'authorization_code') return this.codeGrant(res, form);
      if (form.grant_type === 'refresh_token' && this.options.refreshTokens) return this.refreshGrant(res, form);
      this.options.tokenError(res, 'unsupported_grant_type', 'The grant type is not supported.');
    },
  ];

  private codeGrant(res: Response, form: Record<string, string | undefined>): void {
    this.counts.codeGrants++;
    const pending = form.code ? this.codes.get(form.code) : undefined;
    if (form.code) this.codes.delete(form.code);
    if (!pending || pending.redirectURI !== form.redirect_uri) {
      return this.options.tokenError(res, this.options.errorCodes?.badCode ?? 'invalid_grant', 'The code passed is incorrect or expired.');
    }
    if (pending.challenge !== undefined) {
      const got = createHash('sha256').update(form.code_verifier ?? '').digest('base64url');
      if (got !== pending.challenge) return this.options.tokenError(res, 'invalid_grant', 'The code_verifier does not match.');
    }
    this.answerTokens(res, this.issue(pending.login, pending.scope));
  }

  private refreshGrant(res: Response, form: Record<string, string | undefined>): void {
    this.counts.refreshGrants++;
    const grant = form.refresh_token ? this.refresh.get(form.refresh_token) : undefined;
    if (!grant) {
      return this.options.tokenError(res, this.options.errorCodes?.badRefreshToken ?? 'invalid_grant', 'The refresh token is invalid or was revoked.');
    }
    this.refresh.delete(form.refresh_token!);
    this.answerTokens(res, this.issue(grant.login, grant.scope));
  }

  private answerTokens(res: Response, body: Record<string, unknown>): void {
    if (this.options.tokenAnswer) this.options.tokenAnswer(res, body);
    else res.json(body);
  }

  private clientAuthenticated(req: Request, form: Record<string, string | undefined>): boolean {
    const { clientID, clientSecret, clientAuth } = this.options;
    const basic = /^Basic\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    if (basic && clientAuth !== 'post') {
      const [id, secret] = Buffer.from(basic[1]!, 'base64').toString().split(':').map(decodeURIComponent);
      return id === clientID && secret === clientSecret;
    }
    if (clientAuth !== 'basic' && form.client_id !== undefined) {
      return form.client_id === clientID && form.client_secret === clientSecret;
    }
    return false;
  }

  private applyFault(req: Request, res: Response, next: NextFunction): void {
    const fault = this.faults.get(req.path);
    if (fault === undefined) return next();
    if (fault === 'hang') return;
    if (fault.headers) res.set(fault.headers);
    // A string body is sent as an HTML page, as a proxy or gateway in front of the platform does.
    if (typeof fault.body === 'string') res.status(fault.status).type('html').send(fault.body);
    else res.status(fault.status).json(fault.body ?? { message: 'Server Error' });
  }

  async listen(): Promise<string> {
    const { tls } = this.options;
    const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, this.app) : http.createServer(this.app);
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A `Link` header as GitHub and Gitea write it, for page `page` of `last`. */
export function linkHeader(base: URL, page: number, last: number): string | undefined {
  const at = (n: number) => {
    const u = new URL(base);
    u.searchParams.set('page', String(n));
    return `<${u.toString()}>`;
  };
  const links: string[] = [];
  if (page < last) links.push(`${at(page + 1)}; rel="next"`, `${at(last)}; rel="last"`);
  if (page > 1) links.push(`${at(1)}; rel="first"`, `${at(page - 1)}; rel="prev"`);
  return links.length > 0 ? links.join(', ') : undefined;
}

/** One page of `items` by `page` and a page size. */
export function pageOf<T>(items: readonly T[], page: number, size: number): { items: T[]; last: number } {
  const last = Math.max(1, Math.ceil(items.length / size));
  return { items: items.slice((page - 1) * size, page * size), last };
}

/** A positive integer query parameter, or the default. */
export function intParam(value: unknown, fallback: number): number {
  const n = typeof value === 'string' ? Number.parseInt(value, 10) : NaN;
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** How one `strategy.authenticate` call ended. */
export type AuthOutcome =
  | { type: 'success'; user: unknown }
  | { type: 'fail'; message: string; status: number | undefined }
  | { type: 'redirect'; url: string }
  | { type: 'error'; error: unknown };

interface AuthenticatingStrategy {
  authenticate(req: unknown, options?: unknown): void;
}

/** Calls `strategy.authenticate` the way Passport does (a fresh object per request) and waits for the end. */
export function authenticateOnce(strategy: AuthenticatingStrategy, query: Record<string, string>, options: unknown): Promise<AuthOutcome> {
  return new Promise((resolve) => {
    const call = Object.assign(Object.create(strategy) as AuthenticatingStrategy, {
      success: (user: unknown) => resolve({ type: 'success', user }),
      fail: (challenge: { message: string } | string, status?: number) =>
        resolve({ type: 'fail', message: typeof challenge === 'string' ? challenge : challenge.message, status }),
      redirect: (url: string) => resolve({ type: 'redirect', url }),
      error: (error: unknown) => resolve({ type: 'error', error }),
    });
    call.authenticate({ query, get: () => undefined, headers: {} }, options);
  });
}

/** A login's end, with the authorization URL the strategy sent the browser to. */
export type LoginOutcome = AuthOutcome & { authorizeURL?: URL };

export const CALLBACK_URL = 'http://127.0.0.1:5556/dex/callback';

/**
 * A whole login driven through a strategy as the broker drives it: `/auth/<id>` (redirect
 * upstream), the upstream's authorization endpoint (the fake approves), then `/callback`.
 */
export async function driveLogin(
  strategy: AuthenticatingStrategy,
  scopes: { offlineAccess: boolean; groups: boolean },
  how: {
    /** Fetch for the authorization endpoint (one that trusts the test CA for TLS fakes). */
    fetch?: typeof fetch;
    /** Changes the callback parameters before the strategy sees them (a forged code...). */
    rewriteCallback?: (params: URLSearchParams) => void;
  } = {},
): Promise<LoginOutcome> {
  const fetchFn = how.fetch ?? fetch;
  let saved: unknown;
  const loginState = {
    get: async () => saved,
    set: async (value: unknown) => {
      saved = value;
    },
  };
  const options = { broker: true, state: 'auth-request-1', scopes, callbackURL: CALLBACK_URL, loginState };
  const first = await authenticateOnce(strategy, {}, options);
  if (first.type !== 'redirect') return first;
  const authorizeURL = new URL(first.url);
  const upstream = await fetchFn(first.url, { redirect: 'manual' });
  const location = upstream.headers.get('location');
  if (upstream.status !== 302 || !location) throw new Error(`authorization endpoint answered ${upstream.status}`);
  const back = new URL(location);
  if (`${back.origin}${back.pathname}` !== CALLBACK_URL) throw new Error(`upstream redirected to ${location}`);
  how.rewriteCallback?.(back.searchParams);
  const outcome = await authenticateOnce(strategy, Object.fromEntries(back.searchParams), options);
  return { ...outcome, authorizeURL };
}
