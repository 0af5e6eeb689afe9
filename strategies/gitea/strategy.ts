/**
 * `GiteaStrategy`: Gitea's (or Forgejo's) OAuth flow, the user from `/api/v1/user` with a
 * verified address from `/api/v1/user/emails`, and org/team membership from `/api/v1/user/teams`.
 * Refresh re-reads them with the stored token, renewing it first once it has expired.
 */
import type { Identity, Scopes } from '../../lib/identity.js';
import { PlatformStrategy } from '../shared/platform-strategy.js';
import { upstreamFetch, type UpstreamOptions } from '../shared/platform.js';
import { GiteaApi } from './api.js';
import { parseStrategyConfig } from '../shared/strategy-config.js';
import { configSchema, baseURLOf, type GiteaConfig } from './config.js';
import { readIdentity } from './mapping.js';

export interface GiteaStrategyOptions extends UpstreamOptions {
  name?: string;
  /** Used when `redirectURI` is not configured (the broker's `<issuer>/callback`). */
  callbackURL?: string;
}

export class GiteaStrategy extends PlatformStrategy {
  private readonly config: GiteaConfig;
  private readonly baseURL: string;
  private readonly fetchFn: typeof fetch;

  constructor(config: GiteaConfig, options: GiteaStrategyOptions = {}) {
    config = parseStrategyConfig(configSchema, config);
    const baseURL = baseURLOf(config);
    const fetchFn = upstreamFetch(options);
    super(options.name ?? 'gitea', {
      clientID: config.clientID,
      clientSecret: config.clientSecret,
      redirectURI: config.redirectURI ?? options.callbackURL,
      authorizationURL: `${baseURL}/login/oauth/authorize`,
      tokenURL: `${baseURL}/login/oauth/access_token`,
      fetch: fetchFn,
    });
    this.config = config;
    this.baseURL = baseURL;
    this.fetchFn = fetchFn;
  }

  /** As Dex: no scope parameter (Gitea then grants its default access). */
  protected override upstreamScopes(): string[] {
    return [];
  }

  protected override readonly connectorType = 'gitea';

  protected override readUser(accessToken: string): Promise<Identity> {
    return readIdentity(this.api(accessToken), this.config);
  }

  private api(accessToken: string): GiteaApi {
    return new GiteaApi(this.baseURL, accessToken, this.fetchFn);
  }
}
