/**
 * The Microsoft Graph calls Dex's `microsoft` connector makes: `GET /v1.0/me`, `POST
 * /v1.0/me/getMemberGroups` and `POST /v1.0/directoryObjects/getByIds`, following
 * `@odata.nextLink` on Graph's own origin only (the access token goes with it). Graph errors
 * (`{"error":{"code","message"}}`) name their code; a 401 is an `UpstreamApiError` with status
 * 401, so a refresh can tell a revoked token from an outage.
 */
import { UpstreamError } from '../../lib/errors.js';
import { callUpstream, isRecord, redactUrl } from '../shared/http.js';
import { UpstreamApiError, requireField, sameOrigin } from '../shared/platform.js';

/** The fields of Graph's `user` resource Dex reads. */
export interface GraphUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
  mailNickname?: string;
  onPremisesSamAccountName?: string;
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
    const body = await this.call(url);
    const user: GraphUser = {
      id: requireField(body, 'id', 'the Graph user'),
      displayName: typeof body.displayName === 'string' ? body.displayName : '',
      userPrincipalName: requireField(body, 'userPrincipalName', 'the Graph user'),
    };
    if (typeof body.mailNickname === 'string') user.mailNickname = body.mailNickname;
    if (typeof body.onPremisesSamAccountName === 'string') user.onPremisesSamAccountName = body.onPremisesSamAccountName;
    return user;
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
    const res = await callUpstream(url, {
      headers: { authorization: `Bearer ${this.accessToken}` },
      fetch: this.fetchFn,
      ...(json === undefined ? {} : { method: 'POST' as const, json }),
    });
    if (res.status === 200 && isRecord(res.body)) return res.body;
    if (res.status === 401) throw new UpstreamApiError(url, 401);
    const error = isRecord(res.body) && isRecord(res.body.error) ? res.body.error : undefined;
    const code = error && typeof error.code === 'string' ? error.code : `status ${res.status}`;
    const message = error && typeof error.message === 'string' ? `: ${error.message}` : '';
    throw new UpstreamError(`Microsoft Graph ${redactUrl(url)} answered ${res.status} (${code}${message})`);
  }
}
