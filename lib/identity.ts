/**
 * The one identity shape every connector returns (Dex's `connector.Identity`), and the scopes a
 * client asked for, which tell a connector how much to fetch upstream.
 */

/** A JSON value: what a connector may keep as private state between login and refresh. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface Identity {
  /** Stable upstream id of the user; with the connector id it forms the token's `sub`. */
  userId: string;
  /** Display name (Dex's `Username`, the `name` claim). */
  username: string;
  /** Handle (the `preferred_username` claim), where the connector knows one. */
  preferredUsername?: string;
  email?: string;
  /** Only true when the upstream vouched for the address. */
  emailVerified: boolean;
  groups: string[];
  /**
   * The connector's private state (upstream tokens, an LDAP DN...), stored server-side with the
   * refresh token and handed back to `refresh()`. Never shown to clients.
   */
  connectorData?: JsonValue;
}

/** What the client asked for, as far as a connector cares. */
export interface Scopes {
  offlineAccess: boolean;
  groups: boolean;
}

/** The claims the broker keeps for a login: the identity without the connector's private state. */
export type Claims = Omit<Identity, 'connectorData'>;

export function scopesFrom(requested: readonly string[]): Scopes {
  return { offlineAccess: requested.includes('offline_access'), groups: requested.includes('groups') };
}

/**
 * Checks that a value a strategy handed to `success()` really is an Identity. Connectors map
 * fail-closed; this catches a strategy that was not written for the broker.
 */
export function assertIdentity(value: unknown): Identity {
  if (typeof value !== 'object' || value === null) throw new TypeError('strategy returned no identity object');
  const v = value as Record<string, unknown>;
  if (typeof v.userId !== 'string' || v.userId === '') throw new TypeError('identity.userId must be a non-empty string');
  if (typeof v.username !== 'string') throw new TypeError('identity.username must be a string');
  if (typeof v.emailVerified !== 'boolean') throw new TypeError('identity.emailVerified must be a boolean');
  if (!Array.isArray(v.groups) || !v.groups.every((g) => typeof g === 'string')) {
    throw new TypeError('identity.groups must be an array of strings');
  }
  if (v.email !== undefined && typeof v.email !== 'string') throw new TypeError('identity.email must be a string');
  if (v.preferredUsername !== undefined && typeof v.preferredUsername !== 'string') {
    throw new TypeError('identity.preferredUsername must be a string');
  }
  return value as Identity;
}
