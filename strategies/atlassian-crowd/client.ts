/**
 * The calls of Crowd's REST API (`<baseURL>/rest/usermanagement/1`) the connector makes, each
 * authenticated as the Crowd application (HTTP basic auth with `clientID` / `clientSecret`):
 * `POST /session` (check a password, or open a session without one), `GET /user` and
 * `GET /user/group/nested`. Crowd's answers are mapped here to outcomes callers can act on;
 * anything else is an `UpstreamError`.
 */
import { UpstreamError } from '../../lib/errors.js';
import { callUpstream, isRecord, optionalString, requireString, type UpstreamResponse } from '../shared/http.js';

export interface CrowdUser {
  key: string;
  name: string;
  email?: string;
  active: boolean;
}

/** What `POST /session` said about the user. */
export type SessionOutcome =
  | 'ok'
  /** Wrong password or unknown user (INVALID_USER_AUTHENTICATION, USER_NOT_FOUND). */
  | 'invalid'
  | 'inactive'
  | 'expired'
  /** Crowd does not let this user into the application (APPLICATION_ACCESS_DENIED). */
  | 'denied';

export interface CrowdClientOptions {
  baseURL: string;
  clientID: string;
  clientSecret: string;
  timeoutMs?: number;
}

/** Groups are read in pages of this many. */
const PAGE_SIZE = 1000;
/** At most this many pages (a bound, not a limit anyone should reach). */
const MAX_PAGES = 50;

const sessionOutcomes: Record<string, SessionOutcome> = {
  INVALID_USER_AUTHENTICATION: 'invalid',
  USER_NOT_FOUND: 'invalid',
  INACTIVE_ACCOUNT: 'inactive',
  EXPIRED_CREDENTIAL: 'expired',
  APPLICATION_ACCESS_DENIED: 'denied',
};

export class CrowdClient {
  private readonly api: string;
  private readonly authorization: string;

  constructor(private readonly options: CrowdClientOptions) {
    this.api = `${options.baseURL.replace(/\/+$/, '')}/rest/usermanagement/1`;
    this.authorization = `Basic ${Buffer.from(`${options.clientID}:${options.clientSecret}`).toString('base64')}`;
  }

  /** Opens a Crowd session for the user, checking the password unless it is `undefined`. */
  async session(username: string, password: string | undefined): Promise<SessionOutcome> {
    const path = password === undefined ? '/session?validate-password=false' : '/session';
    const res = await this.call(path, { method: 'POST', json: password === undefined ? { username } : { username, password } });
    if (res.status === 200 || res.status === 201) {
      // Only a session token says the session was opened: a 200 carrying an error or a proxy's
      // HTML page is not Crowd vouching for the password.
      if (!isRecord(res.body) || typeof res.body.token !== 'string' || res.body.token === '') {
        throw new UpstreamError(`Crowd /session answered ${res.status} without a session token`);
      }
      return 'ok';
    }
    const reason = isRecord(res.body) ? optionalString(res.body, 'reason') : undefined;
    const outcome = reason === undefined ? undefined : sessionOutcomes[reason];
    if (outcome && [400, 403, 404].includes(res.status)) return outcome;
    throw this.failure('/session', res);
  }

  /** The user, or `undefined` when Crowd answers USER_NOT_FOUND. */
  async user(username: string): Promise<CrowdUser | undefined> {
    const res = await this.call(`/user?username=${encodeURIComponent(username)}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.failure('/user', res);
    if (!isRecord(res.body)) throw new UpstreamError('Crowd /user answered no user object');
    const email = optionalString(res.body, 'email');
    if (typeof res.body.active !== 'boolean') throw new UpstreamError('Crowd user has no "active"');
    return {
      key: requireString(res.body, 'key', 'Crowd user'),
      name: requireString(res.body, 'name', 'Crowd user'),
      ...(email === undefined ? {} : { email }),
      active: res.body.active,
    };
  }

  /** Names of the user's groups, direct and inherited through nested groups. */
  async nestedGroups(username: string): Promise<string[]> {
    const names: string[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = `username=${encodeURIComponent(username)}&start-index=${page * PAGE_SIZE}&max-results=${PAGE_SIZE}`;
      const res = await this.call(`/user/group/nested?${query}`);
      if (res.status !== 200) throw this.failure('/user/group/nested', res);
      if (!isRecord(res.body) || !Array.isArray(res.body.groups)) throw new UpstreamError('Crowd /user/group/nested answered no "groups" list');
      for (const group of res.body.groups) {
        if (!isRecord(group)) throw new UpstreamError('Crowd /user/group/nested answered a malformed group');
        names.push(requireString(group, 'name', 'Crowd group'));
      }
      if (res.body.groups.length < PAGE_SIZE) return names;
    }
    throw new UpstreamError(`Crowd lists more than ${MAX_PAGES * PAGE_SIZE} groups for one user`);
  }

  private call(path: string, request: Parameters<typeof callUpstream>[1] = {}): Promise<UpstreamResponse> {
    return callUpstream(`${this.api}${path}`, {
      ...request,
      headers: { authorization: this.authorization, accept: 'application/json' },
      ...(this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs }),
    });
  }

  /** Crowd's own words where it has some, never the request's query (it carries usernames). */
  private failure(path: string, res: UpstreamResponse): UpstreamError {
    if (res.status === 401) {
      return new UpstreamError(`Crowd did not accept the application credentials (clientID "${this.options.clientID}")`);
    }
    if (res.status === 403 && typeof res.body === 'string') {
      return new UpstreamError(`Crowd refuses requests from this address for application "${this.options.clientID}" (check the application's remote addresses)`);
    }
    const reason = isRecord(res.body) ? optionalString(res.body, 'reason') : undefined;
    return new UpstreamError(`Crowd ${path} answered ${res.status}${reason ? ` (${reason})` : ''}`);
  }
}
