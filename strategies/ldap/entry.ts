/**
 * An LDAP entry as the connector sees it (a DN and attribute values, names compared without case
 * as LDAP does), built from what `ldapts` or `passport-ldapauth` returns, and its mapping to an
 * `Identity`. Mapping fails closed: a configured attribute the entry lacks is an error naming it.
 */
import { DexpressError } from '../../lib/errors.js';
import type { Identity } from '../../lib/identity.js';
import type { LdapConfig } from './config.js';

export interface LdapEntry {
  dn: string;
  /** Attribute values by lower-cased attribute name. */
  attributes: ReadonlyMap<string, readonly string[]>;
  /**
   * Lower-cased names of attributes with a value that is not UTF-8 (binary data such as AD's
   * `objectSid`). They are not in `attributes`: reading one is a `NotUtf8AttributeError`.
   */
  notUtf8: ReadonlySet<string>;
}

/** Keys that `passport-ldapauth` (ldapjs) adds to an entry object and that are not attributes. */
const NON_ATTRIBUTE_KEYS = new Set(['dn', 'controls', '_raw', '_groups']);

/** Refuses bytes that are not UTF-8 instead of replacing them with U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The values as text; `'not-utf8'` when one is bytes that are not UTF-8; `undefined` when one is neither. */
function valuesOf(value: unknown): string[] | 'not-utf8' | undefined {
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  const out: string[] = [];
  for (const v of list) {
    if (typeof v === 'string') out.push(v);
    else if (v instanceof Uint8Array) {
      // ldapts hands back a Buffer when a value is not valid UTF-8 (and then every value of that attribute).
      try {
        out.push(utf8.decode(v));
      } catch {
        return 'not-utf8';
      }
    } else return undefined;
  }
  return out;
}

/**
 * Builds an entry from a plain object `{ dn, attr: value | value[] }` (what `ldapts` search
 * entries and ldapjs's `entry.object` look like). Returns `undefined` when it is not one.
 */
export function entryFromObject(object: unknown): LdapEntry | undefined {
  if (typeof object !== 'object' || object === null) return undefined;
  const record = object as Record<string, unknown>;
  if (typeof record.dn !== 'string' || record.dn === '') return undefined;
  const attributes = new Map<string, string[]>();
  const notUtf8 = new Set<string>();
  for (const [name, value] of Object.entries(record)) {
    if (NON_ATTRIBUTE_KEYS.has(name)) continue;
    const values = valuesOf(value);
    if (values === undefined) return undefined;
    const key = name.toLowerCase();
    if (values === 'not-utf8') notUtf8.add(key);
    else attributes.set(key, [...(attributes.get(key) ?? []), ...values]);
  }
  for (const key of notUtf8) attributes.delete(key);
  return { dn: record.dn, attributes, notUtf8 };
}

/**
 * Dex's `getAttrs`: the attribute's values; `DN` (any case) is the entry's DN unless an attribute of that name exists.
 * An attribute with a value that is not UTF-8 is a `NotUtf8AttributeError`, never a lossy string: two
 * binary ids differing only in bytes that are not UTF-8 would otherwise become one user id.
 */
export function attributeValues(entry: LdapEntry, name: string): readonly string[] {
  const key = name.toLowerCase();
  if (entry.notUtf8.has(key)) throw new NotUtf8AttributeError(entry.dn, name);
  const values = entry.attributes.get(key);
  if (values !== undefined && values.length > 0) return values;
  return key === 'dn' ? [entry.dn] : [];
}

export function firstValue(entry: LdapEntry, name: string): string | undefined {
  const value = attributeValues(entry, name)[0];
  return value === '' ? undefined : value;
}

/** The attributes the user search must return for the mapping and the group matchers. */
export function userAttributesToRequest(config: LdapConfig, matcherUserAttributes: readonly string[]): string[] {
  const u = config.userSearch;
  const names = [u.idAttr, u.emailAttr, ...u.username, ...matcherUserAttributes, u.nameAttr, u.preferredUsernameAttr];
  const unique = new Map<string, string>();
  for (const n of names) if (n !== '' && n.toLowerCase() !== 'dn') unique.set(n.toLowerCase(), n);
  return [...unique.values()];
}

/**
 * The directory answered, but its data does not fit the config (an entry without a mapped
 * attribute, a username matching several entries): not an outage, so not an `UpstreamError`.
 */
export class DirectoryDataError extends DexpressError {
  constructor(message: string) {
    super('ldap_directory_data', message);
  }
}

/** An entry lacks attributes the config maps: the login cannot produce an identity. */
export class MissingAttributeError extends DirectoryDataError {
  readonly attributes: readonly string[];
  constructor(dn: string, attributes: readonly string[]) {
    super(`LDAP entry "${dn}" is missing required attribute(s): ${attributes.map((a) => `"${a}"`).join(', ')}`);
    this.attributes = attributes;
  }
}

/** A mapped attribute holds bytes that are not UTF-8 (e.g. AD's `objectGUID`): it cannot be an id, a name or an email. */
export class NotUtf8AttributeError extends DirectoryDataError {
  readonly attribute: string;
  constructor(dn: string, attribute: string) {
    super(`LDAP entry "${dn}" has a value of attribute "${attribute}" that is not UTF-8 text; map a text attribute (or DN) instead`);
    this.attribute = attribute;
  }
}

/** Dex's `identityFromEntry`, without groups. The directory vouches for the email, as in Dex. */
export function identityFromEntry(entry: LdapEntry, userSearch: LdapConfig['userSearch']): Identity {
  const missing: string[] = [];
  const read = (attribute: string): string => {
    const value = firstValue(entry, attribute);
    if (value === undefined) missing.push(attribute);
    return value ?? '';
  };
  const userId = read(userSearch.idAttr);
  const username = userSearch.nameAttr === '' ? '' : read(userSearch.nameAttr);
  const preferredUsername = userSearch.preferredUsernameAttr === '' ? undefined : read(userSearch.preferredUsernameAttr);
  const email = userSearch.emailSuffix !== '' ? `${username}@${userSearch.emailSuffix}` : read(userSearch.emailAttr);
  if (missing.length > 0) throw new MissingAttributeError(entry.dn, missing);
  return {
    userId,
    username,
    ...(preferredUsername !== undefined ? { preferredUsername } : {}),
    email,
    emailVerified: true,
    groups: [],
  };
}
