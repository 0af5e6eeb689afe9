/**
 * `BitbucketCloudStrategy`: Bitbucket Cloud's OAuth 2.0 flow (scopes `account email`), the user
 * and workspaces from API 2.0. Access tokens live two hours; refresh renews an expired one with
 * the refresh token, then re-reads the user and workspaces.
 */
import type { Identity, Scopes } from '../../lib/identity.js';
import { OAuth2Strategy, type OAuth2Tokens } from '../shared/oauth2.js';
import {
  SingleFlight,
  currentTokens,
  mapRefreshErrors,
  parseTokenData,
  tokenData,
  tokenDataJson,
  upstreamFetch,
  type UpstreamOptions,
  type UpstreamTokenData,
} from '../shared/platform.js';
import { BitbucketApi } from './api.js';
import { BITBUCKET_ENDPOINTS, type BitbucketConfig, type BitbucketEndpoints } from './config.js';
import { readIdentity } from './mapping.js';

export interface BitbucketStrategyOptions extends UpstreamOptions {
  name?: string;
  /** Overrides bitbucket.org (tests point these at a fake). */
  endpoints?: BitbucketEndpoints;
  /** Used when `redirectURI` is not configured (the broker's `<issuer>/callback`). */
  callbackURL?: string;
}

export class BitbucketCloudStrategy extends OAuth2Strategy {
  private readonly config: BitbucketConfig;
  private readonly apiURL: string;
  private readonly fetchFn: typeof fetch;
  private readonly refreshFlight = new SingleFlight<UpstreamTokenData>();

  constructor(config: BitbucketConfig, options: BitbucketStrategyOptions = {}) {
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

  protected override async identify(tokens: OAuth2Tokens, scopes: Scopes): Promise<Identity> {
    const identity = await readIdentity(this.api(tokens.accessToken), this.config, scopes);
    if (scopes.offlineAccess) identity.connectorData = tokenDataJson(tokenData(tokens));
    return identity;
  }

  async refresh(identity: Identity, scopes: Scopes): Promise<Identity> {
    return mapRefreshErrors('bitbucket-cloud', async () => {
      const stored = parseTokenData(identity.connectorData, 'bitbucket-cloud');
      const tokens = await currentTokens(stored, (rt) => this.refreshTokens(rt), this.refreshFlight);
      const fresh = await readIdentity(this.api(tokens.accessToken), this.config, scopes);
      return { ...fresh, userId: identity.userId, connectorData: tokenDataJson(tokens) };
    });
  }

  private api(accessToken: string): BitbucketApi {
    return new BitbucketApi(this.apiURL, accessToken, this.fetchFn);
  }
}
