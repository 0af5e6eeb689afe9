/**
 * Handing an existing `passport-linkedin-oauth2` strategy to the broker as type `linkedin`.
 *
 * passport-linkedin-oauth2 (2.x) builds its profile from LinkedIn's legacy `/v2/me` and
 * `/v2/emailAddress` APIs (`r_liteprofile`, `r_emailaddress`, closed to new apps). The connector
 * uses "Sign In with LinkedIn using OpenID Connect", whose user id is the OpenID Connect `sub`;
 * nothing says the legacy `id` equals it, so a profile is never mapped, and its email carries
 * no verified flag. Only the access token is used: the strategy asks for `openid profile email`
 * (and skips its own profile call, which such a token cannot make), the verify callback hands
 * over `done(null, { accessToken, refreshToken, profile })`, and the connector reads
 * `/v2/userinfo` with that token exactly as its own login does, keeping the tokens as its
 * refresh expects them. The profile, undefined with `skipUserProfile`, is not read.
 */
import type { Identity } from '../../lib/identity.js';
import { isRecord } from '../shared/http.js';
import { readHandedOverUser } from '../shared/passport-user.js';
import { tokenDataJson } from '../shared/platform.js';
import type { LinkedInStrategy } from './strategy.js';

const PACKAGE = 'passport-linkedin-oauth2';

export async function identityFromPassportUser(user: unknown, strategy: LinkedInStrategy): Promise<Identity> {
  const handed = readHandedOverUser(user, PACKAGE);
  if (handed.tokens === undefined) {
    throw new TypeError(
      `${PACKAGE} user: a profile cannot be mapped (its id comes from LinkedIn's legacy /v2/me API, not the OpenID ` +
        "Connect sub the linkedin connector uses as user id); construct the strategy with scope: ['openid', 'profile', " +
        "'email'] and skipUserProfile: true, and hand over the access token (done(null, { accessToken, refreshToken, profile }))",
    );
  }
  if (handed.profile !== undefined && !(isRecord(handed.profile) && handed.profile.provider === 'linkedin')) {
    throw new TypeError(`${PACKAGE} user: expected a LinkedIn profile (provider "linkedin") or none`);
  }
  const identity = await strategy.identifyWithToken(handed.tokens.accessToken);
  identity.connectorData = tokenDataJson(handed.tokens);
  return identity;
}
