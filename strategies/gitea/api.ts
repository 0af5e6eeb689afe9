/** The Gitea API calls the connector makes with the user's token. */
import { UpstreamError } from '../../lib/errors.js';
import { isRecord } from '../shared/http.js';
import { BearerApi, optionalField, requireField, requireId } from '../shared/platform.js';

export interface GiteaUser {
  id: string;
  login: string;
  fullName?: string;
  email?: string;
}

export interface GiteaEmail {
  email: string;
  verified: boolean;
  primary: boolean;
}

export interface GiteaTeam {
  org: string;
  name: string;
}

const PAGE_LIMIT = 50;
const MAX_PAGES = 100;

export class GiteaApi {
  private readonly api: BearerApi;

  constructor(
    private readonly baseURL: string,
    accessToken: string,
    fetchFn: typeof fetch,
  ) {
    this.api = new BearerApi(accessToken, fetchFn);
  }

  /** GET /api/v1/user. */
  async user(): Promise<GiteaUser> {
    const body = await this.api.get(`${this.baseURL}/api/v1/user`);
    const user: GiteaUser = { id: requireId(body, 'id', 'Gitea /api/v1/user'), login: requireField(body, 'login', 'Gitea /api/v1/user') };
    const rec = body as Record<string, unknown>;
    const fullName = optionalField(rec, 'full_name');
    if (fullName !== undefined) user.fullName = fullName;
    const email = optionalField(rec, 'email');
    if (email !== undefined) user.email = email;
    return user;
  }

  /** GET /api/v1/user/emails: the addresses with their `verified` flag (absent counts as unverified). */
  async emails(): Promise<GiteaEmail[]> {
    const body = await this.api.get(`${this.baseURL}/api/v1/user/emails`);
    if (!Array.isArray(body)) throw new UpstreamError('Gitea /api/v1/user/emails did not answer a JSON array');
    return (body as unknown[]).map((item) => ({
      email: requireField(item, 'email', 'Gitea email entry'),
      verified: isRecord(item) && item.verified === true,
      primary: isRecord(item) && item.primary === true,
    }));
  }

  /** GET /api/v1/user/teams, page by page until an empty page (as Dex reads it). */
  async teams(): Promise<GiteaTeam[]> {
    const teams: GiteaTeam[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const body = await this.api.get(`${this.baseURL}/api/v1/user/teams?page=${page}&limit=${PAGE_LIMIT}`);
      if (!Array.isArray(body)) throw new UpstreamError('Gitea /api/v1/user/teams did not answer a JSON array');
      if (body.length === 0) return teams;
      for (const item of body as unknown[]) {
        const org = isRecord(item) ? item.organization : undefined;
        teams.push({ name: requireField(item, 'name', 'Gitea team'), org: requireField(org, 'username', 'Gitea team organization') });
      }
    }
    throw new UpstreamError(`Gitea /api/v1/user/teams has more than ${MAX_PAGES} pages`);
  }
}
