/**
 * The Microsoft Graph calls Dex's `microsoft` connector makes: `GET /v1.0/me`, `POST
 * /v1.0/me/getMemberGroups` and `POST /v1.0/directoryObjects/getByIds`, following
 * `@odata.nextLink` on Graph's own origin only (the access token goes with it). Graph errors
 * (`{"error":{"code","message"}}`) name their code; a 401 is an `UpstreamApiError` with status
 * 401, so a refresh can tell a revoked token from an outage. Plus `GET /v1.0/organization`, the
 * user's directory, for tokens the connector did not get from its tenant's endpoints.
 */
import { UpstreamError } from '../../lib/errors.js';
import { callUpstream, isRecord, redactUrl, type UpstreamResponse } from '../shared/http.js';
import { UpstreamApiError, requireField, sameOrigin } from '../shared/platform.js';

/** The fields of Graph's `user` resource Dex reads. */
export interface GraphUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
  mailNickname?: string;
  onPremisesSamAccountName?: string;
}

/** The signed-in user's directory (tenant): what `User.Read` may read of Graph's `organization`. */
export interface GraphOrganization {
  /** The tenant id (a GUID). */
  id: string;
  /** The names of the directory's verified domains (`contoso.onmicrosoft.com`, `contoso.com`). */
  verifiedDomains: string[];
}

/** Graph's `user` resource as the connector reads it; missing `id` or `userPrincipalName` is an error. */
export function parseGraphUser(body: unknown): GraphUser {
  const user: GraphUser = {
    id: requireField(body, 'id', 'the Graph user'),
    displayName: isRecord(body) && typeof body.displayName === 'string' ? body.displayName : '',
    userPrincipalName: requireField(body, 'userPrincipalName', 'the Graph user'),
  };
  if (isRecord(body) && typeof body.mailNickname === 'string') user.mailNickname = body.mailNickname;
  if (isRecord(body) && typeof body.onPremisesSamAccountName === 'string') user.onPremisesSamAccountName = body.onPremisesSamAccountName;
  return user;
}

/**
 * Whether `tenant` (a tenant id or one of its domains, as configured) names the directory `org`;
 * Entra ID compares both without regard to case.
 */
export function isTenantOf(org: GraphOrganization, tenant: string): boolean {
  const wanted = tenant.toLowerCase();
  return org.id.toLowerCase() === wanted || org.verifiedDomains.some((d) => d.toLowerCase() === wanted);
}

/** Graph's limit of ids per `directoryObjects/getByIds` request. */
export const MAX_IDS_PER_LOOKUP = 1000;
const MAX_PAGES = 100;

export class GraphClient {
  constructor(
    private readonly graphURL: string,
    private readonly accessToken: string,
    private readonly fetchFn: typeof fetch,
  ) {}

  async me(): Promise<GraphUser> {
    const url = `${this.graphURL}/v1.0/me?$select=id,displayName,userPrincipalName,mailNickname,onPremisesSamAccountName`;
    return parseGraphUser(await this.call(url));
  }

  /**
   * The user's directory, or `undefined` when Graph answers a 4xx (it serves no directory for
   * personal Microsoft accounts). Graph lists exactly one organization for a work account.
   */
  async organization(): Promise<GraphOrganization | undefined> {
    const url = `${this.graphURL}/v1.0/organization?$select=id,verifiedDomains`;
    const res = await this.send(url);
    if (res.status !== 401 && res.status !== 429 && res.status >= 400 && res.status < 500) return undefined;
    const body = this.answer(url, res);
    if (!Array.isArray(body.value)) throw new UpstreamError(`${redactUrl(url)} answered no "value" array`);
    if (body.value.length !== 1) throw new UpstreamError(`${redactUrl(url)} answered ${body.value.length} organizations, not one`);
    const org: unknown = body.value[0];
    const domains = isRecord(org) ? org.verifiedDomains : undefined;
    if (!Array.isArray(domains)) throw new UpstreamError(`${redactUrl(url)} answered an organization without "verifiedDomains"`);
    return {
      id: requireField(org, 'id', 'the Graph organization'),
      verifiedDomains: domains.map((d: unknown) => requireField(d, 'name', 'a verified domain of the Graph organization')),
    };
  }

  /** Ids of every group the user belongs to (transitively, as getMemberGroups answers). */
  async memberGroupIds(securityEnabledOnly: boolean): Promise<string[]> {
    const values = await this.postAllPages(`${this.graphURL}/v1.0/me/getMemberGroups`, { securityEnabledOnly });
    return values.map((v, i) => {
      if (typeof v !== 'string') throw new UpstreamError(`getMemberGroups answered a non-string id at ${i}`);
      return v;
    });
  }

  /** Display names of the groups with these ids, `batchSize` ids per request. */
  async groupNames(ids: readonly string[], batchSize: number): Promise<string[]> {
    const names: string[] = [];
    for (let i = 0; i < ids.length; i += batchSize) {
      const batch = ids.slice(i, i + batchSize);
      const values = await this.postAllPages(`${this.graphURL}/v1.0/directoryObjects/getByIds`, { ids: batch, types: ['group'] });
      for (const v of values) names.push(requireField(v, 'displayName', 'a Graph group'));
    }
    return names;
  }

  private async postAllPages(url: string, body: unknown): Promise<unknown[]> {
    const values: unknown[] = [];
    let next: string | undefined = url;
    for (let page = 0; next !== undefined; page++) {
      if (page >= MAX_PAGES) throw new UpstreamError(`${redactUrl(url)} has more than ${MAX_PAGES} pages`);
      const answer = await this.call(next, body);
      if (!Array.isArray(answer.value)) throw new UpstreamError(`${redactUrl(next)} answered no "value" array`);
      values.push(...(answer.value as unknown[]));
      const link = answer['@odata.nextLink'];
      // The bearer token goes with the next page: only to Graph's own origin.
      next = sameOrigin(url, typeof link === 'string' && link !== '' ? link : undefined);
    }
    return values;
  }

  private async call(url: string, json?: unknown): Promise<Record<string, unknown>> {
    return this.answer(url, await this.send(url, json));
  }

  private send(url: string, json?: unknown): Promise<UpstreamResponse> {
    return callUpstream(url, {
      headers: { authorization: `Bearer ${this.accessToken}` },
      fetch: this.fetchFn,
      ...(json === undefined ? {} : { method: 'POST' as const, json }),
    });
  }

  /** A 200 JSON object, else the error Graph's answer means. */
  private answer(url: string, res: UpstreamResponse): Record<string, unknown> {
    if (res.status === 200 && isRecord(res.body)) return res.body;
    if (res.status === 401) throw new UpstreamApiError(url, 401);
    const error = isRecord(res.body) && isRecord(res.body.error) ? res.body.error : undefined;
    const code = error && typeof error.code === 'string' ? error.code : `status ${res.status}`;
    const message = error && typeof error.message === 'string' ? `: ${error.message}` : '';
    throw new UpstreamError(`Microsoft Graph ${redactUrl(url)} answered ${res.status} (${code}${message})`);
  }
}
