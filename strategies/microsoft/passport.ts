/**
 * Handing an existing `passport-microsoft` strategy to the broker as type `microsoft`.
 *
 * - When the verify callback hands over the access token (`done(null, { accessToken,
 *   refreshToken, profile })`), the connector reads `/me` and, in an organisation tenant, the
 *   groups with that token exactly as its own login asking for groups does, checks the token
 *   belongs to `profile.id`, and keeps the tokens as its refresh expects them. The strategy may
 *   have logged the user in at another tenant's endpoints than the config's `tenant`, so unless
 *   the tenant is `common` the user's directory is read from Graph (`/organization`) and must be
 *   the configured one (`organizations`: any directory). `consumers` is refused: Graph serves no
 *   directory for personal accounts, so a personal account cannot be told from a failed check.
 * - A bare profile is mapped from its `_json` (passport-microsoft's copy of `/me`) by the
 *   connector's own rules, only with tenant `common` (nothing to check, and no groups there): a
 *   profile says nothing of the user's directory or groups.
 */
import type { Identity } from '../../lib/identity.js';
import { isRecord } from '../shared/http.js';
import { passportProfile, readHandedOverUser, type PassportProfile } from '../shared/passport-user.js';
import { tokenDataJson } from '../shared/platform.js';
import type { MicrosoftConfig } from './config.js';
import { parseGraphUser } from './graph.js';
import type { MicrosoftStrategy } from './strategy.js';

const PACKAGE = 'passport-microsoft';
const HAND_OVER = 'hand over the access token (done(null, { accessToken, refreshToken, profile }))';


/** `profile.json` is Graph's `/me` answer, as passport-microsoft keeps it. */
function identityFromProfile(profile: PassportProfile, config: MicrosoftConfig, strategy: MicrosoftStrategy): Identity {
  const tenant = config.tenant ?? 'common';
  if (tenant !== 'common') {
    throw new TypeError(`${PACKAGE} user: this microsoft config admits only tenant "${tenant}", which a profile cannot prove; ${HAND_OVER}`);
  }
  const json = profile.json;
  if (!isRecord(json)) throw new TypeError(`${PACKAGE} profile has no _json (Graph's /me answer)`);
  // passport-microsoft reads `/me` without `$select`, and Graph leaves these out by default.
  const field = config.preferredUsernameField;
  if ((field === 'mailNickname' || field === 'onPremisesSamAccountName') && !(field in json)) {
    throw new TypeError(`${PACKAGE} profile: _json has no "${field}" (preferredUsernameField); ${HAND_OVER}`);
  }
  const user = parseGraphUser(json);
  if (user.id !== profile.id) throw new TypeError(`${PACKAGE} profile: id and _json.id differ`);
  return strategy.identityOf(user);
}

export async function identityFromPassportUser(user: unknown, config: MicrosoftConfig, strategy: MicrosoftStrategy): Promise<Identity> {
  const handed = readHandedOverUser(user, PACKAGE);
  const profile = passportProfile(handed.profile, 'microsoft', [PACKAGE, 'Microsoft']);
  if (handed.tokens === undefined) return identityFromProfile(profile, config, strategy);
  if (config.tenant === 'consumers') {
    throw new TypeError(
      `${PACKAGE} user: tenant "consumers" cannot be checked for a token the connector did not get itself ` +
        '(Graph serves no directory for personal accounts); use the built-in microsoft connector, or tenant "common"',
    );
  }
  const identity = await strategy.identifyWithToken(handed.tokens.accessToken, profile.id);
  identity.connectorData = tokenDataJson(handed.tokens);
  return identity;
}
