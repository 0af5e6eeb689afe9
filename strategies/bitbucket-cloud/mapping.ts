/**
 * From Bitbucket's answers to an `Identity`: the UUID as user id, the display name (Atlassian
 * removed `username`), the primary confirmed address, workspaces as groups, `teams` as a filter
 * that refuses users in none.
 */
import { AccessDeniedError, UpstreamError } from '../../lib/errors.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import { filterGroups } from '../shared/platform.js';
import type { BitbucketApi, BitbucketEmail } from './api.js';
import type { BitbucketConfig } from './config.js';

export function primaryConfirmedEmail(emails: readonly BitbucketEmail[]): string {
  const found = emails.find((e) => e.primary && e.confirmed);
  if (!found) throw new AccessDeniedError('Your Bitbucket account has no confirmed primary email address. Confirm one and try again.');
  return found.email;
}

export function groupsRequired(config: BitbucketConfig, scopes: Scopes): boolean {
  return (config.teams?.length ?? 0) > 0 || scopes.groups;
}

async function workspaceGroups(api: BitbucketApi, config: BitbucketConfig): Promise<string[]> {
  const slugs = await api.workspaces();
  if (config.getWorkspacePermissions !== true) return slugs;
  const withRoles: string[] = [];
  for (const slug of slugs) {
    const permission = await api.workspacePermission(slug);
    if (permission !== undefined) withRoles.push(`${slug}:${permission}`);
  }
  return [...slugs, ...withRoles];
}

/**
 * Reads the user, their email and (where needed) workspaces from Bitbucket: the whole mapping.
 * `expectedUserId`: the UUID the token must belong to (a token handed over with a
 * passport-bitbucket-oauth2 profile).
 */
export async function readIdentity(api: BitbucketApi, config: BitbucketConfig, scopes: Scopes, expectedUserId?: string): Promise<Identity> {
  const user = await api.user();
  if (expectedUserId !== undefined && user.uuid !== expectedUserId) {
    throw new UpstreamError('the Bitbucket token belongs to another user than the profile');
  }
  const identity: Identity = {
    userId: user.uuid,
    username: user.displayName,
    email: primaryConfirmedEmail(await api.emails()),
    emailVerified: true,
    groups: [],
  };
  if (!groupsRequired(config, scopes)) return identity;
  const groups = await workspaceGroups(api, config);
  if (config.teams !== undefined && config.teams.length > 0) {
    const kept = filterGroups(groups, config.teams);
    if (kept.length === 0) throw new AccessDeniedError(`The Bitbucket user ${user.displayName} is not in any of the required workspaces.`);
    identity.groups = kept;
  } else {
    identity.groups = groups;
  }
  return identity;
}
