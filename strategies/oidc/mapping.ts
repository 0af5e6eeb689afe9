/**
 * Upstream claims → `Identity`, as Dex's `oidc` connector maps them (`createIdentity`). It fails
 * closed: a required claim that is missing is refused with its name; an email is only taken with
 * its `email_verified` claim (unless `insecureSkipEmailVerified`).
 */
import { AccessDeniedError } from '../../lib/errors.js';
import type { Identity } from '../../lib/identity.js';
import type { OidcConfig } from './config.js';
import { goRegExp } from './go-regexp.js';

export type Claims = Record<string, unknown>;

function stringClaim(claims: Claims, key: string): string | undefined {
  const v = claims[key];
  return typeof v === 'string' ? v : undefined;
}

function missing(claim: string): AccessDeniedError {
  return new AccessDeniedError(`The identity provider did not send the "${claim}" claim, which this connector requires.`);
}

/**
 * Maps the claims. `emailScope`: whether `email` was among the scopes asked upstream (then an
 * email and its `email_verified` claim are required).
 */
export function identityFromClaims(claims: Claims, config: OidcConfig, emailScope: boolean): Identity {
  const sub = stringClaim(claims, 'sub');
  if (sub === undefined) throw missing('sub');

  const userNameKey = config.userNameKey || 'name';
  const username = stringClaim(claims, userNameKey);
  if (username === undefined) throw missing(userNameKey);

  const mapping = config.claimMapping ?? {};
  const override = config.overrideClaimMapping === true;

  let preferredUsername = stringClaim(claims, 'preferred_username');
  if ((preferredUsername === undefined || override) && mapping.preferred_username) {
    preferredUsername = stringClaim(claims, mapping.preferred_username);
  }

  let emailKey = 'email';
  let email = stringClaim(claims, emailKey);
  if ((email === undefined || override) && mapping.email) {
    emailKey = mapping.email;
    email = stringClaim(claims, emailKey);
  }
  if (email === undefined && emailScope) throw missing(emailKey);

  let emailVerified = false;
  const verifiedClaim = claims.email_verified;
  if (typeof verifiedClaim === 'boolean') emailVerified = verifiedClaim;
  else if (config.insecureSkipEmailVerified) emailVerified = true;
  else if (emailScope) throw missing('email_verified');

  let groups = config.insecureEnableGroups ? groupsFromClaims(claims, config) : [];

  const modify = config.claimModifications?.modifyGroupNames;
  if (modify?.prefix || modify?.suffix) groups = groups.map((g) => `${modify.prefix ?? ''}${g}${modify.suffix ?? ''}`);

  for (const rule of config.claimModifications?.newGroupFromClaims ?? []) {
    const delimiter = rule.delimiter ?? '';
    const segments = [rule.prefix ?? ''];
    for (const name of rule.claims) {
      const value = stringClaim(claims, name);
      if (value === undefined) continue; // Dex ignores claims that are not strings
      segments.push(rule.clearDelimiter && delimiter !== '' ? value.replaceAll(delimiter, '') : value);
    }
    if (segments.length > 1) groups.push(segments.join(delimiter));
  }

  let userId = sub;
  if (config.userIDKey) {
    const id = stringClaim(claims, config.userIDKey);
    if (id === undefined) throw missing(config.userIDKey);
    userId = id;
  }

  const identity: Identity = { userId, username, emailVerified, groups };
  if (preferredUsername) identity.preferredUsername = preferredUsername;
  if (email) identity.email = email;
  return identity;
}

/**
 * The groups claim as a string array, a single string, or objects with `name` (others are a
 * malformed claim), filtered by `groupsFilter` and checked against `allowedGroups`.
 */
function groupsFromClaims(claims: Claims, config: OidcConfig): string[] {
  let key = 'groups';
  const mappedKey = config.claimMapping?.groups;
  if ((!Array.isArray(claims[key]) || config.overrideClaimMapping) && mappedKey) key = mappedKey;
  const value = claims[key];
  const pattern = config.claimModifications?.filterGroupClaims?.groupsFilter;
  const filter = pattern ? goRegExp(pattern) : undefined;
  const keep = (g: string) => filter === undefined || filter.test(g);

  let groups: string[] = [];
  if (typeof value === 'string') {
    groups = keep(value) ? [value] : [];
  } else if (Array.isArray(value)) {
    for (const item of value) {
      if (typeof item === 'string') {
        if (keep(item)) groups.push(item);
      } else if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
        const name = (item as Record<string, unknown>).name;
        if (typeof name === 'string' && keep(name)) groups.push(name);
      } else {
        throw new AccessDeniedError(`The identity provider sent a malformed "${key}" claim.`);
      }
    }
  }

  const allowed = config.allowedGroups ?? [];
  if (allowed.length > 0) {
    const allowedSet = new Set(allowed);
    groups = groups.filter((g) => allowedSet.has(g));
    if (groups.length === 0) throw new AccessDeniedError('You are not a member of any group allowed to log in here.');
  }
  return groups;
}
