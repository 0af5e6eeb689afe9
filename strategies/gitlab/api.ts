/**
 * The GitLab API calls the connector makes with the user's token: `/api/v4/user`,
 * `/oauth/userinfo` (direct groups and role claims), and for `inheritedGroups`,
 * `/api/v4/groups` with `page`/`per_page` paging and effective membership lookups.
 */
import { UpstreamError } from '../../lib/errors.js';
import { isRecord } from '../shared/http.js';
import { BearerApi, UpstreamApiError, optionalField, requireField, requireId } from '../shared/platform.js';

export interface GitLabUser {
  id: string;
  username: string;
  name?: string;
  email?: string;
  /** When the primary address was confirmed; absent when it never was. */
  confirmedAt?: string;
}

/** `/oauth/userinfo`: direct groups and the groups the user holds a role in. */
export interface GitLabUserInfo {
  groups: string[];
  owner: string[];
  maintainer: string[];
  developer: string[];
}

export interface GitLabGroup {
  id: number;
  path: string;
}

const PER_PAGE = 100;
const MAX_PAGES = 100;

function stringArray(obj: Record<string, unknown>, key: string): string[] {
  const v = obj[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new UpstreamError(`GitLab userinfo "${key}" is not a list of strings`);
  return v as string[];
}

/**
 * The page after `page`: GitLab's `x-next-page` (empty on the last page), or, when the header is
 * missing, the next one while pages come full.
 */
function nextPage(header: string | null, page: number, length: number): number | undefined {
  if (header === null) return length < PER_PAGE ? undefined : page + 1;
  if (header.trim() === '') return undefined;
  const next = Number(header);
  if (!Number.isSafeInteger(next) || next <= page) throw new UpstreamError(`GitLab /api/v4/groups gave an invalid x-next-page after page ${page}`);
  return next;
}

/** `/api/v4/user`'s answer (also what passport-gitlab2 keeps as `profile._json`). */
export function parseUser(body: unknown): GitLabUser {
  const user: GitLabUser = {
    id: requireId(body, 'id', 'GitLab /api/v4/user'),
    username: requireField(body, 'username', 'GitLab /api/v4/user'),
  };
  const rec = body as Record<string, unknown>;
  const name = optionalField(rec, 'name');
  if (name !== undefined) user.name = name;
  const email = optionalField(rec, 'email');
  if (email !== undefined) user.email = email;
  const confirmedAt = optionalField(rec, 'confirmed_at');
  if (confirmedAt !== undefined) user.confirmedAt = confirmedAt;
  return user;
}

export class GitLabApi {
  private readonly api: BearerApi;

  constructor(
    private readonly baseURL: string,
    accessToken: string,
    fetchFn: typeof fetch,
  ) {
    this.api = new BearerApi(accessToken, fetchFn);
  }

  async user(): Promise<GitLabUser> {
    return parseUser(await this.api.get(`${this.baseURL}/api/v4/user`));
  }

  async userInfo(): Promise<GitLabUserInfo> {
    const body = await this.api.get(`${this.baseURL}/oauth/userinfo`);
    if (!isRecord(body)) throw new UpstreamError('GitLab /oauth/userinfo is not a JSON object');
    return {
      groups: stringArray(body, 'groups'),
      owner: stringArray(body, 'https://gitlab.org/claims/groups/owner'),
      maintainer: stringArray(body, 'https://gitlab.org/claims/groups/maintainer'),
      developer: stringArray(body, 'https://gitlab.org/claims/groups/developer'),
    };
  }

  /**
   * Every group the user is a member of, inherited memberships included. The pages end where
   * GitLab's `x-next-page` is empty, not at a page shorter than asked: GitLab may answer fewer
   * than `per_page` on a page that is not the last, and stopping there would drop groups. Only
   * without the header (a proxy dropping it) does a short page end the list.
   */
  async groups(): Promise<GitLabGroup[]> {
    const groups: GitLabGroup[] = [];
    let page: number | undefined = 1;
    for (let read = 0; page !== undefined; read++) {
      if (read >= MAX_PAGES) throw new UpstreamError(`GitLab /api/v4/groups has more than ${MAX_PAGES} pages`);
      const url = `${this.baseURL}/api/v4/groups?all_available=false&per_page=${PER_PAGE}&page=${page}`;
      const res = await this.api.call(url);
      if (res.status < 200 || res.status > 299) throw new UpstreamApiError(url, res.status);
      const body = res.body;
      if (!Array.isArray(body)) throw new UpstreamError('GitLab /api/v4/groups did not answer a JSON array');
      for (const item of body as unknown[]) {
        const id = Number(requireId(item, 'id', 'GitLab group'));
        const rec = item as Record<string, unknown>;
        const path = optionalField(rec, 'full_path') ?? requireField(rec, 'path', 'GitLab group');
        groups.push({ id, path });
      }
      page = nextPage(res.headers.get('x-next-page'), page, body.length);
    }
    return groups;
  }

  /** The user's effective access level in a group, or undefined when GitLab will not say (403/404). */
  async accessLevel(groupId: number, userId: string): Promise<number | undefined> {
    const url = `${this.baseURL}/api/v4/groups/${groupId}/members/all/${encodeURIComponent(userId)}`;
    const res = await this.api.call(url);
    if (res.status === 403 || res.status === 404) return undefined;
    if (res.status < 200 || res.status > 299) throw new UpstreamApiError(url, res.status);
    const level = isRecord(res.body) ? res.body.access_level : undefined;
    return typeof level === 'number' ? level : undefined;
  }
}
