/**
 * The core of a fake hosted OpenID provider (Google, LinkedIn): a discovery document shaped like
 * the real one, a JWKS with an RSA key made per run, an authorization endpoint that approves as
 * a chosen user (checking PKCE when a challenge was sent), a token endpoint (authorization_code
 * and refresh_token grants, RS256 ID tokens with `nonce` when one was sent), and a userinfo
 * endpoint. The platform's fake gives the paths, the discovery fields and the error bodies.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import * as jose from 'jose';

export interface FakeIdpPaths {
  discovery: string;
  authorize: string;
  token: string;
  userinfo: string;
  jwks: string;
}

export interface FakeIdpOptions {
  clientID: string;
  clientSecret: string;
  paths: FakeIdpPaths;
  /** The issuer, given the fake's base URL (the real ones live at a sub-path or another host). */
  issuer(base: string): string;
  /** Discovery fields besides issuer and the endpoints. */
  discoveryExtra: Record<string, unknown>;
  /** How the token endpoint takes client credentials. */
  clientAuth: 'basic' | 'post' | 'either';
  /** Access token lifetime, seconds. */
  accessTokenLifetime: number;
  /** Issue refresh tokens (rotated on use when `rotateRefreshTokens`). */
  refreshTokens: boolean;
  /** Whether a login with these authorization parameters gets a refresh token (Google: `access_type=offline`). */
  offline(params: Record<string, string>): boolean;
  rotateRefreshTokens: boolean;
  /** Writes a token endpoint error the way the platform does. */
  tokenError(res: Response, status: number, error: string): void;
  /** Writes a userinfo answer for a missing or bad token. */
  userinfoUnauthorized(res: Response): void;
  /**
   * Userinfo also takes the access token as the `access_token` query parameter, as Google's APIs
   * do (passport-google-oauth20 sends it so). Default: only the bearer header.
   */
  userinfoQueryToken?: boolean;
  /** Handles grant types besides code and refresh (Google's service-account JWT grant). */
  otherGrant?(form: Record<string, string | undefined>, res: Response): Promise<void>;
}

/** An injected answer: a status with a body (a string is sent as HTML), as in `../platform.ts`. */
export type Fault = { status: number; body?: unknown };

interface Grant {
  login: string;
  scope: string;
  nonce?: string;
  offline: boolean;
}

export class FakeIdp {
  readonly app: Express = express();
  url = '';
  /** Login → claims the provider states for that user (`sub` included). */
  readonly users = new Map<string, Record<string, unknown>>();
  /** Who the authorization endpoint logs in as; undefined: the user cancels. */
  approveAs: string | undefined;
  /** The last authorization request's parameters. */
  lastAuthorize: Record<string, string> = {};
  readonly counts = { codeGrants: 0, refreshGrants: 0, userinfo: 0 };
  /** Claims to change in the next ID tokens (forged `iss`, `aud`...). */
  tamper: Record<string, unknown> = {};
  /** Sign with this key instead of the published one (a forged signature). */
  signWith: jose.CryptoKey | undefined;
  /** Rewrites the token endpoint's JSON answers (a missing `id_token`, an absurd `expires_in`...). */
  rewriteTokens: ((body: Record<string, unknown>) => unknown) | undefined;
  private readonly faults = new Map<string, Fault>();
  private readonly codes = new Map<string, Grant & { redirectURI: string; challenge?: string; method?: string }>();
  private readonly access = new Map<string, Grant & { expiresAt: number }>();
  private readonly refresh = new Map<string, Grant>();
  private key!: jose.CryptoKey;
  private jwk!: jose.JWK;
  private server: http.Server | undefined;

  constructor(readonly options: FakeIdpOptions) {
    const { paths } = options;
    this.app.set('etag', false);
    this.app.use((req, res, next) => this.applyFault(req, res, next));
    this.app.get(paths.discovery, (_req, res) => {
      res.json({
        issuer: this.issuer,
        authorization_endpoint: `${this.url}${paths.authorize}`,
        token_endpoint: `${this.url}${paths.token}`,
        userinfo_endpoint: `${this.url}${paths.userinfo}`,
        jwks_uri: `${this.url}${paths.jwks}`,
        ...options.discoveryExtra,
      });
    });
    this.app.get(paths.jwks, (_req, res) => res.json({ keys: [this.jwk] }));
    this.app.get(paths.authorize, (req, res) => this.authorize(req, res));
    this.app.post(paths.token, express.urlencoded({ extended: false }), (req, res) => void this.token(req, res));
    this.app.get(paths.userinfo, (req, res) => this.userinfo(req, res));
  }

  get issuer(): string {
    return this.options.issuer(this.url);
  }

  /** Answers `path` (exact, without query) with `fault` until `clearFaults()`. */
  fail(path: string, fault: Fault): void {
    this.faults.set(path, fault);
  }

  clearFaults(): void {
    this.faults.clear();
    this.rewriteTokens = undefined;
  }

  private applyFault(req: Request, res: Response, next: NextFunction): void {
    const fault = this.faults.get(req.path);
    if (fault === undefined) return next();
    if (typeof fault.body === 'string') res.status(fault.status).type('html').send(fault.body);
    else res.status(fault.status).json(fault.body ?? null);
  }

  /** Revokes every token of a user, as when they remove the app's access. */
  revoke(login: string): void {
    for (const map of [this.access, this.refresh]) for (const [t, g] of map) if (g.login === login) map.delete(t);
  }

