/**
 * Handing an existing `passport-gitlab2` strategy to the broker as type `gitlab`.
 *
 * - When the verify callback hands over the access token (`done(null, { accessToken,
 *   refreshToken, profile })`), the connector reads `/api/v4/user` and the groups with that token
 *   exactly as its own login asking for groups does, checks the token belongs to `profile.id`,
 *   and keeps the tokens as its refresh expects them (GitLab rotates the refresh token on every
 *   use; the connector's refresh keeps the new one). So the strategy must ask GitLab for
 *   `read_user openid` (plus `read_api` with `inheritedGroups`).
 * - A bare profile is mapped from its `_json` (passport-gitlab2's copy of `/api/v4/user`) with
 *   the connector's own rules, and only for a config that needs no groups (`groups`,
 *   `getGroupsPermission`, `inheritedGroups`), since membership cannot be checked without a token.
 */
import { UpstreamError } from '../../lib/errors.js';
import type { Identity } from '../../lib/identity.js';
import { isRecord } from '../shared/http.js';
import { passportProfile, readHandedOverUser, type PassportProfile } from '../shared/passport-user.js';
import { UpstreamApiError, tokenDataJson } from '../shared/platform.js';
import { parseUser } from './api.js';
import type { GitLabConfig } from './config.js';
import { baseIdentity } from './mapping.js';
import type { GitLabStrategy } from './strategy.js';

const PACKAGE = 'passport-gitlab2';


/** Whether the config asks for groups whatever the client asks (so a bare profile cannot do). */
function needsGroups(config: GitLabConfig): boolean {
  return (config.groups?.length ?? 0) > 0 || config.getGroupsPermission === true || config.inheritedGroups === true;
}

function scopesNeeded(config: GitLabConfig): string {
  return config.inheritedGroups === true ? "['read_user', 'openid', 'read_api']" : "['read_user', 'openid']";
}

async function identityFromToken(strategy: GitLabStrategy, config: GitLabConfig, accessToken: string, userId: string): Promise<Identity> {
  try {
    return await strategy.identifyWithToken(accessToken, userId);
  } catch (err) {
    if (err instanceof UpstreamApiError && err.upstreamStatus === 403) {
      throw new UpstreamError(
        `GitLab refused a call with the token ${PACKAGE} obtained (403, insufficient scope): construct it with ` +
          `scope: ${scopesNeeded(config)} and scopeSeparator: ' '`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** `profile.json` is GitLab's `/api/v4/user` answer, as passport-gitlab2 keeps it. */
function identityFromProfile(profile: PassportProfile, config: GitLabConfig): Identity {
  if (needsGroups(config)) {
    throw new TypeError(
      `${PACKAGE} user: this gitlab config needs groups; hand over the access token ` +
        '(done(null, { accessToken, refreshToken, profile })) so membership can be checked',
    );
  }
  if (!isRecord(profile.json)) throw new TypeError(`${PACKAGE} profile has no _json (GitLab's /api/v4/user answer)`);
  const user = parseUser(profile.json);
  if (user.id !== profile.id) throw new TypeError(`${PACKAGE} profile: id and _json.id differ`);
  return baseIdentity(user, config);
}

export async function identityFromPassportUser(user: unknown, config: GitLabConfig, strategy: GitLabStrategy): Promise<Identity> {
  const handed = readHandedOverUser(user, PACKAGE);
  const profile = passportProfile(handed.profile, 'gitlab', [PACKAGE, 'GitLab']);
  if (handed.tokens === undefined) return identityFromProfile(profile, config);
  const identity = await identityFromToken(strategy, config, handed.tokens.accessToken, profile.id);
  identity.connectorData = tokenDataJson(handed.tokens);
  return identity;
}
