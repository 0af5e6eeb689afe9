/**
 * `BitbucketCloudStrategy`: Bitbucket Cloud's OAuth 2.0 flow (scopes `account email`), the user
 * and workspaces from API 2.0. Access tokens live two hours; refresh renews an expired one with
 * the refresh token, then re-reads the user and workspaces.
 */
import type { Identity, Scopes } from '../../lib/identity.js';
import { PlatformStrategy } from '../shared/platform-strategy.js';
import { upstreamFetch, type UpstreamOptions } from '../shared/platform.js';
import { BitbucketApi } from './api.js';
import { parseStrategyConfig } from '../shared/strategy-config.js';
import { configSchema, BITBUCKET_ENDPOINTS, type BitbucketConfig, type BitbucketEndpoints } from './config.js';
import { readIdentity } from './mapping.js';

export interface BitbucketStrategyOptions extends UpstreamOptions {
  name?: string;
  /** Overrides bitbucket.org (tests point these at a fake). */
  endpoints?: BitbucketEndpoints;
  /** Used when `redirectURI` is not configured (the broker's `<issuer>/callback`). */
  callbackURL?: string;
}

export class BitbucketCloudStrategy extends PlatformStrategy {
  private readonly config: BitbucketConfig;
  private readonly apiURL: string;
  private readonly fetchFn: typeof fetch;

  constructor(config: BitbucketConfig, options: BitbucketStrategyOptions = {}) {
    config = parseStrategyConfig(configSchema, config);
    const endpoints = options.endpoints ?? BITBUCKET_ENDPOINTS;
    const fetchFn = upstreamFetch(options);
    super(options.name ?? 'bitbucket-cloud', {
      clientID: config.clientID,
      clientSecret: config.clientSecret,
      redirectURI: config.redirectURI ?? options.callbackURL,
      authorizationURL: endpoints.authorizationURL,
      tokenURL: endpoints.tokenURL,
      fetch: fetchFn,
    });
    this.config = config;
    this.apiURL = endpoints.apiURL;
    this.fetchFn = fetchFn;
  }

  protected override upstreamScopes(): string[] {
    return ['account', 'email'];
  }

  /**
   * Maps an access token someone else obtained (passport-bitbucket-oauth2) the same way as a
   * login asking for groups, checking it belongs to the user `expectedUserId` (UUID).
   */
  async identifyWithToken(accessToken: string, expectedUserId: string): Promise<Identity> {
    return readIdentity(this.api(accessToken), this.config, { offlineAccess: true, groups: true }, expectedUserId);
  }

  protected override readonly connectorType = 'bitbucket-cloud';

  protected override readUser(accessToken: string, scopes: Scopes): Promise<Identity> {
    return readIdentity(this.api(accessToken), this.config, scopes);
  }

  private api(accessToken: string): BitbucketApi {
    return new BitbucketApi(this.apiURL, accessToken, this.fetchFn);
  }
}