  private authorize(req: Request, res: Response): void {
    const q = Object.fromEntries(Object.entries(req.query).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    this.lastAuthorize = q;
    if (q.client_id !== this.options.clientID || !q.redirect_uri || q.response_type !== 'code') {
      res.status(400).send('Error 400: invalid_request');
      return;
    }
    const back = new URL(q.redirect_uri);
    if (q.state !== undefined) back.searchParams.set('state', q.state);
    if (this.approveAs === undefined) {
      back.searchParams.set('error', 'access_denied');
    } else {
      const code = randomBytes(12).toString('base64url');
      const grant: Grant & { redirectURI: string; challenge?: string; method?: string } = {
        login: this.approveAs,
        scope: q.scope ?? '',
        redirectURI: q.redirect_uri,
        offline: this.options.offline(q),
      };
      if (q.nonce !== undefined) grant.nonce = q.nonce;
      if (q.code_challenge !== undefined) {
        grant.challenge = q.code_challenge;
        grant.method = q.code_challenge_method ?? 'plain';
      }
      this.codes.set(code, grant);
      back.searchParams.set('code', code);
      back.searchParams.set('scope', q.scope ?? '');
    }
    res.redirect(302, back.toString());
  }

  private async token(req: Request, res: Response): Promise<void> {
    const form = req.body as Record<string, string | undefined>;
    const clientGrant = form.grant_type === 'authorization_code' || form.grant_type === 'refresh_token';
    if (clientGrant && !this.clientAuthenticated(req, form)) return this.options.tokenError(res, 401, 'invalid_client');
    if (form.grant_type === 'authorization_code') {
      this.counts.codeGrants++;
      const grant = form.code ? this.codes.get(form.code) : undefined;
      if (form.code) this.codes.delete(form.code);
      if (!grant || grant.redirectURI !== form.redirect_uri) return this.options.tokenError(res, 400, 'invalid_grant');
      if (grant.challenge !== undefined) {
        const verifier = form.code_verifier ?? '';
        const got = grant.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
        if (got !== grant.challenge) return this.options.tokenError(res, 400, 'invalid_grant');
      }
      this.answerTokens(res, await this.issue(grant, true));
      return;
    }
    if (form.grant_type === 'refresh_token' && this.options.refreshTokens) {
      this.counts.refreshGrants++;
      const grant = form.refresh_token ? this.refresh.get(form.refresh_token) : undefined;
      if (!grant) return this.options.tokenError(res, 400, 'invalid_grant');
      if (this.options.rotateRefreshTokens) this.refresh.delete(form.refresh_token!);
      const { nonce: _n, ...withoutNonce } = grant;
      this.answerTokens(res, await this.issue(withoutNonce, this.options.rotateRefreshTokens));
      return;
    }
    if (this.options.otherGrant) return this.options.otherGrant(form, res);
    this.options.tokenError(res, 400, 'unsupported_grant_type');
  }

  private answerTokens(res: Response, body: Record<string, unknown>): void {
    res.json(this.rewriteTokens ? this.rewriteTokens(body) : body);
  }

  /** Tokens for a grant; the ID token carries the user's claims and the nonce, if any. */
  private async issue(grant: Grant, newRefreshToken: boolean): Promise<Record<string, unknown>> {
    const accessToken = randomBytes(24).toString('base64url');
    const lifetime = this.options.accessTokenLifetime;
    this.access.set(accessToken, { ...grant, expiresAt: Date.now() + lifetime * 1000 });
    const body: Record<string, unknown> = { access_token: accessToken, expires_in: lifetime, scope: grant.scope, token_type: 'Bearer' };
    if (grant.scope.split(' ').includes('openid')) body.id_token = await this.idToken(grant);
    if (this.options.refreshTokens && grant.offline && newRefreshToken) {
      const refreshToken = randomBytes(24).toString('base64url');
      this.refresh.set(refreshToken, grant);
      body.refresh_token = refreshToken;
    }
    return body;
  }

  private async idToken(grant: Grant): Promise<string> {
    const claims = { ...this.users.get(grant.login), ...(grant.nonce ? { nonce: grant.nonce } : {}), ...this.tamper };
    return new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: this.jwk.kid!, typ: 'JWT' })
      .setIssuer(typeof this.tamper.iss === 'string' ? this.tamper.iss : this.issuer)
      .setAudience(typeof this.tamper.aud === 'string' ? this.tamper.aud : this.options.clientID)
      .setIssuedAt()
      .setExpirationTime(typeof this.tamper.exp === 'number' ? this.tamper.exp : '1h')
      .sign(this.signWith ?? this.key);
  }

  private userinfo(req: Request, res: Response): void {
    this.counts.userinfo++;
    const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    const inQuery = this.options.userinfoQueryToken === true && typeof req.query.access_token === 'string' ? req.query.access_token : undefined;
    const token = m ? m[1]! : inQuery;
    const grant = token !== undefined ? this.access.get(token) : undefined;
    if (!grant || grant.expiresAt <= Date.now()) return this.options.userinfoUnauthorized(res);
    res.json(this.users.get(grant.login));
  }

  private clientAuthenticated(req: Request, form: Record<string, string | undefined>): boolean {
    const { clientID, clientSecret, clientAuth } = this.options;
    const basic = /^Basic\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    if (basic && clientAuth !== 'post') {
      const [id, secret] = Buffer.from(basic[1]!, 'base64').toString().split(':').map(decodeURIComponent);
      return id === clientID && secret === clientSecret;
    }
    if (clientAuth !== 'basic' && form.client_id !== undefined) return form.client_id === clientID && form.client_secret === clientSecret;
    return false;
  }

  async listen(): Promise<string> {
    const { privateKey, publicKey } = await jose.generateKeyPair('RS256');
    this.key = privateKey;
    this.jwk = { ...(await jose.exportJWK(publicKey)), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
    const server = http.createServer(this.app);
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
