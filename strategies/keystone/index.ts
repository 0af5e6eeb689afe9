/**
 * `keystone`: users log in with their OpenStack Keystone username and password (the broker's
 * password form or the password grant). Login authenticates the user against `/v3/auth/tokens`
 * and reads the user and, when the `groups` scope was asked for, the user's groups with the
 * user's own (unscoped) token. Refresh checks with the admin account's system-scoped token that
 * the user still exists and is enabled, and re-reads the groups.
 *
 * Capability row: refresh yes, groups yes, preferred_username no.
 *
 * Unlike Dex, a wrong password (Keystone's 401) is a failed login (`null`), not an error.
 */
import { z } from 'zod';
import type { ConnectorModule } from '../../lib/connector.js';
import { AccessDeniedError, RefreshFailedError, UpstreamError } from '../../lib/errors.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import { PasswordStrategy } from '../shared/password.js';
import { parseStrategyConfig } from '../shared/strategy-config.js';
import { KeystoneApi, domainRef, type KeystoneUser } from './api.js';

export const configSchema = z
  .object({
    /** Keystone's public endpoint, without `/v3` (`http://keystone.example.com:5000`). */
    keystoneHost: z.url({ protocol: /^https?$/, error: 'keystoneHost must be an http(s) URL' }),
    /**
     * The users' domain: its id (`default`, or a UUID with or without dashes) or its name. Dex's
     * rule: a value that parses as a UUID, or `default`, is an id; anything else is a name.
     */
    domain: z.string().min(1, 'no domain supplied'),
    /**
     * Account that re-checks users on refresh, in the same `domain`. It must hold a role on the
     * system scope (`openstack role add --system all --user <name> reader`); an unscoped token
     * may not read other users.
     */
    keystoneUsername: z.string().min(1, 'no keystoneUsername supplied'),
    /** That account's password. Use `$VAR` to keep it out of the file. */
    keystonePassword: z.string().min(1, 'no keystonePassword supplied'),
  })
  .strict();
export type KeystoneConfig = z.infer<typeof configSchema>;

/** Not config: knobs for tests and embedding. */
export interface KeystoneOptions {
  /** Timeout of each call to Keystone, in ms (default `UPSTREAM_TIMEOUT_MS`, 10 s). */
  timeoutMs?: number;
}

function toIdentity(user: KeystoneUser, groups: string[]): Identity {
  return {
    userId: user.id,
    username: user.name,
    // Keystone's `email` is set by its administrators, never by the user: Dex treats it as verified.
    ...(user.email === undefined ? {} : { email: user.email }),
    emailVerified: user.email !== undefined,
    groups,
  };
}

export function createKeystone(config: KeystoneConfig, options: KeystoneOptions = {}) {
  const api = new KeystoneApi({
    host: config.keystoneHost.replace(/\/+$/, ''),
    domain: domainRef(config.domain),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });

  const login = async (username: string, password: string, scopes: Scopes): Promise<Identity | null> => {
    if (username === '' || password === '') return null;
    // No Keystone name holds a NUL, and no password can (Keystone answers 500 to setting one);
    // Keystone answers either with a 500, which would read as an outage: a failed login instead.
    if (username.includes('\u0000') || password.includes('\u0000')) return null;
    const auth = await api.passwordToken(username, password, { system: false });
    if (!auth.ok) return null;
    // A user may read itself and its own groups with its own unscoped token.
    const user = await api.user(auth.userId, auth.token);
    if (!user) throw new UpstreamError(`Keystone authenticated user ${auth.userId} but does not show it`);
    // The user read back must be the one the token was issued to, and one Keystone lets log in.
    if (user.id !== auth.userId) throw new UpstreamError(`Keystone authenticated user ${auth.userId} but showed user ${user.id}`);
    if (!user.enabled) throw new AccessDeniedError('Your Keystone account is disabled.');
    const groups = scopes.groups ? await api.groupNames(user.id, auth.token) : [];
    return toIdentity(user, groups);
  };

  const refresh = async (identity: Identity, scopes: Scopes): Promise<Identity> => {
    const admin = await api.passwordToken(config.keystoneUsername, config.keystonePassword, { system: true });
    if (!admin.ok) {
      throw new UpstreamError(
        `Keystone refused a system-scoped token to keystoneUsername "${config.keystoneUsername}": wrong password, or no role on the system scope`,
      );
    }
    const user = await api.user(identity.userId, admin.token);
    if (!user) throw new RefreshFailedError(`Keystone user ${identity.userId} no longer exists`);
    if (!user.enabled) throw new RefreshFailedError(`Keystone user ${identity.userId} is disabled`);
    // As Dex: without the groups scope the groups stay as they were at login.
    const groups = scopes.groups ? await api.groupNames(user.id, admin.token) : identity.groups;
    return toIdentity(user, groups);
  };

  return { strategy: new PasswordStrategy('keystone', login), login, refresh, prompt: 'Username' };
}

/** The Passport strategy alone: `passport.use('keystone', new KeystoneStrategy(config))`. */
export class KeystoneStrategy extends PasswordStrategy {
  constructor(config: KeystoneConfig, name = 'keystone', options: KeystoneOptions = {}) {
    super(name, createKeystone(parseStrategyConfig(configSchema, config), options).login);
  }
}

export const keystone = {
  type: 'keystone',
  configSchema,
  create: (config) => createKeystone(config),
} satisfies ConnectorModule<KeystoneConfig>;

export default keystone;
