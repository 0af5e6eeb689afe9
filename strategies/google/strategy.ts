/**
 * Log in with Google, as Dex's `google` connector: Google's OpenID Connect endpoints (ID token
 * verified against Google's keys), `hostedDomains` sent as `hd` and enforced on the `hd` claim,
 * groups from the Admin Directory API, refresh through the refresh_token grant.
 */
import { AccessDeniedError, ConfigError, RefreshFailedError } from '../../lib/errors.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import { UpstreamOidcClient, loginRefusal, refreshRefusal, type UpstreamTokens } from '../oidc/client.js';
import { OidcLoginStrategy, type AuthorizationRequest } from '../oidc/login.js';
import type { Claims } from '../oidc/mapping.js';
import { isRecord } from '../shared/http.js';
import { filterGroups, upstreamFetch } from '../shared/platform.js';
import { parseStrategyConfig } from '../shared/strategy-config.js';
import { adminEmails, configSchema, GOOGLE_ISSUER, type GoogleConfig } from './config.js';
import type { GoogleDirectory } from './directory.js';

export class GoogleStrategy extends OidcLoginStrategy {
  readonly client: UpstreamOidcClient;
  private readonly config: GoogleConfig;
  private readonly scopes: string[];

  constructor(
    config: GoogleConfig,
    /** The Admin Directory, when `domainToAdminEmail` is configured. */
    private readonly directory: GoogleDirectory | undefined,
    name = 'google',
  ) {
    config = parseStrategyConfig(configSchema, config);
    if (!directory && Object.keys(adminEmails(config)).length > 0) {
      // Without it the required groups would go unchecked: anyone with a Google account could log in.
      const path = (config.groups ?? []).length > 0 ? 'groups' : 'domainToAdminEmail';
      throw new ConfigError([{ path, message: 'needs the Admin Directory, which was not passed: new GoogleStrategy(config, await directoryFor(config))' }]);
    }
    super(name, config.redirectURI);
    this.config = config;
    this.scopes = ['openid', ...(config.scopes && config.scopes.length > 0 ? config.scopes : ['profile', 'email'])];
    this.client = new UpstreamOidcClient({
      issuer: config.issuer ?? GOOGLE_ISSUER,
      clientID: config.clientID,
      clientSecret: config.clientSecret,
      fetch: upstreamFetch(),
    });
  }

  protected override async authorizationRequest(scopes: Scopes): Promise<AuthorizationRequest> {
    const extra: Record<string, string> = {};
    const domains = this.config.hostedDomains ?? [];
    if (domains.length > 0) extra.hd = domains.length === 1 ? domains[0]! : '*';
    if (scopes.offlineAccess) {
      extra.access_type = 'offline';
      const prompt = this.config.promptType ?? 'consent';
      if (prompt !== '') extra.prompt = prompt;
    }
    return { scopes: this.scopes, pkce: await this.client.advertisedPkce(), extra };
  }

  protected override identifyLogin(tokens: UpstreamTokens, claims: Claims, scopes: Scopes): Promise<Identity> {
    return this.identify(tokens.refreshToken, claims, scopes, undefined);
  }

  /**
   * Google's userinfo answer for an access token someone else obtained (a handed-over
   * passport-google-oauth20 strategy), which must be `expectedSubject`'s. It states the same
   * `sub`, `name`, `email`, `email_verified` and `hd` as the ID token of that login.
   */
  userinfo(accessToken: string, expectedSubject: string): Promise<Claims> {
    return this.client.userinfo(accessToken, expectedSubject, loginRefusal);
  }

  /**
   * Maps userinfo claims in place of an ID token's, by the same rules as a login asking for
   * groups (hosted domains, required groups); `refreshToken` is kept as a login keeps it.
   */
  identifyUserinfo(claims: Claims, refreshToken: string | undefined): Promise<Identity> {
    return this.identify(refreshToken, claims, { offlineAccess: true, groups: true }, undefined);
  }

  /** A new ID token from the refresh_token grant, mapped again (hosted domain and groups rechecked). */
  async refresh(identity: Identity, scopes: Scopes): Promise<Identity> {
    const data = identity.connectorData;
    const refreshToken = isRecord(data) && typeof data.refreshToken === 'string' ? data.refreshToken : '';
    if (refreshToken === '') throw new RefreshFailedError('google: no upstream refresh token was kept for this login');
    const tokens = await this.client.refresh(refreshToken);
    if (!tokens.idToken) throw new RefreshFailedError('google: the refresh answered no ID token');
    tokens.refreshToken ??= refreshToken;
    const claims = await this.client.verifyIdToken(tokens.idToken, { audience: true }, refreshRefusal);
    if (claims.sub !== identity.userId) throw new RefreshFailedError('google: the refresh answered for a different user');
    try {
      return await this.identify(tokens.refreshToken, claims, scopes, identity);
    } catch (err) {
      if (err instanceof AccessDeniedError) throw new RefreshFailedError(`google: ${err.message}`);
      throw err;
    }
  }

  /** Dex's `createIdentity` for Google. */
  private async identify(refreshToken: string | undefined, claims: Claims, scopes: Scopes, previous: Identity | undefined): Promise<Identity> {
    if (typeof claims.sub !== 'string' || claims.sub === '') throw new AccessDeniedError('Google sent an ID token without "sub".');
    // Google may leave out `name` (notably on refresh): Dex keeps the previous one.
    const name = typeof claims.name === 'string' && claims.name !== '' ? claims.name : (previous?.username ?? '');
    const email = typeof claims.email === 'string' ? claims.email : undefined;

    const domains = this.config.hostedDomains ?? [];
    if (domains.length > 0) {
      const hd = typeof claims.hd === 'string' ? claims.hd : '';
      if (!domains.includes(hd)) {
        throw new AccessDeniedError(hd ? `Accounts of ${hd} may not log in here.` : 'Only accounts of an allowed Google Workspace domain may log in here.');
      }
    }

    let groups: string[] = [];
    const required = this.config.groups ?? [];
    if (this.directory && (scopes.groups || required.length > 0)) {
      if (!email) throw new AccessDeniedError('Google sent no email, which the groups lookup needs.');
      groups = await this.directory.groupsOf(email, this.config.fetchTransitiveGroupMembership ?? false);
      if (required.length > 0) {
        groups = filterGroups(groups, required);
        if (groups.length === 0) throw new AccessDeniedError('You are not a member of any group allowed to log in here.');
      }
    }

    const identity: Identity = {
      userId: claims.sub,
      username: name,
      emailVerified: claims.email_verified === true,
      groups,
      connectorData: { refreshToken: refreshToken ?? '' },
    };
    if (email) identity.email = email;
    return identity;
  }
}
