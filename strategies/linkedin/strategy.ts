/**
 * Log in with LinkedIn through "Sign In with LinkedIn using OpenID Connect" (scopes `openid
 * profile email`; the ID token verified against LinkedIn's keys; the profile from `/v2/userinfo`).
 * Dex's connector used the v2 profile and email APIs (`r_liteprofile`, `r_emailaddress`), which
 * LinkedIn closed to new apps; the identity is the same: LinkedIn's member id, full name, email.
 *
 * LinkedIn takes neither a nonce nor PKCE from web apps, so neither is sent: the code is bound
 * to the login by `state` and redeemed with the client secret. Refresh re-reads userinfo with the
 * stored access token (valid 60 days), renewing it first with a refresh token when LinkedIn
 * issued one (apps approved for programmatic refresh).
 */
import { AccessDeniedError, RefreshFailedError } from '../../lib/errors.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import { UpstreamOidcClient, loginRefusal, refreshRefusal, type UpstreamTokens, type VerifyFailure } from '../oidc/client.js';
import { OidcLoginStrategy, type AuthorizationRequest } from '../oidc/login.js';
import type { Claims } from '../oidc/mapping.js';
import { SingleFlight, currentTokens, parseTokenData, tokenDataJson, upstreamFetch, type UpstreamTokenData } from '../shared/platform.js';
import { parseStrategyConfig } from '../shared/strategy-config.js';
import { configSchema, LINKEDIN_ISSUER, type LinkedInConfig } from './config.js';

export class LinkedInStrategy extends OidcLoginStrategy {
  readonly client: UpstreamOidcClient;
  private readonly refreshFlight = new SingleFlight<UpstreamTokenData>();

  constructor(config: LinkedInConfig, name = 'linkedin') {
    config = parseStrategyConfig(configSchema, config);
    super(name, config.redirectURI);
    this.client = new UpstreamOidcClient({
      issuer: config.issuer ?? LINKEDIN_ISSUER,
      clientID: config.clientID,
      clientSecret: config.clientSecret,
      clientAuth: 'post',
      fetch: upstreamFetch(),
    });
  }

  protected override async authorizationRequest(): Promise<AuthorizationRequest> {
    return { scopes: ['openid', 'profile', 'email'], pkce: undefined, nonce: false, extra: {} };
  }

  protected override async identifyLogin(tokens: UpstreamTokens, claims: Claims, scopes: Scopes): Promise<Identity> {
    if (typeof claims.sub !== 'string' || claims.sub === '') throw new AccessDeniedError('LinkedIn sent an ID token without "sub".');
    const identity = await this.profile(tokens.accessToken, claims.sub, loginRefusal);
    // As Dex: the access token is kept only when the client may refresh.
    if (scopes.offlineAccess) identity.connectorData = tokenDataJson(storedTokens(tokens));
    return identity;
  }

  async refresh(identity: Identity): Promise<Identity> {
    const stored = parseTokenData(identity.connectorData, 'linkedin');
    const data = await currentTokens(
      stored,
      async (rt) => ({ ...(await this.client.refresh(rt)), raw: {} }),
      this.refreshFlight,
    );
    try {
      const refreshed = await this.profile(data.accessToken, identity.userId, refreshRefusal);
      return { ...refreshed, connectorData: tokenDataJson(data) };
    } catch (err) {
      if (err instanceof AccessDeniedError) throw new RefreshFailedError(`linkedin: ${err.message}`);
      throw err;
    }
  }

  /**
   * Maps an access token someone else obtained (a handed-over passport-linkedin-oauth2 strategy)
   * as a login: the member from `/v2/userinfo`, whose `sub` is the ID token's of that login.
   */
  identifyWithToken(accessToken: string): Promise<Identity> {
    return this.profile(accessToken, undefined, loginRefusal);
  }

  /** The member from `/v2/userinfo`, which must be `subject` (the ID token's) when one is known. */
  private async profile(accessToken: string, subject: string | undefined, refuse: VerifyFailure): Promise<Identity> {
    const info = await this.client.userinfo(accessToken, subject, refuse);
    if (typeof info.sub !== 'string' || info.sub === '') throw new AccessDeniedError('LinkedIn answered userinfo without "sub".');
    const email = typeof info.email === 'string' && info.email !== '' ? info.email : undefined;
    if (!email) throw new AccessDeniedError('LinkedIn did not share an email address for this member.');
    if (typeof info.email_verified !== 'boolean') throw new AccessDeniedError('LinkedIn did not say whether the email address is verified.');
    return { userId: info.sub, username: fullName(info) ?? email, email, emailVerified: info.email_verified, groups: [] };
  }
}

/** `name`, else given and family names; Dex falls back to the email when both are empty. */
function fullName(info: Record<string, unknown>): string | undefined {
  if (typeof info.name === 'string' && info.name.trim() !== '') return info.name.trim();
  const parts = [info.given_name, info.family_name].filter((p): p is string => typeof p === 'string' && p.trim() !== '');
  return parts.length > 0 ? parts.join(' ').trim() : undefined;
}

function storedTokens(tokens: UpstreamTokens): UpstreamTokenData {
  const data: UpstreamTokenData = { accessToken: tokens.accessToken };
  if (tokens.refreshToken) data.refreshToken = tokens.refreshToken;
  if (tokens.expiresAt !== undefined) data.expiry = new Date(tokens.expiresAt * 1000).toISOString();
  return data;
}
