/**
 * Handing an existing `passport-bitbucket-oauth2` strategy to the broker as type
 * `bitbucket-cloud`.
 *
 * passport-bitbucket-oauth2's profile is `/2.0/user` alone: no email address, which the
 * connector requires (the primary confirmed one, from `/2.0/user/emails`). So the verify callback
 * must hand over the access token (`done(null, { accessToken, refreshToken, params, profile })`);
 * the connector then reads the user, the email and the workspaces with it exactly as its own
 * login asking for groups does (so `teams` refuses non-members), checks the token belongs to
 * `profile.id` (the UUID), and keeps the tokens as its refresh expects them. A bare profile is
 * refused, whatever the config.
 */
import { UpstreamError } from '../../lib/errors.js';
import type { Identity } from '../../lib/identity.js';
import { passportProfile, readHandedOverUser } from '../shared/passport-user.js';
import { UpstreamApiError, tokenDataJson } from '../shared/platform.js';
import type { BitbucketCloudStrategy } from './strategy.js';

const PACKAGE = 'passport-bitbucket-oauth2';

async function identityFromToken(strategy: BitbucketCloudStrategy, accessToken: string, uuid: string): Promise<Identity> {
  try {
    return await strategy.identifyWithToken(accessToken, uuid);
  } catch (err) {
    if (err instanceof UpstreamApiError && err.upstreamStatus === 403) {
      throw new UpstreamError(
        `Bitbucket refused a call with the token ${PACKAGE} obtained (403): the consumer needs the permissions ` +
          "Account: Read and Account: Email; construct the strategy with scope: ['account', 'email']",
        { cause: err },
      );
    }
    throw err;
  }
}

export async function identityFromPassportUser(user: unknown, strategy: BitbucketCloudStrategy): Promise<Identity> {
  const handed = readHandedOverUser(user, PACKAGE);
  // The profile's id is the account UUID (`{...}`), Dex's user id.
  const uuid = passportProfile(handed.profile, 'bitbucket', [PACKAGE, 'Bitbucket']).id;
  if (handed.tokens === undefined) {
    throw new TypeError(
      `${PACKAGE} user: its profile carries no email address; hand over the access token ` +
        '(done(null, { accessToken, refreshToken, params, profile })) so the confirmed primary address and the workspaces can be read',
    );
  }
  const identity = await identityFromToken(strategy, handed.tokens.accessToken, uuid);
  identity.connectorData = tokenDataJson(handed.tokens);
  return identity;
}
