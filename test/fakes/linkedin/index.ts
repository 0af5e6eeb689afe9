/**
 * A fake of "Sign In with LinkedIn using OpenID Connect": LinkedIn's paths (`/oauth/v2/...`,
 * `/v2/userinfo`), discovery fields (no nonce or PKCE advertised), 60-day access tokens,
 * `client_secret_post` only, refresh tokens only for apps with programmatic refresh, and
 * LinkedIn's error bodies (`invalid_request` for a bad code; `serviceErrorCode` JSON from the API).
 */
import { FakeIdp } from '../oidc/idp.js';

const TOKEN_ERRORS: Record<string, string> = {
  invalid_grant:
    'Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists',
  invalid_client: 'Client authentication failed',
  unsupported_grant_type: 'A required parameter "grant_type" is missing or invalid',
};

export class FakeLinkedIn extends FakeIdp {
  constructor(options: { programmaticRefresh: boolean; clientID?: string; clientSecret?: string }) {
    super({
      clientID: options.clientID ?? '86abcdef123456',
      clientSecret: options.clientSecret ?? 'WPL_AP1.secret',
      paths: {
        discovery: '/oauth/.well-known/openid-configuration',
        authorize: '/oauth/v2/authorization',
        token: '/oauth/v2/accessToken',
        userinfo: '/v2/userinfo',
        jwks: '/oauth/openid/jwks',
      },
      issuer: (base) => `${base}/oauth`,
      discoveryExtra: {
        response_types_supported: ['code'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'profile', 'email'],
        claims_supported: ['iss', 'aud', 'iat', 'exp', 'sub', 'name', 'given_name', 'family_name', 'picture', 'email', 'email_verified', 'locale'],
      },
      clientAuth: 'post',
      accessTokenLifetime: 5_184_000,
      refreshTokens: options.programmaticRefresh,
      offline: () => true,
      rotateRefreshTokens: true,
      // LinkedIn answers `invalid_request` where the RFC says `invalid_grant`.
      tokenError: (res, status, error) =>
        res.status(status).json({ error: error === 'invalid_grant' ? 'invalid_request' : error, error_description: TOKEN_ERRORS[error] ?? error }),
      userinfoUnauthorized: (res) => res.status(401).json({ serviceErrorCode: 65600, message: 'Invalid access token', status: 401 }),
    });
  }
}
