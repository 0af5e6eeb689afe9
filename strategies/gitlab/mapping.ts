/**
 * From GitLab's answers to an `Identity`, as Dex forms it: groups are full group paths, with
 * `getGroupsPermission` also `path:owner|maintainer|developer` (a role in a parent group applies
 * to its subgroups), and `groups` in the config both filters them and refuses users in none.
 */
import { AccessDeniedError, UpstreamError } from '../../lib/errors.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import { filterGroups } from '../shared/platform.js';
import type { GitLabApi, GitLabUser, GitLabUserInfo } from './api.js';
import type { GitLabConfig } from './config.js';

/** GitLab's numeric access levels, by the names Dex gives them. */
const ACCESS_LEVELS: Record<number, string> = {
  5: 'minimal_access',
  10: 'guest',
  15: 'planner',
  20: 'reporter',
  25: 'security_manager',
  30: 'developer',
  40: 'maintainer',
  50: 'owner',
  60: 'admin',
};

/** Whether a role held on `rolePath` applies to `group` (the same group or a subgroup of it). */
function coveredBy(group: string, rolePaths: readonly string[]): boolean {
  return rolePaths.some((p) => group === p || group.startsWith(`${p}/`));
}

/** The strongest role userinfo grants on `group`, if any. */
export function roleFromUserInfo(group: string, info: GitLabUserInfo): string | undefined {
  if (coveredBy(group, info.owner)) return 'owner';
  if (coveredBy(group, info.maintainer)) return 'maintainer';
  if (coveredBy(group, info.developer)) return 'developer';
  return undefined;
}

export function groupsRequired(config: GitLabConfig, scopes: Scopes): boolean {
  return (config.groups?.length ?? 0) > 0 || scopes.groups;
}

/** The user's groups before filtering: direct ones from userinfo, or inherited ones from the groups API. */
async function groupClaims(api: GitLabApi, user: GitLabUser, config: GitLabConfig): Promise<string[]> {
  const withRoles = config.getGroupsPermission === true;
  if (config.inheritedGroups !== true) {
    const info = await api.userInfo();
    if (!withRoles) return info.groups;
    return [...info.groups, ...info.groups.flatMap((g) => roleSuffix(g, roleFromUserInfo(g, info)))];
  }
  const groups = await api.groups();
  const paths = groups.map((g) => g.path);
  if (!withRoles) return paths;
  const info = await api.userInfo();
  const claims = [...paths, ...paths.flatMap((g) => roleSuffix(g, roleFromUserInfo(g, info)))];
  for (const group of groups) {
    if (roleFromUserInfo(group.path, info) !== undefined) continue;
    const level = await api.accessLevel(group.id, user.id);
    const role = level === undefined ? undefined : ACCESS_LEVELS[level];
    claims.push(...roleSuffix(group.path, role));
  }
  return claims;
}

function roleSuffix(group: string, role: string | undefined): string[] {
  return role === undefined ? [] : [`${group}:${role}`];
}

export async function loadGroups(api: GitLabApi, user: GitLabUser, config: GitLabConfig, scopes: Scopes): Promise<string[]> {
  const claims = await groupClaims(api, user, config);
  if (config.groups !== undefined && config.groups.length > 0) {
    const kept = filterGroups(claims, config.groups);
    if (kept.length === 0) throw new AccessDeniedError(`GitLab user ${user.username} is not in any of the required groups.`);
    return kept;
  }
  return scopes.groups ? claims : [];
}

/**
 * Ids and names as Dex maps them; the email only when GitLab says the address was confirmed
 * (Dex marks every GitLab address verified).
 */
export function baseIdentity(user: GitLabUser, config: GitLabConfig): Identity {
  if (user.email === undefined) throw new UpstreamError('GitLab /api/v4/user has no "email" (the token needs read_user)');
  if (user.confirmedAt === undefined) {
    throw new AccessDeniedError('Your GitLab email address is not confirmed. Confirm it on GitLab and try again.');
  }
  return {
    userId: config.useLoginAsID === true ? user.username : user.id,
    // Dex shows the full name, or the email when the user set none.
    username: user.name ?? user.email,
    preferredUsername: user.username,
    email: user.email,
    emailVerified: true,
    groups: [],
  };
}

/**
 * Reads the user (and groups, where needed) from GitLab: the whole mapping. `expectedUserId`:
 * the numeric id the token must belong to (a token handed over with a passport-gitlab2 profile).
 */
export async function readIdentity(api: GitLabApi, config: GitLabConfig, scopes: Scopes, expectedUserId?: string): Promise<Identity> {
  const user = await api.user();
  if (expectedUserId !== undefined && user.id !== expectedUserId) {
    throw new UpstreamError('the GitLab token belongs to another user than the profile');
  }
  const identity = baseIdentity(user, config);
  if (groupsRequired(config, scopes)) identity.groups = await loadGroups(api, user, config, scopes);
  return identity;
}
