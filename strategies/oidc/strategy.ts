/**
 * The generic OpenID Connect strategy (Dex's `oidc` connector) as a Passport strategy: the first
 * call redirects upstream with state, nonce and PKCE; the callback redeems the code, verifies the
 * ID token, optionally reads userinfo, and maps the claims to an `Identity`. `refresh` and
 * `tokenIdentity` rebuild an identity from a refresh token or an upstream token.
 */
import { AccessDeniedError, RefreshFailedError } from '../../lib/errors.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import { isRecord } from '../shared/http.js';
import { UpstreamOidcClient, loginRefusal, refreshRefusal, type UpstreamTokens, type VerifyFailure } from './client.js';
import { parseStrategyConfig } from '../shared/strategy-config.js';
import { clientAuthOf, configSchema, upstreamScopes, type OidcConfig } from './config.js';
import { upstreamFetch } from './fetch.js';
import { OidcLoginStrategy, type AuthorizationRequest } from './login.js';
import { identityFromClaims, type Claims } from './mapping.js';

export const TOKEN_TYPE_ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

type Caller = 'login' | 'refresh' | 'exchange';

export class OidcStrategy extends OidcLoginStrategy {
  readonly client: UpstreamOidcClient;
  private readonly config: OidcConfig;
  private readonly scopes: string[];

  /** `timeoutMs`: how long one upstream call may take (default 10 s); not a Dex key. */
  constructor(config: OidcConfig, name = 'oidc', tuning: { timeoutMs?: number } = {}) {
    config = parseStrategyConfig(configSchema, config);
    super(name, config.redirectURI);
    this.config = config;
    this.scopes = upstreamScopes(config);
    const o = config.providerDiscoveryOverrides ?? {};
    this.client = new UpstreamOidcClient({
      issuer: config.issuer,
      issuerAlias: config.issuerAlias,
      clientID: config.clientID,
      clientSecret: config.clientSecret,
      clientAuth: clientAuthOf(config),
      overrides: { authURL: o.authURL, tokenURL: o.tokenURL, jwksURL: o.jwksURL, userInfoURL: o.userInfoURL },
      fetch: upstreamFetch(config.rootCAs, config.insecureSkipVerify),
      timeoutMs: tuning.timeoutMs,
    });
  }

  protected override async authorizationRequest(scopes: Scopes): Promise<AuthorizationRequest> {
    const extra: Record<string, string> = {};
    if (this.config.acrValues && this.config.acrValues.length > 0) extra.acr_values = this.config.acrValues.join(' ');
    if (scopes.offlineAccess) {
      extra.access_type = 'offline';
      const prompt = this.config.promptType ?? 'consent';
      if (prompt !== '') extra.prompt = prompt;
    }
    return { scopes: this.scopes, pkce: this.config.pkceChallenge ?? (await this.client.advertisedPkce()), extra };
  }

  protected override identifyLogin(tokens: UpstreamTokens, claims: Claims): Promise<Identity> {
    return this.identify(tokens, claims, 'login', loginRefusal);
  }

  /** The upstream refresh_token grant; the identity is rebuilt from the new ID token or userinfo. */
  async refresh(identity: Identity): Promise<Identity> {
    const data = identity.connectorData;
    const refreshToken = isRecord(data) && typeof data.refreshToken === 'string' ? data.refreshToken : '';
    if (refreshToken === '') throw new RefreshFailedError('no upstream refresh token was kept for this login');
    const tokens = await this.client.refresh(refreshToken);
    // Providers that do not rotate refresh tokens answer none: keep the old one.
    if (!tokens.refreshToken) tokens.refreshToken = refreshToken;
    let claims: Claims = {};
    if (tokens.idToken) claims = await this.client.verifyIdToken(tokens.idToken, { audience: true }, refreshRefusal);
    const refreshed = await this.identify(tokens, claims, 'refresh', refreshRefusal);
    if (refreshed.userId !== identity.userId) throw new RefreshFailedError('the identity provider answered for a different user');
    return refreshed;
  }

  /**
   * RFC 8693: an upstream ID token (checked against the upstream's keys and issuer; any audience,
   * as Dex does) or, with `getUserInfo`, an access token (checked by the userinfo endpoint).
   */
  async tokenIdentity(subjectTokenType: string, subjectToken: string): Promise<Identity> {
    const refuse: VerifyFailure = (m) => new AccessDeniedError(m, 401);
    if (subjectTokenType === TOKEN_TYPE_ID_TOKEN) {
      const claims = await this.client.verifyIdToken(subjectToken, { audience: false }, refuse);
      return this.identify({ accessToken: subjectToken }, claims, 'exchange', refuse);
    }
    if (subjectTokenType === TOKEN_TYPE_ACCESS_TOKEN) {
      if (!this.config.getUserInfo) throw new AccessDeniedError('exchanging an access token needs getUserInfo in the connector config', 400);
      return this.identify({ accessToken: subjectToken }, {}, 'exchange', refuse);
    }
    throw new AccessDeniedError(`unsupported subject_token_type ${subjectTokenType}`, 400);
  }

  /** Dex's `createIdentity`: userinfo over the ID token claims, then the mapping. */
  private async identify(tokens: UpstreamTokens, idClaims: Claims, caller: Caller, refuse: VerifyFailure): Promise<Identity> {
    let claims = idClaims;
    if (this.config.getUserInfo) {
      const subject = typeof idClaims.sub === 'string' ? idClaims.sub : undefined;
      claims = { ...idClaims, ...(await this.client.userinfo(tokens.accessToken, subject, refuse)) };
    } else if (caller === 'refresh' && !tokens.idToken) {
      throw new RefreshFailedError('the identity provider answered the refresh without an ID token (set getUserInfo to read userinfo instead)');
    }
    let identity: Identity;
    try {
      identity = identityFromClaims(claims, this.config, this.scopes.includes('email'));
    } catch (err) {
      if (caller === 'refresh' && err instanceof AccessDeniedError) throw new RefreshFailedError(err.message);
      throw err;
    }
    if (caller !== 'exchange') identity.connectorData = { refreshToken: tokens.refreshToken ?? '' };
    return identity;
  }
}
