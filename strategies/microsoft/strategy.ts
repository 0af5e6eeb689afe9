/**
 * Log in with Microsoft (Entra ID / personal accounts) through the v2.0 endpoints, as Dex's
 * `microsoft` connector: the user from Graph `/me`, groups from `getMemberGroups` (names through
 * `directoryObjects/getByIds`) in organisation tenants only, required groups refused with a 403.
 */
import { AccessDeniedError, UpstreamError } from '../../lib/errors.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import { OAuth2Strategy, type OAuth2Tokens } from '../shared/oauth2.js';
import {
  SingleFlight,
  currentTokens,
  filterGroups,
  mapRefreshErrors,
  parseTokenData,
  tokenData,
  tokenDataJson,
  upstreamFetch,
  type UpstreamTokenData,
} from '../shared/platform.js';
import { assertionFetch } from './assertion.js';
import { parseStrategyConfig } from '../shared/strategy-config.js';
import { configSchema, DEFAULT_API_URL, DEFAULT_GRAPH_URL, isOrgTenant, type MicrosoftConfig } from './config.js';
import { GraphClient, MAX_IDS_PER_LOOKUP, isTenantOf, type GraphUser } from './graph.js';

const SCOPE_USER = 'user.read';
const SCOPE_GROUPS = 'directory.read.all';
const SCOPE_OFFLINE = 'offline_access';

export class MicrosoftStrategy extends OAuth2Strategy {
  private readonly config: MicrosoftConfig;
  private readonly tenant: string;
  private readonly graphURL: string;
  private readonly fetchFn: typeof fetch;
  private readonly refreshFlight = new SingleFlight<UpstreamTokenData>();

  constructor(config: MicrosoftConfig, name = 'microsoft', callbackURL?: string) {
    config = parseStrategyConfig(configSchema, config);
    const apiURL = (config.apiURL ?? DEFAULT_API_URL).replace(/\/$/, '');
    const tenant = config.tenant ?? 'common';
    const fetchFn = upstreamFetch();
    const tokenURL = `${apiURL}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`;
    super(name, {
      clientID: config.clientID,
      clientSecret: config.clientSecret ?? '',
      redirectURI: config.redirectURI ?? callbackURL,
      authorizationURL: `${apiURL}/${encodeURIComponent(tenant)}/oauth2/v2.0/authorize`,
      tokenURL,
      clientAuth: 'post',
      fetch: config.clientAssertion ? assertionFetch(config.clientAssertion, tokenURL, fetchFn) : fetchFn,
    });
    this.config = config;
    this.tenant = tenant;
    this.graphURL = (config.graphURL ?? DEFAULT_GRAPH_URL).replace(/\/$/, '');
    this.fetchFn = fetchFn;
  }

  /** Dex's rule: groups only in an organisation tenant, when asked for or required. */
  private groupsRequired(scopes: Scopes): boolean {
    return ((this.config.groups ?? []).length > 0 || scopes.groups) && isOrgTenant(this.tenant);
  }

  protected override upstreamScopes(scopes: Scopes): string[] {
    const list = this.config.scopes && this.config.scopes.length > 0 ? [...this.config.scopes] : [SCOPE_USER];
    if (this.groupsRequired(scopes)) list.push(SCOPE_GROUPS);
    if (scopes.offlineAccess) list.push(SCOPE_OFFLINE);
    return list;
  }

  protected override authorizationParams(): Record<string, string> {
    const params: Record<string, string> = {};
    if (this.config.promptType) params.prompt = this.config.promptType;
    if (this.config.domainHint) params.domain_hint = this.config.domainHint;
    return params;
  }

  protected override async identify(tokens: OAuth2Tokens, scopes: Scopes): Promise<Identity> {
    const identity = await this.identityFor(this.graph(tokens.accessToken), scopes);
    // As Dex: the upstream tokens are kept only when the client may refresh.
    if (scopes.offlineAccess) identity.connectorData = tokenDataJson(tokenData(tokens));
    return identity;
  }

