/**
 * The few calls of Keystone's Identity API v3 the connector makes: password authentication
 * (`POST /v3/auth/tokens`, the token in `X-Subject-Token`), a user (`GET /v3/users/{id}`) and the
 * user's groups (`GET /v3/users/{id}/groups`). Payloads are validated here; every failure is an
 * `UpstreamError` except the outcomes callers must tell apart (`wrong credentials`, `not found`).
 */
import { UpstreamError } from '../../lib/errors.js';
import { callUpstream, isRecord, optionalString, requireString, type UpstreamResponse } from '../shared/http.js';

/** Keystone names a domain by id (`default`, or a UUID in either form) or by name, as Dex decides. */
export type DomainRef = { id: string } | { name: string };

const UUID = /^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

export function domainRef(domain: string): DomainRef {
  return domain === 'default' || UUID.test(domain) ? { id: domain } : { name: domain };
}

export interface KeystoneUser {
  id: string;
  name: string;
  email?: string;
  enabled: boolean;
}

export interface KeystoneApiOptions {
  /** Keystone's public endpoint without `/v3`, no trailing slash. */
  host: string;
  domain: DomainRef;
  timeoutMs?: number;
}

export type TokenResult = { ok: true; token: string; userId: string } | { ok: false };

export class KeystoneApi {
  constructor(private readonly options: KeystoneApiOptions) {}

  /**
   * Password authentication of a user of the configured domain; `system: true` asks for a
   * system-scoped token (`scope.system.all`), which the admin account needs to read other users.
   * A 401 (wrong password, unknown user, disabled or locked account) is `{ ok: false }`.
   */
  async passwordToken(name: string, password: string, scope: { system: boolean }): Promise<TokenResult> {
    const res = await this.call('/v3/auth/tokens', {
      method: 'POST',
      json: {
        auth: {
          identity: { methods: ['password'], password: { user: { name, domain: this.options.domain, password } } },
          ...(scope.system ? { scope: { system: { all: true } } } : {}),
        },
      },
    });
    if (res.status === 401) return { ok: false };
    if (res.status !== 201) throw this.failure('/v3/auth/tokens', res);
    const token = res.headers.get('x-subject-token');
    if (!token) throw new UpstreamError('Keystone issued a token without an X-Subject-Token header');
    const body = isRecord(res.body) && isRecord(res.body.token) ? res.body.token : undefined;
    if (!body || !isRecord(body.user)) throw new UpstreamError('Keystone token response has no "token.user"');
    return { ok: true, token, userId: requireString(body.user, 'id', 'Keystone token user') };
  }

  /** The user, or `undefined` when Keystone answers 404. */
  async user(userId: string, token: string): Promise<KeystoneUser | undefined> {
    const path = `/v3/users/${encodeURIComponent(userId)}`;
    const res = await this.call(path, { headers: { 'x-auth-token': token } });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.failure(path, res);
    if (!isRecord(res.body) || !isRecord(res.body.user)) throw new UpstreamError('Keystone user response has no "user"');
    const user = res.body.user;
    const email = optionalString(user, 'email');
    if (typeof user.enabled !== 'boolean') throw new UpstreamError('Keystone user has no "enabled"');
    return {
      id: requireString(user, 'id', 'Keystone user'),
      name: requireString(user, 'name', 'Keystone user'),
      ...(email === undefined ? {} : { email }),
      enabled: user.enabled,
    };
  }

  /** Names of the groups the user is a direct member of. */
  async groupNames(userId: string, token: string): Promise<string[]> {
    const path = `/v3/users/${encodeURIComponent(userId)}/groups`;
    const res = await this.call(path, { headers: { 'x-auth-token': token } });
    if (res.status !== 200) throw this.failure(path, res);
    if (!isRecord(res.body) || !Array.isArray(res.body.groups)) throw new UpstreamError('Keystone groups response has no "groups" list');
    // With `[DEFAULT] list_limit` set, Keystone cuts lists short and says so: never pass on a partial list.
    if (res.body.truncated === true) throw new UpstreamError(`Keystone truncated the group list of user ${userId} (list_limit)`);
    return res.body.groups.map((group) => {
      if (!isRecord(group)) throw new UpstreamError('Keystone groups response has a malformed entry');
      return requireString(group, 'name', 'Keystone group');
    });
  }

  private call(path: string, request: Parameters<typeof callUpstream>[1]): Promise<UpstreamResponse> {
    return callUpstream(`${this.options.host}${path}`, {
      ...request,
      ...(this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs }),
    });
  }

  private failure(path: string, res: UpstreamResponse): UpstreamError {
    const message = isRecord(res.body) && isRecord(res.body.error) ? optionalString(res.body.error, 'message') : undefined;
    return new UpstreamError(`Keystone ${path.replace(/\/users\/[^/]+/, '/users/{id}')} answered ${res.status}${message ? `: ${message}` : ''}`);
  }
}
