/**
 * The GitHub REST API calls the connector makes, with the user's token. Payloads are validated
 * here; everything returned is typed.
 */
import { UpstreamError } from '../../lib/errors.js';
import { isRecord } from '../shared/http.js';
import { BearerApi, UpstreamApiError, optionalField, requireField, requireId } from '../shared/platform.js';

/** GitHub's REST API version the connector was written against. */
export const GITHUB_API_VERSION = '2022-11-28';

export interface GitHubUser {
  id: string;
  login: string;
  name?: string;
  /** The public profile email, if the user set one. */
  email?: string;
}

export interface GitHubEmail {
  email: string;
  verified: boolean;
  primary: boolean;
}

export interface GitHubTeam {
  name: string;
  slug: string;
  org: string;
}

export class GitHubApi {
  private readonly api: BearerApi;

  constructor(
    private readonly apiURL: string,
    accessToken: string,
    fetchFn: typeof fetch,
  ) {
    this.api = new BearerApi(accessToken, fetchFn, {
      accept: 'application/vnd.github+json',
      'x-github-api-version': GITHUB_API_VERSION,
      'user-agent': 'dexpress',
    });
  }

  /** GET /user: the authenticated user. */
  async user(): Promise<GitHubUser> {
    const body = await this.api.get(`${this.apiURL}/user`);
    const user: GitHubUser = {
      id: requireId(body, 'id', 'GitHub /user'),
      login: requireField(body, 'login', 'GitHub /user'),
    };
    const rec = body as Record<string, unknown>;
    const name = optionalField(rec, 'name');
    if (name !== undefined) user.name = name;
    const email = optionalField(rec, 'email');
    if (email !== undefined) user.email = email;
    return user;
  }

  /** GET /user/emails, every page. An entry without a boolean `verified` counts as unverified. */
  async emails(): Promise<GitHubEmail[]> {
    const items = await this.api.getLinkedPages(`${this.apiURL}/user/emails?per_page=100`);
    return items.map((item) => ({
      email: requireField(item, 'email', 'GitHub /user/emails entry'),
      verified: isRecord(item) && item.verified === true,
      primary: isRecord(item) && item.primary === true,
    }));
  }

  /** GET /user/orgs, every page: the logins of the user's orgs. */
  async orgs(): Promise<string[]> {
    const items = await this.api.getLinkedPages(`${this.apiURL}/user/orgs?per_page=100`);
    return items.map((item) => requireField(item, 'login', 'GitHub /user/orgs entry'));
  }

  /** GET /user/teams, every page. */
  async teams(): Promise<GitHubTeam[]> {
    const items = await this.api.getLinkedPages(`${this.apiURL}/user/teams?per_page=100`);
    return items.map((item) => {
      const org = isRecord(item) ? item.organization : undefined;
      return {
        name: requireField(item, 'name', 'GitHub /user/teams entry'),
        slug: requireField(item, 'slug', 'GitHub /user/teams entry'),
        org: requireField(org, 'login', 'GitHub /user/teams entry organization'),
      };
    });
  }

  /**
   * GET /orgs/{org}/members/{login}: 204 when the user is a member; 404, or 302 when the token
   * cannot see the org's private members, when not.
   */
  async isOrgMember(org: string, login: string): Promise<boolean> {
    const url = `${this.apiURL}/orgs/${encodeURIComponent(org)}/members/${encodeURIComponent(login)}`;
    const res = await this.api.call(url);
    if (res.status === 204) return true;
    if (res.status === 302 || res.status === 404) return false;
    if (res.status >= 200 && res.status < 300) throw new UpstreamError(`GitHub answered ${res.status} for an org membership check`);
    throw new UpstreamApiError(url, res.status);
  }
}
