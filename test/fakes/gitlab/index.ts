/**
 * A fake GitLab answering as the real one does for what the connector uses: `/oauth/authorize`,
 * `/oauth/token` (400 `invalid_grant`, 2-hour access tokens, refresh tokens rotated and revoked
 * on use), `/api/v4/user`, `/oauth/userinfo` (needs `openid`; groups and role claims),
 * `/api/v4/groups` (`page`/`per_page` with `X-Next-Page` and `Link`), effective membership,
 * 401 `{"message":"401 Unauthorized"}` and 403 `insufficient_scope`.
 */
import type { Request, Response } from 'express';
import { OAuthFake, intParam, linkHeader, pageOf, type Grant, type TlsMaterial } from '../platform.js';

export interface FakeGitLabMembership {
  id: number;
  fullPath: string;
  /** GitLab access level (10 guest, 20 reporter, 30 developer, 40 maintainer, 50 owner). */
  level: number;
  /** Direct membership (shown by userinfo); false: inherited from a parent group. */
  direct: boolean;
}

export interface FakeGitLabUser {
  id: number;
  username: string;
  name: string;
  email: string;
  confirmedAt: string | null;
  groups: FakeGitLabMembership[];
}

export const CLIENT_ID = 'gitlab-app-id';
export const CLIENT_SECRET = 'gitlab-app-secret';

const ROLE_CLAIMS: [string, number][] = [
  ['https://gitlab.org/claims/groups/owner', 50],
  ['https://gitlab.org/claims/groups/maintainer', 40],
  ['https://gitlab.org/claims/groups/developer', 30],
];

export class GitLabFake {
  readonly oauth: OAuthFake;
  readonly users = new Map<string, FakeGitLabUser>();
  /** Caps `per_page` (GitLab's cap is 100); tests lower it to serve pages shorter than asked. */
  maxPerPage = 100;

  /** Over TLS with `tls` (a self-hosted instance with its own CA); plain HTTP without. */
  constructor(tls?: TlsMaterial) {
    this.oauth = new OAuthFake({
      clientID: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      clientAuth: 'either',
      tokenError: (res, error, description) => res.status(error === 'invalid_client' ? 401 : 400).json({ error, error_description: description }),
      unauthorized: (res) => res.status(401).json({ message: '401 Unauthorized' }),
      accessTokenLifetime: 7200,
      refreshTokens: true,
      // GitLab's OAuth application scopes (doc/integration/oauth_provider.md), space-separated.
      knownScopes: ['api', 'read_api', 'read_user', 'create_runner', 'manage_runner', 'k8s_proxy', 'read_repository', 'write_repository', 'read_registry', 'write_registry', 'read_virtual_registry', 'write_virtual_registry', 'read_observability', 'write_observability', 'ai_features', 'sudo', 'admin_mode', 'read_service_ping', 'openid', 'profile', 'email'],
      ...(tls ? { tls } : {}),
    });
    const app = this.oauth.app;
    app.get('/oauth/authorize', this.oauth.authorize);
    app.post('/oauth/token', ...this.oauth.token);
    app.get('/api/v4/user', this.oauth.requireToken, (req, res) => {
      const u = this.userOf(res);
      res.json({ id: u.id, username: u.username, name: u.name, state: 'active', email: u.email, confirmed_at: u.confirmedAt, web_url: `https://gitlab.example/${u.username}` });
    });
    app.get('/oauth/userinfo', this.oauth.requireToken, (req, res) => {
      if (!scopeGranted(res, 'openid')) return insufficientScope(res);
      const u = this.userOf(res);
      const direct = u.groups.filter((g) => g.direct);
      const body: Record<string, unknown> = {
        sub: String(u.id),
        name: u.name,
        nickname: u.username,
        preferred_username: u.username,
        groups: direct.map((g) => g.fullPath),
      };
      for (const [claim, level] of ROLE_CLAIMS) body[claim] = direct.filter((g) => g.level === level).map((g) => g.fullPath);
      res.json(body);
    });
    app.get('/api/v4/groups', this.oauth.requireToken, (req, res) => {
      if (!scopeGranted(res, 'read_api')) return insufficientScope(res);
      const groups = this.userOf(res).groups.map((g) => ({ id: g.id, path: g.fullPath.split('/').pop(), full_path: g.fullPath }));
      this.page(req, res, groups);
    });
    app.get('/api/v4/groups/:id/members/all/:userId', this.oauth.requireToken, (req, res) => {
      const member = [...this.users.values()].find((u) => String(u.id) === req.params.userId);
      const g = member?.groups.find((m) => String(m.id) === req.params.id);
      if (!member || !g) {
        res.status(404).json({ message: '404 Not found' });
        return;
      }
      res.json({ id: member.id, username: member.username, access_level: g.level });
    });
  }

  add(user: FakeGitLabUser): FakeGitLabUser {
    this.users.set(user.username, user);
    return user;
  }

  listen(): Promise<string> {
    return this.oauth.listen();
  }

  close(): Promise<void> {
    return this.oauth.close();
  }

  private userOf(res: Response): FakeGitLabUser {
    const { login } = res.locals.grant as Grant;
    const user = this.users.get(login);
    if (!user) throw new Error(`fake GitLab has no user ${login}`);
    return user;
  }

  private page(req: Request, res: Response, items: readonly unknown[]): void {
    const perPage = Math.min(intParam(req.query.per_page, 20), 100, this.maxPerPage);
    const page = intParam(req.query.page, 1);
    const { items: slice, last } = pageOf(items, page, perPage);
    res.set({ 'x-page': String(page), 'x-per-page': String(perPage), 'x-total': String(items.length), 'x-next-page': page < last ? String(page + 1) : '' });
    const link = linkHeader(new URL(req.originalUrl, this.oauth.url), page, last);
    if (link) res.set('link', link);
    res.json(slice);
  }
}

function scopeGranted(res: Response, scope: string): boolean {
  return (res.locals.grant as Grant).scope.split(' ').includes(scope);
}

function insufficientScope(res: Response): void {
  res.status(403).json({ error: 'insufficient_scope', error_description: 'The request requires higher privileges than provided by the access token.', scope: 'read_api' });
}
