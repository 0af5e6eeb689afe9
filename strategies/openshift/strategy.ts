/**
 * `OpenShiftStrategy`: the OpenShift OAuth server's flow (scope `user:info`), endpoints found by
 * discovery, the user and their groups from `/apis/user.openshift.io/v1/users/~`. No refresh:
 * the capability row says no refresh tokens for openshift.
 */
import { AccessDeniedError, UpstreamError } from '../../lib/errors.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import { callUpstream, isRecord, redactUrl } from '../shared/http.js';
import { OAuth2Strategy, type OAuth2Tokens } from '../shared/oauth2.js';
import { BearerApi, fetchTrusting, filterGroups, requireField, upstreamFetch, type UpstreamOptions } from '../shared/platform.js';
import { fetchWithCA } from '../shared/tls.js';
import { parseStrategyConfig } from '../shared/strategy-config.js';
import { configSchema, type OpenShiftConfig } from './config.js';

export const DISCOVERY_PATH = '/.well-known/oauth-authorization-server';
export const USER_PATH = '/apis/user.openshift.io/v1/users/~';

/** The fetch the config asks for: the cluster's CA added to the system roots, or no verification. */
export function fetchFor(config: OpenShiftConfig): typeof fetch | undefined {
  if (config.insecureCA === true) return fetchWithCA({ insecureSkipVerify: true });
  if (config.rootCA !== undefined) return fetchTrusting(config.rootCA, 'rootCA');
  return undefined;
}

export interface OpenShiftEndpoints {
  authorizationURL: string;
  tokenURL: string;
}

/** Reads the OAuth server's endpoints from the cluster's discovery document. */
export async function discoverOpenShift(issuer: string, fetchFn: typeof fetch): Promise<OpenShiftEndpoints> {
  const url = `${issuer.replace(/\/+$/, '')}${DISCOVERY_PATH}`;
  const res = await callUpstream(url, { fetch: fetchFn });
  if (res.status !== 200 || !isRecord(res.body)) throw new UpstreamError(`${redactUrl(url)} answered ${res.status} without a discovery document`);
  return {
    authorizationURL: requireField(res.body, 'authorization_endpoint', 'OpenShift discovery document'),
    tokenURL: requireField(res.body, 'token_endpoint', 'OpenShift discovery document'),
  };
}

export interface OpenShiftStrategyOptions extends UpstreamOptions {
  name?: string;
  /** Used when `redirectURI` is not configured (the broker's `<issuer>/callback`). */
  callbackURL?: string;
}

export class OpenShiftStrategy extends OAuth2Strategy {
  private readonly config: OpenShiftConfig;
  private readonly fetchFn: typeof fetch;

  /**
   * `endpoints` come from `discoverOpenShift`. Without `options.fetch`, calls trust what the
   * config says (`rootCA`, `insecureCA`: `fetchFor(config)`), as discovery should.
   */
  constructor(config: OpenShiftConfig, endpoints: OpenShiftEndpoints, options: OpenShiftStrategyOptions = {}) {
    config = parseStrategyConfig(configSchema, config);
    const configured = options.fetch ? undefined : fetchFor(config);
    const fetchFn = upstreamFetch({ ...options, ...(configured ? { fetch: configured } : {}) });
    super(options.name ?? 'openshift', {
      clientID: config.clientID,
      clientSecret: config.clientSecret,
      redirectURI: config.redirectURI ?? options.callbackURL,
      authorizationURL: endpoints.authorizationURL,
      tokenURL: endpoints.tokenURL,
      fetch: fetchFn,
    });
    this.config = config;
    this.fetchFn = fetchFn;
  }

  protected override upstreamScopes(): string[] {
    return ['user:info'];
  }

  protected override async identify(tokens: OAuth2Tokens, _scopes: Scopes): Promise<Identity> {
    const api = new BearerApi(tokens.accessToken, this.fetchFn);
    const body = await api.get(`${this.config.issuer.replace(/\/+$/, '')}${USER_PATH}`);
    const metadata = isRecord(body) ? body.metadata : undefined;
    const name = requireField(metadata, 'name', 'OpenShift user metadata');
    const uid = requireField(metadata, 'uid', 'OpenShift user metadata');
    const groups = isRecord(body) && Array.isArray(body.groups) ? body.groups : [];
    if (!groups.every((g): g is string => typeof g === 'string')) throw new UpstreamError('OpenShift user "groups" is not a list of strings');
    const required = this.config.groups ?? [];
    if (required.length > 0 && filterGroups(groups, required).length === 0) {
      throw new AccessDeniedError(`OpenShift user ${name} is not in any of the required groups.`);
    }
    // No email: OpenShift has none to vouch for (Dex puts the user name in it, unverified).
    return { userId: uid, username: name, preferredUsername: name, emailVerified: false, groups };
  }
}
