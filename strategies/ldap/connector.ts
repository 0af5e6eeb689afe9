/**
 * The LDAP connector's login and refresh (Dex's `ldapConnector.Login` / `Refresh`):
 * search the user as the service account, bind as the user's DN with the typed password, map
 * the entry, look up the groups. Wrong credentials are `null`, a directory that fails is an
 * `UpstreamError`, data that does not fit the config (a missing attribute, a username matching
 * two entries) a `DirectoryDataError`, and a refresh for a user who is gone or moved a
 * `RefreshFailedError`.
 */
import type { Admit, ConnectorLogger } from '../../lib/connector.js';
import { RefreshFailedError } from '../../lib/errors.js';
import type { Identity, JsonValue, Scopes } from '../../lib/identity.js';
import { userMatchersOf, type LdapConfig, type UserMatcher } from './config.js';
import { Directory, type DirectorySession, type DirectoryTimeouts } from './directory.js';
import { DirectoryDataError, identityFromEntry, MissingAttributeError, userAttributesToRequest, type LdapEntry } from './entry.js';
import { userFilter } from './filter.js';
import { groupsOf } from './groups.js';

export interface LdapConnectorOptions extends DirectoryTimeouts {
  logger?: ConnectorLogger;
}

/** What the connector keeps between login and refresh: the typed username and the DN it found. */
export interface LdapConnectorData {
  username: string;
  dn: string;
}

export function parseConnectorData(data: JsonValue | undefined): LdapConnectorData | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const { username, dn } = data;
  if (typeof username !== 'string' || username === '' || typeof dn !== 'string' || dn === '') return undefined;
  return { username, dn };
}

const silentLogger: ConnectorLogger = { debug() {}, info() {}, warn() {}, error() {} };

export class LdapConnector {
  readonly config: LdapConfig;
  readonly directory: Directory;
  /** Label of the username field on the password form. */
  readonly prompt: string;
  private readonly matchers: UserMatcher[];
  private readonly userAttributes: string[];
  private readonly logger: ConnectorLogger;

  constructor(config: LdapConfig, options: LdapConnectorOptions = {}) {
    this.config = config;
    this.logger = options.logger ?? silentLogger;
    this.directory = new Directory(config, options);
    this.prompt = config.usernamePrompt === '' ? 'Username' : config.usernamePrompt;
    this.matchers = userMatchersOf(config.groupSearch);
    this.userAttributes = userAttributesToRequest(config, this.matchers.map((m) => m.userAttr));
    const g = config.groupSearch;
    if (g.userMatchers.length === 0 && (g.userAttr !== '' || g.groupAttr !== '')) {
      this.logger.warn({ deprecated: true }, 'ldap: use "groupSearch.userMatchers" instead of "groupSearch.userAttr/groupAttr"');
    }
    if (config.insecureNoSSL) this.logger.warn({ host: this.directory.endpoint.address }, 'ldap: insecureNoSSL: passwords cross the network in clear text');
    if (config.insecureSkipVerify) this.logger.warn({ host: this.directory.endpoint.address }, 'ldap: insecureSkipVerify: the server certificate is not checked');
  }

  /**
   * Checks a username and password; `null` when they are wrong. The entry's DN is the account
   * `admit` is asked about: every username attribute that finds the entry finds that one DN.
   */
  async login(username: string, password: string, scopes: Scopes, admit?: Admit): Promise<Identity | null> {
    // Refused before any bind: an empty password is an unauthenticated bind, which succeeds.
    if (username === '' || password === '') return null;
    return this.directory.session(async (session) => {
      const user = await this.findUser(session, username);
      if (!user) return null;
      // DNs compare without case (their attribute types and usual values do).
      if (admit && !(await admit(user.dn.toLowerCase()))) return null;
      if (!(await session.bindAsUser(user.dn, password))) {
        this.logger.info({ dn: user.dn }, 'ldap: invalid password');
        return null;
      }
      const identity = identityFromEntry(user, this.config.userSearch);
      if (scopes.groups) {
        await session.bindAsService();
        identity.groups = await groupsOf(session, user, this.config.groupSearch, this.matchers, this.logger);
      }
      identity.connectorData = { username, dn: user.dn } satisfies LdapConnectorData;
      return identity;
    });
  }

  /** Re-reads the user by the stored username; fails when the user is gone or has another DN. */
  async refresh(identity: Identity, scopes: Scopes): Promise<Identity> {
    const data = parseConnectorData(identity.connectorData);
    if (!data) throw new RefreshFailedError('ldap: the stored login has no username and DN to refresh with');
    return this.directory.session(async (session) => {
      const user = await this.findUser(session, data.username);
      if (!user) throw new RefreshFailedError(`ldap: user "${data.username}" no longer exists`);
      if (user.dn !== data.dn) {
        throw new RefreshFailedError(`ldap: user "${data.username}" was "${data.dn}" at login and is now "${user.dn}"`);
      }
      let fresh: Identity;
      try {
        fresh = identityFromEntry(user, this.config.userSearch);
      } catch (err) {
        if (err instanceof MissingAttributeError) throw new RefreshFailedError(err.message, { cause: err });
        throw err;
      }
      if (scopes.groups) fresh.groups = await groupsOf(session, user, this.config.groupSearch, this.matchers, this.logger);
      fresh.connectorData = { username: data.username, dn: data.dn } satisfies LdapConnectorData;
      return fresh;
    });
  }

  /** Dex's `userEntry`: no entry is `undefined`, more than one is an error. */
  private async findUser(session: DirectorySession, username: string): Promise<LdapEntry | undefined> {
    const u = this.config.userSearch;
    const filter = userFilter(u.filter, u.username, username);
    this.logger.debug({ baseDN: u.baseDN, scope: u.scope, filter }, 'ldap user search');
    const entries = await session.search({ baseDN: u.baseDN, scope: u.scope, filter, attributes: this.userAttributes });
    if (entries.length > 1) {
      throw new DirectoryDataError(`ldap: the user search with filter ${filter} returned ${entries.length} entries; it must match at most one`);
    }
    if (entries.length === 0) this.logger.info({ filter }, 'ldap: no user matches');
    return entries[0];
  }
}
