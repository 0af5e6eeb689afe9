/**
 * `GitHubStrategy`: GitHub's OAuth web flow (github.com or GitHub Enterprise), then the user,
 * their verified email and their org/team groups from the REST API. Usable alone with Passport
 * (`passport.use('github', new GitHubStrategy(config))`) or through the broker.
 *
 * Refresh re-reads the user and groups with the stored access token; GitHub App user tokens
 * expire (8 h) and come with a rotating refresh token, which is used once the access token has
 * expired.
 */
import type { Identity, Scopes } from '../../lib/identity.js';
import { PlatformStrategy } from '../shared/platform-strategy.js';
import { fetchTrusting, upstreamFetch, type UpstreamOptions } from '../shared/platform.js';
import { GitHubApi } from './api.js';
import { parseStrategyConfig } from '../shared/strategy-config.js';
import { configSchema, endpointsFor, type GitHubConfig, type GitHubEndpoints } from './config.js';
import { groupsRequired, readIdentity } from './mapping.js';

export interface GitHubStrategyOptions extends UpstreamOptions {
  /** Passport name (default `github`; the broker passes the connector id). */
  name?: string;
  /** Overrides the endpoints derived from `hostName` (tests point these at a fake). */
  endpoints?: GitHubEndpoints;
  /** Used when `redirectURI` is not configured (the broker's `<issuer>/callback`). */
  callbackURL?: string;
}

export class GitHubStrategy extends PlatformStrategy {
  private readonly config: GitHubConfig;
  private readonly apiURL: string;
  private readonly fetchFn: typeof fetch;

  constructor(config: GitHubConfig, options: GitHubStrategyOptions = {}) {
    config = parseStrategyConfig(configSchema, config);
    const endpoints = options.endpoints ?? endpointsFor(config);
    const base = options.fetch ?? (config.rootCA !== undefined ? fetchTrusting(config.rootCA, 'rootCA') : undefined);
    const fetchFn = upstreamFetch({ ...options, ...(base ? { fetch: base } : {}) });
    super(options.name ?? 'github', {
      clientID: config.clientID,
      clientSecret: config.clientSecret,
      redirectURI: config.redirectURI ?? options.callbackURL,
      authorizationURL: endpoints.authorizationURL,
      tokenURL: endpoints.tokenURL,
      // GitHub takes the client credentials as form parameters.
      clientAuth: 'post',
      fetch: fetchFn,
    });
    this.config = config;
    this.apiURL = endpoints.apiURL;
    this.fetchFn = fetchFn;
  }

  protected override upstreamScopes(scopes: Scopes): string[] {
    return groupsRequired(this.config, scopes) ? ['user:email', 'read:org'] : ['user:email'];
  }

  /** Maps an access token someone else obtained (passport-github2) the same way as a login. */
  async identifyWithToken(accessToken: string, scopes: Scopes, expectedUserId?: string): Promise<Identity> {
    return readIdentity(this.api(accessToken), this.config, scopes, expectedUserId);
  }

  protected override readonly connectorType = 'github';

  protected override readUser(accessToken: string, scopes: Scopes): Promise<Identity> {
    return readIdentity(this.api(accessToken), this.config, scopes);
  }

  private api(accessToken: string): GitHubApi {
    return new GitHubApi(this.apiURL, accessToken, this.fetchFn);
  }
}
