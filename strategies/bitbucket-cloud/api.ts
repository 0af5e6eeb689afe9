/**
 * The Bitbucket Cloud API 2.0 calls the connector makes: `/user` (no `username` field since
 * Atlassian removed it), `/user/emails` and `/user/workspaces`, paged by the `next` URL in the body.
 */
import { UpstreamError } from '../../lib/errors.js';
import { isRecord, redactUrl } from '../shared/http.js';
import { BearerApi, UpstreamApiError, requireField, sameOrigin } from '../shared/platform.js';

export interface BitbucketUser {
  /** `{...}`-wrapped UUID, Dex's user id. */
  uuid: string;
  displayName: string;
}

export interface BitbucketEmail {
  email: string;
  primary: boolean;
  confirmed: boolean;
}

const MAX_PAGES = 100;

export class BitbucketApi {
  private readonly api: BearerApi;

  constructor(
    private readonly apiURL: string,
    accessToken: string,
    fetchFn: typeof fetch,
  ) {
    this.api = new BearerApi(accessToken, fetchFn);
  }

  async user(): Promise<BitbucketUser> {
    const body = await this.api.get(`${this.apiURL}/user`);
    return { uuid: requireField(body, 'uuid', 'Bitbucket /2.0/user'), displayName: requireField(body, 'display_name', 'Bitbucket /2.0/user') };
  }

  async emails(): Promise<BitbucketEmail[]> {
    return (await this.pages(`${this.apiURL}/user/emails`)).map((item) => ({
      email: requireField(item, 'email', 'Bitbucket email entry'),
      primary: isRecord(item) && item.is_primary === true,
      confirmed: isRecord(item) && item.is_confirmed === true,
    }));
  }

  /** The slugs of the workspaces the user is a member of. */
  async workspaces(): Promise<string[]> {
    return (await this.pages(`${this.apiURL}/user/workspaces?pagelen=100`)).map((item) =>
      requireField(isRecord(item) ? item.workspace : undefined, 'slug', 'Bitbucket workspace access entry'),
    );
  }

  /** The user's permission in a workspace, or undefined when Bitbucket will not say (403/404). */
  async workspacePermission(slug: string): Promise<string | undefined> {
    const url = `${this.apiURL}/user/workspaces/${encodeURIComponent(slug)}/permission`;
    const res = await this.api.call(url);
    if (res.status === 403 || res.status === 404) return undefined;
    if (res.status < 200 || res.status > 299) throw new UpstreamApiError(url, res.status);
    return requireField(res.body, 'permission', 'Bitbucket workspace permission');
  }

  /** Every `values` entry of a paged 2.0 collection, following `next`. */
  private async pages(url: string): Promise<unknown[]> {
    const items: unknown[] = [];
    let next: string | undefined = url;
    for (let page = 0; next !== undefined; page++) {
      if (page >= MAX_PAGES) throw new UpstreamError(`${redactUrl(url)} has more than ${MAX_PAGES} pages`);
      const body = await this.api.get(next);
      if (!isRecord(body) || !Array.isArray(body.values)) throw new UpstreamError(`${redactUrl(next)} is not a paged collection`);
      items.push(...(body.values as unknown[]));
      next = sameOrigin(url, typeof body.next === 'string' && body.next !== '' ? body.next : undefined);
    }
    return items;
  }
}
