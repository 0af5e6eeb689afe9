/**
 * `atlassian-crowd`: users log in with their Atlassian Crowd username and password (the broker's
 * password form or the password grant). The broker talks to Crowd's REST API as a Crowd
 * application: it opens a session with the password (`POST /session`), reads the user
 * (`GET /user`) and its direct and nested groups (`GET /user/group/nested`). Refresh checks that
 * the user still exists, is active and may still use the application (a session opened without a
 * password, which also prolongs the user's Crowd SSO session, as Dex does), and re-reads groups.
 *
 * Capability row: refresh yes, groups yes, preferred_username only when `preferredUsernameField`
 * is configured.
 */
import { z } from 'zod';
import { unsetWhenEmpty } from '../shared/config-values.js';
import type { ConnectorModule } from '../../lib/connector.js';
import { AccessDeniedError, RefreshFailedError, UpstreamError } from '../../lib/errors.js';
import type { Identity, JsonValue, Scopes } from '../../lib/identity.js';
import { isRecord } from '../shared/http.js';
import { PasswordStrategy } from '../shared/password.js';
import { parseStrategyConfig } from '../shared/strategy-config.js';
import { CrowdClient, type CrowdUser, type SessionOutcome } from './client.js';

export const configSchema = z
  .object({
    /** Crowd's base URL including its context path (`https://crowd.example.com/crowd`). */
    baseURL: z.url({ protocol: /^https?$/, error: 'baseURL must be an http(s) URL' }),
    /** Name of the application configured in Crowd for the broker (HTTP basic auth user). */
    clientID: z.string().min(1, 'no clientID supplied'),
    /** That application's password. Use `$VAR` to keep it out of the file. */
    clientSecret: z.string().min(1, 'no clientSecret supplied'),
    /**
     * Only members (direct or nested) of at least one of these groups may log in; the others get a
     * 403 page. The `groups` claim then lists only these groups. Unset: everyone Crowd lets in.
     */
    groups: z.array(z.string().min(1)).optional(),
    /** Crowd user field given as `preferred_username`: `key`, `name` or `email`. Unset: no such claim. */
    preferredUsernameField: unsetWhenEmpty(z.enum(['key', 'name', 'email'])),
    /** Label of the username field on the login form (default "Username"). */
    usernamePrompt: z.string().optional(),
  })
  .strict();
export type AtlassianCrowdConfig = z.infer<typeof configSchema>;

/** Not config: knobs for tests and embedding. */
export interface AtlassianCrowdOptions {
  /** Timeout of each call to Crowd, in ms (default `UPSTREAM_TIMEOUT_MS`, 10 s). */
  timeoutMs?: number;
}

const refusals: Record<Exclude<SessionOutcome, 'ok' | 'invalid'>, string> = {
  inactive: 'Your Crowd account is inactive.',
  expired: 'Your Crowd password has expired. Change it in Crowd, then log in again.',
  denied: 'Crowd does not allow you to use this application.',
};

/** The Crowd username kept with the login for refresh. */
function storedUsername(connectorData: JsonValue | undefined): string {
  const username = isRecord(connectorData) ? connectorData.username : undefined;
  if (typeof username !== 'string' || username === '') throw new RefreshFailedError('no Crowd username stored with this login');
  return username;
}

export function createAtlassianCrowd(config: AtlassianCrowdConfig, options: AtlassianCrowdOptions = {}) {
  const client = new CrowdClient({
    baseURL: config.baseURL,
    clientID: config.clientID,
    clientSecret: config.clientSecret,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  const required = config.groups ?? [];

  /** Reads groups when the claim is wanted or membership is required; refuses non-members. */
  const groupsOf = async (user: CrowdUser, scopes: Scopes, refuse: (message: string) => Error): Promise<string[]> => {
    if (required.length === 0 && !scopes.groups) return [];
    const groups = await client.nestedGroups(user.name);
    if (required.length === 0) return groups;
    const allowed = groups.filter((g) => required.includes(g));
    if (allowed.length === 0) throw refuse(`Crowd user ${user.name} is not in any of the groups this login requires.`);
    return scopes.groups ? allowed : [];
  };

  const toIdentity = (user: CrowdUser, groups: string[]): Identity => {
    const preferred = config.preferredUsernameField === undefined ? undefined : user[config.preferredUsernameField];
    return {
      userId: user.key,
      username: user.name,
      ...(preferred === undefined ? {} : { preferredUsername: preferred }),
      // Crowd holds no verified flag; its directory is the authority for the address (as Dex).
      ...(user.email === undefined ? {} : { email: user.email }),
      emailVerified: user.email !== undefined,
      groups,
      connectorData: { username: user.name },
    };
  };

  const login = async (username: string, password: string, scopes: Scopes): Promise<Identity | null> => {
    if (username === '' || password === '') return null;
    const outcome = await client.session(username, password);
    if (outcome === 'invalid') return null;
    if (outcome !== 'ok') throw new AccessDeniedError(refusals[outcome]);
    const user = await client.user(username);
    if (!user) throw new UpstreamError('Crowd accepted the password of a user it then does not show');
    // Crowd matches names without case; any other name is not the user whose password was checked.
    if (user.name.toLowerCase() !== username.toLowerCase()) throw new UpstreamError(`Crowd /user answered user "${user.name}" for "${username}"`);
    if (!user.active) throw new AccessDeniedError(refusals.inactive);
    return toIdentity(user, await groupsOf(user, scopes, (m) => new AccessDeniedError(m)));
  };

  const refresh = async (identity: Identity, scopes: Scopes): Promise<Identity> => {
    const username = storedUsername(identity.connectorData);
    const user = await client.user(username);
    if (!user) throw new RefreshFailedError(`Crowd user ${username} no longer exists`);
    // Same name, another key: the account was deleted and made again; it is not the same user.
    if (user.key !== identity.userId) throw new RefreshFailedError(`Crowd user ${username} is not the account that logged in`);
    if (!user.active) throw new RefreshFailedError(`Crowd user ${username} is inactive`);
    const outcome = await client.session(user.name, undefined);
    if (outcome !== 'ok') throw new RefreshFailedError(`Crowd no longer lets user ${username} in (${outcome})`);
    return toIdentity(user, await groupsOf(user, scopes, (m) => new RefreshFailedError(m)));
  };

  const prompt = config.usernamePrompt === undefined || config.usernamePrompt === '' ? 'Username' : config.usernamePrompt;
  return { strategy: new PasswordStrategy('atlassian-crowd', login), login, refresh, prompt };
}

/** The Passport strategy alone: `passport.use('crowd', new AtlassianCrowdStrategy(config))`. */
export class AtlassianCrowdStrategy extends PasswordStrategy {
  constructor(config: AtlassianCrowdConfig, name = 'atlassian-crowd', options: AtlassianCrowdOptions = {}) {
    super(name, createAtlassianCrowd(parseStrategyConfig(configSchema, config), options).login);
  }
}

export const atlassianCrowd = {
  type: 'atlassian-crowd',
  configSchema,
  create: (config) => createAtlassianCrowd(config),
} satisfies ConnectorModule<AtlassianCrowdConfig>;

export default atlassianCrowd;
