/**
 * LDAP search filters built from configured parts and untrusted values. Every value is escaped
 * per RFC 4515 section 3, so a username such as `*)(uid=*` matches only itself.
 */

const ESCAPES: Record<string, string> = { '\\': '\\5c', '*': '\\2a', '(': '\\28', ')': '\\29', '\0': '\\00' };

/** Escapes a value for the right-hand side of an equality assertion (RFC 4515 `valueencoding`). */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => ESCAPES[c]!);
}

/** `(attr=value)` with the value escaped. */
export function equalityFilter(attribute: string, value: string): string {
  return `(${attribute}=${escapeFilterValue(value)})`;
}

/** ANDs the configured filter (if any) with the match, as Dex does: `(&<configured><match>)`. */
export function withConfiguredFilter(configured: string, match: string): string {
  return configured === '' ? match : `(&${configured}${match})`;
}

/** The user search filter: the username against each attribute, ORed when there are several. */
export function userFilter(configured: string, usernameAttributes: readonly string[], username: string): string {
  const matches = usernameAttributes.map((attribute) => equalityFilter(attribute, username));
  const match = matches.length === 1 ? matches[0]! : `(|${matches.join('')})`;
  return withConfiguredFilter(configured, match);
}
