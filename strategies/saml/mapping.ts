/**
 * From a verified assertion to Dex's identity: NameID is the user id, `emailAttr` and
 * `usernameAttr` are required, groups come from `groupsAttr` (one value per group, or one value
 * split on `groupsDelim`), and `allowedGroups` refuses users outside them with a 403 page.
 */
import type { Identity, Scopes } from '../../lib/identity.js';
import type { SamlSettings } from './config.js';
import { SamlRefusedError } from './errors.js';
import type { VerifiedAssertion } from './response.js';

function missing(name: string, attributes: Map<string, string[]>): SamlRefusedError {
  const present = [...attributes.keys()].join(', ') || 'none';
  return new SamlRefusedError('attribute', `The assertion has no attribute "${name}" (attributes sent: ${present}).`);
}

/** The first non-empty value of an attribute (Dex's `get`). */
function firstValue(attributes: Map<string, string[]>, name: string): string {
  const value = attributes.get(name)?.[0];
  if (value === undefined || value === '') throw missing(name, attributes);
  return value;
}

function groupsOf(attributes: Map<string, string[]>, name: string, delim: string | undefined): string[] {
  const values = attributes.get(name);
  if (values === undefined) throw missing(name, attributes);
  if (delim === undefined) return values;
  const first = values[0];
  if (first === undefined) throw missing(name, attributes);
  return first.split(delim);
}

export function identityFromAssertion(
  assertion: VerifiedAssertion,
  mapping: SamlSettings['mapping'],
  scopes: Scopes,
): Identity {
  const { attributes } = assertion;
  // SAML has no email_verified; like Dex, the IdP's email attribute is taken as verified.
  const email = firstValue(attributes, mapping.emailAttr);
  const username = firstValue(attributes, mapping.usernameAttr);
  const identity: Identity = { userId: assertion.nameID, username, email, emailVerified: true, groups: [] };

  const checkGroups = mapping.allowedGroups.length > 0;
  if (mapping.groupsAttr === undefined || (!scopes.groups && !checkGroups)) return identity;

  let groups = groupsOf(attributes, mapping.groupsAttr, mapping.groupsDelim);
  if (checkGroups) {
    const allowed = groups.filter((g) => mapping.allowedGroups.includes(g));
    if (allowed.length === 0) {
      throw new SamlRefusedError('groups', 'You are not a member of any group allowed to log in here.', 403);
    }
    if (mapping.filterGroups) groups = allowed;
  }
  return { ...identity, groups: scopes.groups ? groups : [] };
}
