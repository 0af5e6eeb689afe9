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

/** The first value of an attribute (Dex's `get`), which must not be empty. */
function firstValue(attributes: Map<string, string[]>, name: string): string {
  const value = attributes.get(name)?.[0];
  if (value === undefined) throw missing(name, attributes);
  if (value === '') throw new SamlRefusedError('attribute', `The assertion's attribute "${name}" is empty.`);
  return value;
}

/** The groups, or `undefined` when the attribute was not sent at all. */
function groupsOf(attributes: Map<string, string[]>, name: string, delim: string | undefined): string[] | undefined {
  const values = attributes.get(name);
  if (values === undefined) return undefined;
  if (delim === undefined) return values;
  const first = values[0];
  return first === undefined ? [] : first.split(delim);
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
  if (groups === undefined) {
    // Okta's group filter and Entra ID leave the attribute out for a user in no (matching) group:
    // with allowedGroups that user is outside them, a 403 like any other; without, Dex's error.
    if (!checkGroups) throw missing(mapping.groupsAttr, attributes);
    throw new SamlRefusedError('groups', `You are not a member of any group allowed to log in here (the identity provider sent no "${mapping.groupsAttr}" attribute).`, 403);
  }
  if (checkGroups) {
    const allowed = groups.filter((g) => mapping.allowedGroups.includes(g));
    if (allowed.length === 0) {
      throw new SamlRefusedError('groups', 'You are not a member of any group allowed to log in here.', 403);
    }
    if (mapping.filterGroups) groups = allowed;
  }
  return { ...identity, groups: scopes.groups ? groups : [] };
}

/**
 * What @node-saml/passport-saml hands to `success()` (its `Profile`: `nameID`, and `attributes`
 * with a string or an array of strings per attribute name), mapped like the connector's own
 * assertions. That strategy did the signature and protocol checks; this only maps. A value that
 * is not text (an attribute with child elements) is refused rather than guessed at.
 */
export function identityFromPassportSamlProfile(user: unknown, mapping: SamlSettings['mapping']): Identity {
  if (typeof user !== 'object' || user === null) throw new TypeError('passport-saml gave no profile');
  const profile = user as Record<string, unknown>;
  if (typeof profile.nameID !== 'string' || profile.nameID === '') {
    throw new SamlRefusedError('subject', 'The SAML profile has no NameID.');
  }
  const attributes = new Map<string, string[]>();
  const raw = profile.attributes;
  if (typeof raw === 'object' && raw !== null) {
    for (const [name, value] of Object.entries(raw)) {
      const values = Array.isArray(value) ? value : [value];
      if (!values.every((v): v is string => typeof v === 'string')) {
        throw new SamlRefusedError('attribute', `The SAML attribute "${name}" is not text.`);
      }
      attributes.set(name, values);
    }
  }
  return identityFromAssertion({ nameID: profile.nameID, attributes }, mapping, { offlineAccess: false, groups: true });
}
