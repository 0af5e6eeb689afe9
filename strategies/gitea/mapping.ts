/**
 * From Gitea's answers to an `Identity`. Groups are Dex's: the org name and `org:team` for each
 * team. With `orgs` configured, a user in none of them, or (where teams are listed) in none of
 * those teams, is refused.
 */
import { AccessDeniedError } from '../../lib/errors.js';
import type { Identity } from '../../lib/identity.js';
import { unique } from '../shared/platform.js';
import type { GiteaApi, GiteaEmail, GiteaTeam, GiteaUser } from './api.js';
import type { GiteaConfig } from './config.js';

/** Every org and `org:team` of the user, each once, in the order Gitea lists the teams. */
export function allGroups(teams: readonly GiteaTeam[]): string[] {
  return unique(teams.flatMap((t) => [t.org, `${t.org}:${t.name}`]));
}

/**
 * The configured orgs' groups the user has, or a refusal. An org without `teams` gives its name;
 * an org with `teams` gives its name and the listed teams the user is in, and admits only members
 * of one of those teams (Dex admits any org member there, since the org name alone matches).
 */
export function groupsForOrgs(teams: readonly GiteaTeam[], orgs: NonNullable<GiteaConfig['orgs']>, login: string): string[] {
  const groups: string[] = [];
  for (const org of orgs) {
    const mine = teams.filter((t) => t.org === org.name);
    if (mine.length === 0) continue;
    if (org.teams === undefined || org.teams.length === 0) {
      groups.push(org.name);
      continue;
    }
    const listed = org.teams;
    const kept = mine.filter((t) => listed.includes(t.name)).map((t) => `${org.name}:${t.name}`);
    if (kept.length > 0) groups.push(org.name, ...kept);
  }
  if (groups.length === 0) throw new AccessDeniedError(`Gitea user ${login} does not belong to any of the approved organizations or teams.`);
  return unique(groups);
}

/** The user's primary address, only when Gitea lists it as verified (Dex takes it unchecked). */
export function verifiedEmail(user: GiteaUser, emails: readonly GiteaEmail[]): string {
  const listed = emails.find((e) => e.email === user.email && e.verified);
  if (user.email !== undefined && listed) return user.email;
  const primary = emails.find((e) => e.primary && e.verified);
  if (primary) return primary.email;
  throw new AccessDeniedError('Your Gitea email address is not verified. Verify it in Gitea and try again.');
}

export async function readIdentity(api: GiteaApi, config: GiteaConfig): Promise<Identity> {
  const user = await api.user();
  const email = verifiedEmail(user, await api.emails());
  const identity: Identity = {
    userId: config.useLoginAsID === true ? user.login : user.id,
    // Dex shows the full name, or the email when none is set.
    username: user.fullName ?? email,
    preferredUsername: user.login,
    email,
    emailVerified: true,
    groups: [],
  };
  if (config.orgs !== undefined && config.orgs.length > 0) identity.groups = groupsForOrgs(await api.teams(), config.orgs, user.login);
  else if (config.loadAllGroups === true) identity.groups = allGroups(await api.teams());
  return identity;
}
