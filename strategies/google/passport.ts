/**
 * Handing an existing `passport-google-oauth20` strategy to the broker as type `google`.
 *
 * The connector's own login reads the user from the ID token. A passport-google-oauth20 verify
 * callback gets one only when written with five arguments (in `params`), and only when `openid`
 * was asked for, so the mapping reads the same claims from Google's OpenID Connect userinfo
 * instead: it answers the same `sub` (the user id), `name`, `email`, `email_verified` and `hd`
 * for the user as the ID token of that login, and the connector's own rules then apply
 * (`hostedDomains` on `hd`, groups from the Admin Directory by the email, required groups):
 * - when the verify callback hands over the access token (`done(null, { accessToken,
 *   refreshToken, profile })`), the connector asks userinfo (from Google's discovery document)
 *   with that token, which must belong to `profile.id`, and keeps the refresh token as its own
 *   login does, so its refresh (the refresh_token grant, ID token checked) works;
 * - a bare profile is mapped from its `_json`, which is passport-google-oauth20's copy of that
 *   userinfo answer when its `userProfileURL` is an OpenID Connect userinfo endpoint (the
 *   default). A profile without `_json`, or whose `_json` has no `sub` equal to its id (the
 *   legacy Google+ or v2 formats), is refused. Without a refresh token, refresh fails.
 */
import type { Identity } from '../../lib/identity.js';
import { isRecord } from '../shared/http.js';
import { passportProfile, readHandedOverUser, type PassportProfile } from '../shared/passport-user.js';
import type { GoogleStrategy } from './strategy.js';

const PACKAGE = 'passport-google-oauth20';

/** The OpenID Connect userinfo claims a bare profile carries (`_json`, the package's copy of Google's userinfo), tied to its id. */
function userinfoOf(profile: PassportProfile): Record<string, unknown> {
  const json = profile.json;
  if (!isRecord(json) || json.sub !== profile.id) {
    throw new TypeError(
      `${PACKAGE} profile carries no OpenID Connect userinfo (_json with "sub" equal to its id): keep the default ` +
        'userProfileURL, or hand over the access token (done(null, { accessToken, refreshToken, profile }))',
    );
  }
  return json;
}

export async function identityFromPassportUser(user: unknown, strategy: GoogleStrategy): Promise<Identity> {
  const handed = readHandedOverUser(user, PACKAGE);
  const profile = passportProfile(handed.profile, 'google', [PACKAGE, 'Google']);
  if (handed.tokens === undefined) return strategy.identifyUserinfo(userinfoOf(profile), undefined);
  const claims = await strategy.userinfo(handed.tokens.accessToken, profile.id);
  return strategy.identifyUserinfo(claims, handed.tokens.refreshToken);
}
