/**
 * The OAuth 2.0 authorization-code flow shared by the platform connectors (GitHub, GitLab,
 * Gitea, Bitbucket Cloud, OpenShift, Google, Microsoft, LinkedIn). State and PKCE are always on:
 * the state is consumed before it is compared, and the PKCE verifier never leaves the server.
 * A subclass says which scopes to ask for and how to turn the upstream's answer into an
 * `Identity`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { BrokerAuthenticateOptions, ConnectorContext } from '../../lib/connector.js';
import { AccessDeniedError, ConfigError, RefreshFailedError, UpstreamError } from '../../lib/errors.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import { callUpstream, expiresAtOf, isRecord, redactUrl } from './http.js';
import { isGrantRefusal } from './token-errors.js';
import { BrokerStrategy, scopesOf, throwCallbackError, type StandaloneOptions, type StrategyOutcome } from './strategy.js';

export interface OAuth2ClientOptions {
  clientID: string;
  clientSecret: string;
  /** The callback registered upstream; defaults to the broker's `<issuer>/callback`. */
  redirectURI?: string | undefined;
  authorizationURL: string;
  tokenURL: string;
  /** How the client authenticates at the token endpoint (`basic` unless the upstream refuses it). */
  clientAuth?: 'basic' | 'post';
  /** Send a PKCE challenge (RFC 7636). On by default; off only for upstreams that reject it. */
  pkce?: boolean;
  /** A fetch bound to a custom CA, for self-hosted upstreams. */
  fetch?: typeof fetch;
}

export interface OAuth2Tokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** Unix seconds, when the upstream said. */
  expiresAt?: number;
  /** Everything the token endpoint answered. */
  raw: Record<string, unknown>;
}

interface PendingLogin {
  [key: string]: string;
  verifier: string;
  redirectURI: string;
  /** Only used alone with Passport; under the broker the broker owns the state. */
  state: string;
}

export abstract class OAuth2Strategy extends BrokerStrategy {
  protected readonly client: OAuth2ClientOptions;

  constructor(name: string, client: OAuth2ClientOptions) {
    super(name);
    this.client = client;
  }

  /** The upstream scopes to ask for, given what the client asked the broker for. */
  protected abstract upstreamScopes(scopes: Scopes): string[];

  /** Turn the upstream's tokens into an identity, calling its API as needed. */
  protected abstract identify(tokens: OAuth2Tokens, scopes: Scopes): Promise<Identity>;

  /** Extra parameters on the authorization URL (`hd`, `prompt`...). */
  protected authorizationParams(_scopes: Scopes): Record<string, string> {
    return {};
  }

  protected override async handle(
    req: Request,
    options: BrokerAuthenticateOptions | StandaloneOptions,
  ): Promise<StrategyOutcome> {
    const scopes = scopesOf(options);
    const query = req.query as Record<string, unknown>;
    throwCallbackError(query);
    if (typeof query.code === 'string') {
      const pending = await this.takePending(req, options, query.state);
      const tokens = await this.exchangeCode(query.code, pending);
      return { type: 'success', identity: await this.identify(tokens, scopes) };
    }
    // Starting a new login here would consume the pending one and answer with another redirect;
    // the upstream's real answer could then never finish.
    if (options.broker && options.phase === 'callback') {
      throw new AccessDeniedError('The identity provider sent the browser back without an authorization code. Start again.', 400);
    }
    return { type: 'redirect', url: await this.startLogin(req, options, scopes) };
  }

  private async startLogin(
    req: Request,
    options: BrokerAuthenticateOptions | StandaloneOptions,
    scopes: Scopes,
  ): Promise<string> {
    const state = options.broker ? options.state : randomBytes(24).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    const redirectURI = this.client.redirectURI ?? options.callbackURL;
    if (!redirectURI) throw new Error(`strategy ${this.name}: no redirectURI configured`);
    await this.loginStateFor(req, options).set({ verifier, redirectURI, state });
    const url = new URL(this.client.authorizationURL);
    const params: Record<string, string> = {
      response_type: 'code',
      client_id: this.client.clientID,
      redirect_uri: redirectURI,
      state,
      ...this.authorizationParams(scopes),
    };
    const upstreamScopes = this.upstreamScopes(scopes);
    if (upstreamScopes.length > 0) params.scope = upstreamScopes.join(' ');
    if (this.client.pkce !== false) {
      params.code_challenge = createHash('sha256').update(verifier).digest('base64url');
      params.code_challenge_method = 'S256';
    }
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url.toString();
  }

