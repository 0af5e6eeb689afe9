/**
 * `ldap`: Dex's LDAP connector. The user types a username and password into the broker's form
 * (or a client uses the password grant); the connector finds the entry, binds as it, and maps it
 * to an `Identity` with its groups. Refresh re-reads the user.
 *
 * Used alone it is an ordinary Passport strategy reading `username` and `password` from the body:
 * `passport.use('ldap', new LdapStrategy(config))`. An existing `passport-ldapauth` strategy can
 * be handed to the broker as type `ldap`; `fromPassportUser` maps the entry it returns.
 */
import type { ConnectorModule } from '../../lib/connector.js';
import type { Identity } from '../../lib/identity.js';
import { PasswordStrategy } from '../shared/password.js';
import { configSchema, parseLdapConfig, type LdapConfig, type LdapConfigInput } from './config.js';
import { LdapConnector, type LdapConnectorData, type LdapConnectorOptions } from './connector.js';
import { attributeValues, entryFromObject, firstValue, identityFromEntry } from './entry.js';

export { configSchema, parseLdapConfig, type LdapConfig, type LdapConfigInput } from './config.js';
export { LdapConnector, type LdapConnectorData, type LdapConnectorOptions } from './connector.js';
export { DirectoryDataError, MissingAttributeError } from './entry.js';
export { escapeFilterValue } from './filter.js';

export interface LdapStrategyOptions extends LdapConnectorOptions {
  /** Passport strategy name, default `ldap`. */
  name?: string;
}

/** A Passport strategy: POST `username` and `password`; success hands over an `Identity` with groups. */
export class LdapStrategy extends PasswordStrategy {
  readonly connector: LdapConnector;

  /** `config` is Dex's connector config (validated here), or a connector already built. */
  constructor(config: LdapConfigInput | LdapConnector, options: LdapStrategyOptions = {}) {
    const connector = config instanceof LdapConnector ? config : new LdapConnector(parseLdapConfig(config), options);
    super(options.name ?? 'ldap', (username, password, scopes) => connector.login(username, password, scopes));
    this.connector = connector;
  }
}

/**
 * Maps the user `passport-ldapauth` hands to `success()` (ldapjs's `entry.object`: `dn` and the
 * attributes; `_groups` when it was configured to search groups) with this connector's attribute
 * config. Group names come from `groupSearch.nameAttr`. The username kept for refresh is the
 * entry's value of the first `userSearch.username` attribute it has.
 */
export function fromPassportUser(user: unknown, config: LdapConfig): Identity {
  const entry = entryFromObject(user);
  if (!entry) throw new TypeError('ldap: the passport-ldapauth user is not an LDAP entry (it needs a dn and string attributes)');
  const identity = identityFromEntry(entry, config.userSearch);
  const groups = (user as { _groups?: unknown })._groups;
  if (groups !== undefined) {
    if (!Array.isArray(groups)) throw new TypeError('ldap: passport-ldapauth _groups is not a list');
    if (config.groupSearch.nameAttr === '') throw new TypeError('ldap: groupSearch.nameAttr must be set to name passport-ldapauth _groups');
    const names = groups.map((g: unknown) => {
      const group = entryFromObject(g);
      const name = group && firstValue(group, config.groupSearch.nameAttr);
      if (!group || name === undefined) {
        throw new TypeError(`ldap: a passport-ldapauth group is missing required attribute "${config.groupSearch.nameAttr}"`);
      }
      return name;
    });
    identity.groups = [...new Set(names)];
  }
  const username = config.userSearch.username.map((a) => attributeValues(entry, a)[0]).find((v) => v !== undefined && v !== '');
  if (username !== undefined) identity.connectorData = { username, dn: entry.dn } satisfies LdapConnectorData;
  return identity;
}

export const ldap = {
  type: 'ldap',
  configSchema,
  create(config, context) {
    const connector = new LdapConnector(config, { logger: context.logger });
    return {
      strategy: new LdapStrategy(connector),
      prompt: connector.prompt,
      login: (username, password, scopes, admit) => connector.login(username, password, scopes, admit),
      refresh: (identity, scopes) => connector.refresh(identity, scopes),
    };
  },
  fromPassportUser,
} satisfies ConnectorModule<LdapConfig>;

export default ldap;
