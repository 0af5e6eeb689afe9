/**
 * Group lookup, as Dex does it: for each user matcher, the groups whose `groupAttr` holds one of
 * the user's `userAttr` values; with `recursionGroupAttr`, then the groups that hold those groups'
 * DNs, level by level. Each group is visited once per matcher (by DN), so a cycle of nested groups ends; names
 * are returned once each, in the order found. A group without its name attribute is an error.
 */
import type { LdapConfig, UserMatcher } from './config.js';
import type { DirectorySession } from './directory.js';
import { equalityFilter, withConfiguredFilter } from './filter.js';
import { attributeValues, DirectoryDataError, firstValue, type LdapEntry } from './entry.js';

/** An upper bound on the groups one login may walk, whatever the directory holds. */
export const MAX_GROUPS_VISITED = 10_000;

export interface GroupLookupLogger {
  debug(obj: object, msg?: string): void;
}

export async function groupsOf(
  session: DirectorySession,
  user: LdapEntry,
  groupSearch: LdapConfig['groupSearch'],
  matchers: readonly UserMatcher[],
  logger: GroupLookupLogger,
): Promise<string[]> {
  if (groupSearch.baseDN === '') return [];
  const names = new Set<string>();

  const groupsWhere = async (memberAttribute: string, value: string): Promise<LdapEntry[]> => {
    const filter = withConfiguredFilter(groupSearch.filter, equalityFilter(memberAttribute, value));
    logger.debug({ baseDN: groupSearch.baseDN, scope: groupSearch.scope, filter }, 'ldap group search');
    return session.search(
      { baseDN: groupSearch.baseDN, scope: groupSearch.scope, filter, attributes: [groupSearch.nameAttr] },
      { missingBaseIsEmpty: true },
    );
  };

  const nameOf = (group: LdapEntry): string => {
    const name = firstValue(group, groupSearch.nameAttr);
    if (name === undefined) throw new DirectoryDataError(`LDAP group "${group.dn}" is missing required attribute "${groupSearch.nameAttr}"`);
    return name;
  };

  for (const matcher of matchers) {
    const visited = new Set<string>();
    let level: LdapEntry[] = [];
    for (const value of attributeValues(user, matcher.userAttr)) level.push(...(await groupsWhere(matcher.groupAttr, value)));

    while (level.length > 0) {
      const next: LdapEntry[] = [];
      for (const group of level) {
        const name = nameOf(group);
        const key = group.dn.toLowerCase();
        if (visited.has(key)) continue;
        visited.add(key);
        if (visited.size > MAX_GROUPS_VISITED) throw new DirectoryDataError(`LDAP group lookup for "${user.dn}" visited more than ${MAX_GROUPS_VISITED} groups`);
        names.add(name);
        if (matcher.recursionGroupAttr !== '') next.push(...(await groupsWhere(matcher.recursionGroupAttr, group.dn)));
      }
      level = next;
    }
  }
  return [...names];
}
