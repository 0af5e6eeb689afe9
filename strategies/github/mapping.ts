/**
 * From GitHub's answers to an `Identity`: which email, which groups, and who is refused.
 * Groups follow Dex: `org:team` for configured orgs, bare team names for the legacy `org`, and
 * every org plus `org:team` with `loadAllGroups`.
 */
import { AccessDeniedError, UpstreamError } from '../../lib/errors.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import { filterGroups } from '../shared/platform.js';
import type { GitHubApi, GitHubEmail, GitHubTeam, GitHubUser } from './api.js';
import type { GitHubConfig } from './config.js';

/** Whether `domain` matches the configured preferred domain (`*` stands for one label). */
export function isPreferredDomain(domain: string, preferred: string): boolean {
  if (domain === preferred) return true;
  const want = preferred.split('.');
  const got = domain.split('.');
  return want.length === got.length && want.every((label, i) => label === '*' || label === got[i]);
}

/**
 * The email to vouch for, always a verified one: a verified address in the preferred domain,
 * else the public profile address if it is verified, else the primary verified address.
 * Unlike Dex, GitHub Enterprise addresses must be verified too.
 */
export function chooseEmail(user: GitHubUser, emails: readonly GitHubEmail[], preferredDomain?: string): string {
  const verified = emails.filter((e) => e.verified);
  if (preferredDomain !== undefined) {
    for (const e of verified) {
      const at = e.email.lastIndexOf('@');
      if (at < 0) throw new UpstreamError('GitHub returned an email address without a domain');
      if (isPreferredDomain(e.email.slice(at + 1), preferredDomain)) return e.email;
    }
  } else if (user.email !== undefined && verified.some((e) => e.email === user.email)) {
    return user.email;
  }
  const primary = verified.find((e) => e.primary);
  if (primary) return primary.email;
  throw new AccessDeniedError('Your GitHub account has no verified primary email address. Verify one on GitHub and try again.');
}

/** `teamNameField`: which team names become groups. */
export function teamClaims(team: GitHubTeam, field: GitHubConfig['teamNameField']): string[] {
  if (field === 'both') return [team.name, team.slug];
  if (field === 'slug') return [team.slug];
  return [team.name];
}

/** Whether the connector must ask GitHub for groups (and so for `read:org`). */
export function groupsRequired(config: GitHubConfig, scopes: Scopes): boolean {
  return (config.orgs?.length ?? 0) > 0 || config.org !== undefined || scopes.groups;
}

/**
 * The user's groups; with `orgs` configured, also the access check: a user in none of the orgs
 * (or, where teams are listed, in none of those teams) is refused.
 */
export async function loadGroups(api: GitHubApi, user: GitHubUser, config: GitHubConfig, scopes: Scopes): Promise<string[]> {
  const field = config.teamNameField;
  if (config.orgs !== undefined && config.orgs.length > 0) {
    let allTeams: GitHubTeam[] | undefined;
    const groups: string[] = [];
    let inOrgWithoutTeamFilter = false;
    for (const org of config.orgs) {
      if (!(await api.isOrgMember(org.name, user.login))) continue;
      allTeams ??= await api.teams();
      let claims = allTeams.filter((t) => t.org === org.name).flatMap((t) => teamClaims(t, field));
      if (org.teams === undefined || org.teams.length === 0) inOrgWithoutTeamFilter = true;
      else claims = filterGroups(claims, org.teams);
      groups.push(...claims.map((team) => `${org.name}:${team}`));
    }
    if (inOrgWithoutTeamFilter || groups.length > 0) return groups;
    throw new AccessDeniedError(`GitHub user ${user.login} is not in the required organizations or teams.`);
  }
  if (config.org !== undefined) {
    const org = config.org;
    return (await api.teams()).filter((t) => t.org === org).flatMap((t) => teamClaims(t, field));
  }
  if (scopes.groups && config.loadAllGroups === true) {
    const [orgs, teams] = await Promise.all([api.orgs(), api.teams()]);
    return orgs.flatMap((o) => [o, ...teams.filter((t) => t.org === o).flatMap((t) => teamClaims(t, field).map((n) => `${o}:${n}`))]);
  }
  return [];
}

/** The identity without groups or tokens: ids, names and the verified email. */
export function baseIdentity(user: GitHubUser, email: string, config: GitHubConfig): Identity {
  return {
    userId: config.useLoginAsID === true ? user.login : user.id,
    // Dex shows the display name, or the login when the user set none.
    username: user.name ?? user.login,
    preferredUsername: user.login,
    email,
    emailVerified: true,
    groups: [],
  };
}

/** Reads the user, their verified email and groups from GitHub: the whole mapping. */
export async function readIdentity(
  api: GitHubApi,
  config: GitHubConfig,
  scopes: Scopes,
  expectedUserId?: string,
): Promise<Identity> {
  const user = await api.user();
  if (expectedUserId !== undefined && user.id !== expectedUserId) {
    throw new UpstreamError('the GitHub token belongs to another user than the profile');
  }
  const email = chooseEmail(user, await api.emails(), config.preferredEmailDomain);
  const identity = baseIdentity(user, email, config);
  if (groupsRequired(config, scopes)) identity.groups = await loadGroups(api, user, config, scopes);
  return identity;
}
