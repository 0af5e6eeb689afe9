/**
 * Handing an existing `passport-github2` strategy to the broker as type `github`.
 *
 * passport-github2's profile says nothing about whether an address is verified (it copies the
 * primary address, verified or not), so the mapping stays fail-closed this way:
 * - when the verify callback hands over the access token (`done(null, { accessToken,
 *   refreshToken, profile })`, plus `params` from a five-argument verify callback for the
 *   token's expiry), the connector reads the user, `/user/emails` and the groups with that
 *   token, exactly as its own login does, and checks the token belongs to `profile.id`;
 * - without a token it accepts only a profile made with `allRawEmails: true` (whose entries carry
 *   `verified` and `primary`), takes the primary verified address, and refuses any config that
 *   needs groups (`org`, `orgs`, `loadAllGroups`), since membership cannot be checked.
 */
import type { Identity } from '../../lib/identity.js';
import { isRecord } from '../shared/http.js';
import { passportProfile, readHandedOverUser } from '../shared/passport-user.js';
import { tokenDataJson } from '../shared/platform.js';
import type { GitHubEmail } from './api.js';
import type { GitHubConfig } from './config.js';
import { chooseEmail } from './mapping.js';
import type { GitHubStrategy } from './strategy.js';

interface ProfileFields {
  id: string;
  username: string;
  displayName?: string;
  emails: unknown;
}

function profileFields(value: unknown): ProfileFields {
  const { id, fields: profile } = passportProfile(value, 'github', ['passport-github2', 'GitHub']);
  if (typeof profile.username !== 'string' || profile.username === '') {
    throw new TypeError('passport-github2 profile has no username');
  }
  const fields: ProfileFields = { id, username: profile.username, emails: profile.emails };
  if (typeof profile.displayName === 'string' && profile.displayName !== '') fields.displayName = profile.displayName;
  return fields;
}

/** The address to vouch for among `allRawEmails` entries, chosen as the connector chooses. */
function verifiedEmail(profile: ProfileFields, preferredDomain: string | undefined): string {
  const emails = profile.emails;
  if (!Array.isArray(emails) || !emails.every((e) => isRecord(e) && typeof e.verified === 'boolean' && typeof e.value === 'string')) {
    throw new TypeError(
      'passport-github2 profile carries no verification flags: pass the access token to the broker ' +
        '(done(null, { accessToken, profile })) or construct the strategy with allRawEmails: true',
    );
  }
  const entries: GitHubEmail[] = (emails as Record<string, unknown>[]).map((e) => ({
    email: e.value as string,
    verified: e.verified === true,
    primary: e.primary === true,
  }));
  return chooseEmail({ id: profile.id, login: profile.username }, entries, preferredDomain);
}

export async function identityFromPassportUser(user: unknown, config: GitHubConfig, strategy: GitHubStrategy): Promise<Identity> {
  const handed = readHandedOverUser(user, 'passport-github2');
  const profile = profileFields(handed.profile);
  if (handed.tokens !== undefined) {
    const identity = await strategy.identifyWithToken(handed.tokens.accessToken, { offlineAccess: true, groups: true }, profile.id);
    // A GitHub App's user token expires (8 h) and comes with a refresh token: kept with its
    // expiry (from `params`, or "now" when unknown, so the first refresh renews it).
    identity.connectorData = tokenDataJson(handed.tokens);
    return identity;
  }
  if (config.org !== undefined || (config.orgs?.length ?? 0) > 0 || config.loadAllGroups === true) {
    throw new TypeError('passport-github2 user: this github config needs groups; pass the access token so membership can be checked');
  }
  return {
    userId: config.useLoginAsID === true ? profile.username : profile.id,
    username: profile.displayName ?? profile.username,
    preferredUsername: profile.username,
    email: verifiedEmail(profile, config.preferredEmailDomain),
    emailVerified: true,
    groups: [],
  };
}