  /** Reads and consumes the pending login; alone with Passport, also checks `state`. */
  private async takePending(
    req: Request,
    options: BrokerAuthenticateOptions | StandaloneOptions,
    state: unknown,
  ): Promise<PendingLogin> {
    const store = this.loginStateFor(req, options);
    const pending = await store.get();
    await store.set(null);
    if (!isRecord(pending) || typeof pending.verifier !== 'string' || typeof pending.redirectURI !== 'string') {
      throw new AccessDeniedError('This login has expired or was already used. Start again.', 400);
    }
    if (!options.broker) {
      const expected = Buffer.from(String(pending.state));
      const got = Buffer.from(typeof state === 'string' ? state : '');
      if (expected.length !== got.length || !timingSafeEqual(expected, got)) {
        throw new AccessDeniedError('The login state did not match. Start again.', 400);
      }
    }
    return pending as PendingLogin;
  }

  private exchangeCode(code: string, pending: PendingLogin): Promise<OAuth2Tokens> {
    const form: Record<string, string> = { grant_type: 'authorization_code', code, redirect_uri: pending.redirectURI };
    if (this.client.pkce !== false) form.code_verifier = pending.verifier;
    // A refused code (used, expired, forged) is the user's to retry, not the upstream being down.
    return this.tokenRequest(form, (said) => new AccessDeniedError(`The identity provider refused the authorization code (${said}). Start again.`, 400));
  }

  /**
   * The `refresh_token` grant upstream. A refusal of the token (see `isGrantRefusal`) is a
   * `RefreshFailedError`; an unreachable, failing or rate-limiting upstream, or one refusing our
   * client, is an `UpstreamError` (the broker answers 503 and keeps the refresh token).
   */
  async refreshTokens(refreshToken: string): Promise<OAuth2Tokens> {
    return this.tokenRequest(
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      (said) => new RefreshFailedError(`${redactUrl(this.client.tokenURL)} refused the refresh token (${said})`),
    );
  }

  /** `refusal` builds the error for a refused grant from the upstream's `error: description`. */
  private async tokenRequest(form: Record<string, string>, refusal: (said: string) => Error): Promise<OAuth2Tokens> {
    const headers: Record<string, string> = {};
    if (this.client.clientAuth === 'post') {
      form.client_id = this.client.clientID;
      form.client_secret = this.client.clientSecret;
    } else {
      const id = encodeURIComponent(this.client.clientID);
      const secret = encodeURIComponent(this.client.clientSecret);
      headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
    }
    const res = await callUpstream(this.client.tokenURL, {
      form,
      headers,
      ...(this.client.fetch ? { fetch: this.client.fetch } : {}),
    });
    const where = redactUrl(this.client.tokenURL);
    const error = isRecord(res.body) && typeof res.body.error === 'string' ? res.body.error : undefined;
    if (error !== undefined || res.status < 200 || res.status > 299) {
      // GitHub answers OAuth errors with status 200 and an `error` field: read as a 400.
      const status = res.status >= 200 && res.status <= 299 ? 400 : res.status;
      const desc = isRecord(res.body) && typeof res.body.error_description === 'string' ? `: ${res.body.error_description}` : '';
      if (isGrantRefusal(status, error)) throw refusal(`${error}${desc}`);
      const said = error === undefined ? 'no OAuth error' : `${error}${desc}`;
      throw new UpstreamError(`${where} answered ${res.status} to the ${form.grant_type} grant (${said})`);
    }
    if (!isRecord(res.body) || typeof res.body.access_token !== 'string') {
      throw new UpstreamError(`${where} answered no access_token`);
    }
    const b = res.body;
    const tokens: OAuth2Tokens = { accessToken: b.access_token as string, raw: b };
    if (typeof b.refresh_token === 'string') tokens.refreshToken = b.refresh_token;
    if (typeof b.id_token === 'string') tokens.idToken = b.id_token;
    const expiresAt = expiresAtOf(b.expires_in);
    if (expiresAt !== undefined) tokens.expiresAt = expiresAt;
    return tokens;
  }
}

export { checkRedirectURI } from './redirect-uri.js';
