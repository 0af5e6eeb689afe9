/**
 * The login round trip shared by the connectors whose upstream speaks OpenID Connect (`oidc`,
 * `google`, `linkedin`): the first call sends the browser upstream (state, nonce, PKCE kept in
 * the login state); the callback consumes that state once, redeems the code with
 * `UpstreamOidcClient` (state, `iss`, PKCE, nonce and the ID token's signature checked) and hands
 * the tokens to the subclass's mapping.
 */
import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import type { BrokerAuthenticateOptions } from '../../lib/connector.js';
import { AccessDeniedError } from '../../lib/errors.js';
import type { Identity, JsonValue, Scopes } from '../../lib/identity.js';
import { isRecord } from '../shared/http.js';
import { BrokerStrategy, scopesOf, throwCallbackError, type StandaloneOptions, type StrategyOutcome } from '../shared/strategy.js';
import type { UpstreamOidcClient, PendingChecks, UpstreamTokens } from './client.js';
import type { Claims } from './mapping.js';

export interface AuthorizationRequest {
  scopes: string[];
  pkce: 'S256' | 'plain' | undefined;
  /** Default true. */
  nonce?: boolean;
  extra: Record<string, string>;
}

export abstract class OidcLoginStrategy extends BrokerStrategy {
  abstract readonly client: UpstreamOidcClient;

  constructor(
    name: string,
    /** The callback registered upstream, when configured; else the broker's. */
    private readonly redirectURI: string | undefined,
  ) {
    super(name);
  }

  /** Scopes, PKCE method and extra parameters for the authorization request. */
  protected abstract authorizationRequest(scopes: Scopes): Promise<AuthorizationRequest>;

  /** The identity for a completed login; `claims` are the verified ID token's. */
  protected abstract identifyLogin(tokens: UpstreamTokens, claims: Claims, scopes: Scopes): Promise<Identity>;

  protected override async handle(req: Request, options: BrokerAuthenticateOptions | StandaloneOptions): Promise<StrategyOutcome> {
    const scopes = scopesOf(options);
    const query = req.query as Record<string, unknown>;
    throwCallbackError(query);
    const store = this.loginStateFor(req, options);
    if (typeof query.code === 'string') {
      const pending = await store.get();
      await store.set(null);
      if (!isPendingChecks(pending)) throw new AccessDeniedError('This login has expired or was already used. Start again.', 400);
      const callback = new URL(pending.redirectURI);
      for (const [k, v] of Object.entries(query)) if (typeof v === 'string') callback.searchParams.set(k, v);
      const tokens = await this.client.exchangeCode(callback, pending);
      return { type: 'success', identity: await this.identifyLogin(tokens, tokens.claims, scopes) };
    }

    if (options.broker && options.phase === 'callback') {
      throw new AccessDeniedError('The identity provider sent the browser back without an authorization code. Start again.', 400);
    }
    const redirectURI = this.redirectURI ?? options.callbackURL;
    if (!redirectURI) throw new Error(`strategy ${this.name}: no redirectURI configured`);
    const request = await this.authorizationRequest(scopes);
    const { url, checks } = await this.client.authorizationURL({
      ...request,
      redirectURI,
      state: options.broker ? options.state : randomBytes(24).toString('base64url'),
    });
    await store.set(checks as unknown as JsonValue);
    return { type: 'redirect', url };
  }
}

function isPendingChecks(value: unknown): value is PendingChecks {
  return (
    isRecord(value) &&
    (value.nonce === undefined || typeof value.nonce === 'string') &&
    typeof value.redirectURI === 'string' &&
    typeof value.state === 'string' &&
    (value.verifier === undefined || typeof value.verifier === 'string')
  );
}
