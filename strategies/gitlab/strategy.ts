/**
 * `GitLabStrategy`: GitLab's OAuth flow (gitlab.com or self-hosted), the user from
 * `/api/v4/user`, groups from `/oauth/userinfo` (or `/api/v4/groups` with `inheritedGroups`).
 *
 * GitLab access tokens live two hours and every refresh rotates the refresh token, so refresh
 * always uses the refresh token (as Dex does), returns the new one in `connectorData`, and joins
 * concurrent refreshes of one token so the rotation is not lost.
 */
import { UpstreamError } from '../../lib/errors.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import { PlatformStrategy } from '../shared/platform-strategy.js';
import { upstreamFetch, type UpstreamOptions } from '../shared/platform.js';
import { fetchWithCA } from '../shared/tls.js';
import { GitLabApi } from './api.js';
import { parseStrategyConfig } from '../shared/strategy-config.js';
import { configSchema, baseURLOf, type GitLabConfig } from './config.js';
import { groupsRequired, readIdentity } from './mapping.js';

export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export interface GitLabStrategyOptions extends UpstreamOptions {
  name?: string;
  /** Used when `redirectURI` is not configured (the broker's `<issuer>/callback`). */
  callbackURL?: string;
}

export class GitLabStrategy extends PlatformStrategy {
  private readonly config: GitLabConfig;
  private readonly baseURL: string;
  private readonly fetchFn: typeof fetch;

  constructor(config: GitLabConfig, options: GitLabStrategyOptions = {}) {
    config = parseStrategyConfig(configSchema, config);
    const baseURL = baseURLOf(config);
    const ca = config.rootCAData === undefined ? undefined : Buffer.from(config.rootCAData, 'base64').toString('utf8');
    const base = options.fetch ?? (ca !== undefined ? fetchWithCA({ ca }) : undefined);
    const fetchFn = upstreamFetch({ ...options, ...(base ? { fetch: base } : {}) });
    super(options.name ?? 'gitlab', {
      clientID: config.clientID,
      clientSecret: config.clientSecret,
      redirectURI: config.redirectURI ?? options.callbackURL,
      authorizationURL: `${baseURL}/oauth/authorize`,
      tokenURL: `${baseURL}/oauth/token`,
      fetch: fetchFn,
    });
    this.config = config;
    this.baseURL = baseURL;
    this.fetchFn = fetchFn;
  }

  protected override upstreamScopes(scopes: Scopes): string[] {
    if (!groupsRequired(this.config, scopes)) return ['read_user'];
    return this.config.inheritedGroups === true ? ['read_user', 'openid', 'read_api'] : ['read_user', 'openid'];
  }

  /**
   * Maps an access token someone else obtained (passport-gitlab2) the same way as a login asking
   * for groups, checking it belongs to the user `expectedUserId` (numeric id).
   */
  async identifyWithToken(accessToken: string, expectedUserId: string): Promise<Identity> {
    return readIdentity(this.api(accessToken), this.config, { offlineAccess: true, groups: true }, expectedUserId);
  }

  protected override readonly connectorType = 'gitlab';
  // GitLab rotates its refresh token on every use: always renew, keep the new one.
  protected override readonly alwaysRenew = true;

  protected override readUser(accessToken: string, scopes: Scopes): Promise<Identity> {
    return readIdentity(this.api(accessToken), this.config, scopes);
  }

  /** Token exchange: a GitLab access token the client already holds. Groups are read as for a login asking for them. */
  async tokenIdentity(subjectTokenType: string, subjectToken: string): Promise<Identity> {
    if (subjectTokenType !== ACCESS_TOKEN_TYPE) throw new UpstreamError(`gitlab: subject token type ${subjectTokenType} is not supported`);
    return readIdentity(this.api(subjectToken), this.config, { offlineAccess: false, groups: true });
  }

  private api(accessToken: string): GitLabApi {
    return new GitLabApi(this.baseURL, accessToken, this.fetchFn);
  }
}