  /** Re-reads the user (and groups) with the stored token, refreshing it upstream when expired. */
  async refresh(identity: Identity, scopes: Scopes): Promise<Identity> {
    return mapRefreshErrors('microsoft', async () => {
      const stored = parseTokenData(identity.connectorData, 'microsoft');
      const data = await currentTokens(stored, (rt) => this.refreshTokens(rt), this.refreshFlight);
      const refreshed = await this.identityFor(this.graph(data.accessToken), scopes);
      return { ...refreshed, userId: identity.userId, connectorData: tokenDataJson(data) };
    });
  }

  /**
   * Maps an access token someone else obtained (a handed-over passport-microsoft strategy) as a
   * login asking for groups. Its own login gets the tenant from the tenant's endpoints; such a
   * token may come from others (`common`), so the user's directory is checked first: any with
   * `organizations`, the configured one otherwise (`common`: no check). `consumers` cannot be
   * told apart from a failing check, so the caller refuses it before.
   */
  async identifyWithToken(accessToken: string, expectedUserId: string): Promise<Identity> {
    const graph = this.graph(accessToken);
    if (this.tenant !== 'common') {
      const org = await graph.organization();
      const anyDirectory = this.tenant === 'organizations';
      if (org === undefined || !(anyDirectory || isTenantOf(org, this.tenant))) {
        throw new AccessDeniedError(anyDirectory ? 'Only work or school accounts may log in here.' : 'Only accounts of the allowed directory may log in here.');
      }
    }
    return this.identityFor(graph, { offlineAccess: true, groups: true }, expectedUserId);
  }

  /** Dex's mapping of Graph's user, groups aside (`userId` the object id, `email` the UPN). */
  identityOf(user: GraphUser): Identity {
    const email = this.config.emailToLowercase ? user.userPrincipalName.toLowerCase() : user.userPrincipalName;
    const identity: Identity = { userId: user.id, username: user.displayName, email, emailVerified: true, groups: [] };
    const preferred = this.preferredUsername(user, email);
    if (preferred) identity.preferredUsername = preferred;
    return identity;
  }

  private graph(accessToken: string): GraphClient {
    return new GraphClient(this.graphURL, accessToken, this.fetchFn);
  }

  private async identityFor(graph: GraphClient, scopes: Scopes, expectedUserId?: string): Promise<Identity> {
    const user = await graph.me();
    if (expectedUserId !== undefined && user.id !== expectedUserId) {
      throw new UpstreamError('the Microsoft token belongs to another user than the profile');
    }
    const identity = this.identityOf(user);
    if (this.groupsRequired(scopes)) identity.groups = await this.groups(graph);
    return identity;
  }

  private preferredUsername(user: GraphUser, email: string): string | undefined {
    switch (this.config.preferredUsernameField) {
      case 'name':
        return user.displayName;
      case 'email':
        return email;
      case 'mailNickname':
        return user.mailNickname;
      case 'onPremisesSamAccountName':
        return user.onPremisesSamAccountName;
      default:
        return undefined;
    }
  }

  private async groups(graph: GraphClient): Promise<string[]> {
    const ids = await graph.memberGroupIds(this.config.onlySecurityGroups ?? false);
    let groups = ids;
    if ((this.config.groupNameFormat ?? 'name') === 'name' && ids.length > 0) {
      groups = await graph.groupNames(ids, this.config.batchGroupLookups ? MAX_IDS_PER_LOOKUP : ids.length);
    }
    const required = this.config.groups ?? [];
    const inRequired = filterGroups(groups, required);
    if (required.length > 0 && inRequired.length === 0) {
      throw new AccessDeniedError('You are not a member of any group allowed to log in here.');
    }
    return this.config.useGroupsAsWhitelist ? inRequired : groups;
  }
}
