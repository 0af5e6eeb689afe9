/**
 * `oidc`: log in through any OpenID Connect provider (Dex's generic `oidc` connector).
 *
 * Capability row: refresh yes (the upstream refresh_token grant), groups yes (with
 * `insecureEnableGroups`), preferred_username yes. Also does RFC 8693 token exchange.
 */
import type { ConnectorModule } from '../../lib/connector.js';
import { AccessDeniedError, ConfigError } from '../../lib/errors.js';
import type { Identity } from '../../lib/identity.js';
import { isRecord } from '../shared/http.js';
import { configSchema, upstreamScopes, type OidcConfig } from './config.js';
import { identityFromClaims } from './mapping.js';
import { OidcStrategy } from './strategy.js';
import { checkRedirectURI } from '../shared/oauth2.js';
import { checkRedirectURIConfig } from '../shared/redirect-uri.js';

export { configSchema, type OidcConfig } from './config.js';
export { OidcStrategy } from './strategy.js';

/**
 * What an existing OpenID Connect Passport strategy hands to `success(user)`, mapped with this
 * connector's config (claim keys, groups, email rules):
 * - `passport-openidconnect`: its profile; the claims are in `profile._json` when it read
 *   userinfo (`skipUserProfile: false`), otherwise only the profile's few fields are known;
 * - `openid-client/passport`: the token response (`tokens`, with `claims()`), whose refresh
 *   token is kept so the broker can refresh through this connector; or the bare claims
 *   (`tokens.claims()`), which must include `sub`.
 * Those strategies verified the login; `passport-openidconnect` does not check the ID token's
 * signature, which is why the `oidc` connector itself is preferred.
 */
export function fromPassportUser(user: unknown, config: OidcConfig): Identity {
  if (!isRecord(user)) throw new AccessDeniedError('The OpenID Connect strategy returned no user.');
  const emailScope = upstreamScopes(config).includes('email');
  if (typeof user.claims === 'function') {
    const claims: unknown = (user.claims as () => unknown).call(user);
    if (!isRecord(claims)) throw new AccessDeniedError('The token response carries no ID token claims.');
    const identity = identityFromClaims(claims, config, emailScope);
    // Without an upstream refresh token there is nothing to refresh with: no connectorData, so no refresh token to the client.
    if (typeof user.refresh_token === 'string' && user.refresh_token !== '') identity.connectorData = { refreshToken: user.refresh_token };
    return identity;
  }
  if (isRecord(user._json)) return identityFromClaims(user._json, config, emailScope);
  if (typeof user.sub === 'string') return identityFromClaims(user, config, emailScope);
  if (typeof user.id === 'string') return identityFromClaims(claimsOfProfile(user), config, emailScope);
  throw new AccessDeniedError('The OpenID Connect strategy returned a user with neither claims nor a "sub".');
}

/**
 * A `passport-openidconnect` profile built from the ID token alone (its default, without
 * userinfo): only `sub`, `name`, `preferred_username` and `email` survive, and never
 * `email_verified`, so the email is refused unless `insecureSkipEmailVerified`.
 */
function claimsOfProfile(profile: Record<string, unknown>): Record<string, unknown> {
  const claims: Record<string, unknown> = { sub: profile.id };
  if (typeof profile.displayName === 'string') claims.name = profile.displayName;
  if (typeof profile.username === 'string') claims.preferred_username = profile.username;
  const first = Array.isArray(profile.emails) ? (profile.emails[0] as unknown) : undefined;
  if (isRecord(first) && typeof first.value === 'string') claims.email = first.value;
  return claims;
}

export const oidc = {
  type: 'oidc',
  configSchema,
  checkConfig: checkRedirectURIConfig,
  async create(config, context) {
    checkRedirectURI(config.redirectURI, context);
    const strategy = new OidcStrategy(config, context.id);
    // Discover at start-up, as Dex does, so a wrong issuer fails the broker's start, not a login.
    const { metadata } = await strategy.client.discover();
    if (config.getUserInfo && typeof metadata.userinfo_endpoint !== 'string') {
      throw new ConfigError([{ path: 'getUserInfo', message: 'the provider advertises no userinfo_endpoint (set providerDiscoveryOverrides.userInfoURL)' }]);
    }
    if (config.providerDiscoveryOverrides) {
      context.logger.warn({ connector: context.id }, 'providerDiscoveryOverrides are set: a wrong endpoint here is a security risk');
    }
    // Dex sends the browser to this end_session_endpoint on logout; the broker's /logout does not.
    if (config.providerDiscoveryOverrides?.endSessionURL) {
      context.logger.warn(
        { connector: context.id },
        'providerDiscoveryOverrides.endSessionURL is ignored: /logout ends the broker session only, not the upstream one',
      );
    }
    return {
      strategy,
      refresh: (identity: Identity) => strategy.refresh(identity),
      tokenIdentity: (type: string, token: string) => strategy.tokenIdentity(type, token),
    };
  },
  fromPassportUser,
} satisfies ConnectorModule<OidcConfig>;

export default oidc;
