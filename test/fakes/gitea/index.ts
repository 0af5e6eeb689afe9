/**
 * A fake Gitea answering as the real one does for what the connector uses:
 * `/login/oauth/authorize`, `/login/oauth/access_token` (400 `invalid_grant`, 1-hour access
 * tokens, refresh tokens), `/api/v1/user`, `/api/v1/user/emails`, `/api/v1/user/teams`
 * (`page`/`limit` capped at 50, `Link` and `X-Total-Count`), and 401 `{"message": ...}`.
 */
import type { Request, Response } from 'express';
import { OAuthFake, intParam, linkHeader, pageOf, type Grant } from '../platform.js';

export interface FakeGiteaUser {
  id: number;
  login: string;
  fullName: string;
  email: string;
  emails: { email: string; verified: boolean; primary: boolean }[];
  teams: { org: string; name: string }[];
}

export const CLIENT_ID = 'gitea-client-id';
export const CLIENT_SECRET = 'gitea-client-secret';

export class GiteaFake {
  readonly oauth = new OAuthFake({
    clientID: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    clientAuth: 'either',
    tokenError: (res, error, description) => res.status(400).json({ error, error_description: description }),
    unauthorized: (res) => res.status(401).json({ message: 'token is required', url: `${this.oauth.url}/api/swagger` }),
    accessTokenLifetime: 3600,
    refreshTokens: true,
  });
  readonly users = new Map<string, FakeGiteaUser>();
  /** Gitea's MAX_RESPONSE_ITEMS (default 50); tests lower it to force several pages. */
  maxResponseItems = 50;

  constructor() {
    const app = this.oauth.app;
    app.get('/login/oauth/authorize', this.oauth.authorize);
    app.post('/login/oauth/access_token', ...this.oauth.token);
    app.get('/api/v1/user', this.oauth.requireToken, (req, res) => {
      const u = this.userOf(res);
      res.json({ id: u.id, login: u.login, login_name: '', full_name: u.fullName, email: u.email, is_admin: false, username: u.login });
    });
    app.get('/api/v1/user/emails', this.oauth.requireToken, (req, res) => {
      const u = this.userOf(res);
      res.json(u.emails.map((e) => ({ ...e, user_id: u.id, username: u.login })));
    });
    app.get('/api/v1/user/teams', this.oauth.requireToken, (req, res) => {
      const teams = this.userOf(res).teams.map((t, i) => ({
        id: 300 + i,
        name: t.name,
        permission: 'write',
        organization: { id: 10, name: t.org, username: t.org, full_name: t.org },
      }));
      this.page(req, res, teams);
    });
  }

  add(user: FakeGiteaUser): FakeGiteaUser {
    this.users.set(user.login, user);
    return user;
  }

  /** A user as most tests want one: one verified primary email, three teams in two orgs; `over` changes any of it. */
  addUser(login: string, over: Partial<FakeGiteaUser> = {}): FakeGiteaUser {
    return this.add({
      id: 70 + this.users.size,
      login,
      fullName: `${login} Example`,
      email: `${login}@example.com`,
      emails: [{ email: `${login}@example.com`, verified: true, primary: true }],
      teams: [
        { org: 'acme', name: 'Owners' },
        { org: 'acme', name: 'devs' },
        { org: 'tools', name: 'ci' },
      ],
      ...over,
    });
  }

  listen(): Promise<string> {
    return this.oauth.listen();
  }

  close(): Promise<void> {
    return this.oauth.close();
  }

  private userOf(res: Response): FakeGiteaUser {
    const { login } = res.locals.grant as Grant;
    const user = this.users.get(login);
    if (!user) throw new Error(`fake Gitea has no user ${login}`);
    return user;
  }

  private page(req: Request, res: Response, items: readonly unknown[]): void {
    const limit = Math.min(intParam(req.query.limit, this.maxResponseItems), this.maxResponseItems);
    const page = intParam(req.query.page, 1);
    const { items: slice, last } = pageOf(items, page, limit);
    res.set('x-total-count', String(items.length));
    const link = linkHeader(new URL(req.originalUrl, this.oauth.url), page, last);
    if (link) res.set('link', link);
    res.json(slice);
  }
}
