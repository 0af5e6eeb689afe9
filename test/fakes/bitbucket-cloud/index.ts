/**
 * A fake of Bitbucket Cloud answering as the real one does for what the connector uses:
 * `/site/oauth2/authorize`, `/site/oauth2/access_token` (client credentials by HTTP Basic,
 * 400 `invalid_grant`, 2-hour access tokens, refresh tokens), API 2.0 `/user` (no `username`
 * field; `links.self`, `.avatar` and `.html`, which passport-bitbucket-oauth2 reads),
 * `/user/emails`, `/user/workspaces` and `/user/workspaces/{slug}/permission`, paged with
 * `pagelen`/`page`/`next` in the body, and 401 `{"type":"error","error":{"message":...}}`.
 */
import type { Request, Response } from 'express';
import { OAuthFake, intParam, pageOf, type Grant } from '../platform.js';

export interface FakeBitbucketUser {
  uuid: string;
  accountId: string;
  displayName: string;
  nickname: string;
  emails: { email: string; is_primary: boolean; is_confirmed: boolean }[];
  workspaces: { slug: string; permission: 'owner' | 'collaborator' | 'member' }[];
}

export const CLIENT_ID = 'bitbucket-key';
export const CLIENT_SECRET = 'bitbucket-secret';

export class BitbucketFake {
  readonly oauth = new OAuthFake({
    clientID: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    clientAuth: 'basic',
    tokenError: (res, error, description) => res.status(error === 'invalid_client' ? 401 : 400).json({ error_description: description, error }),
    unauthorized: (res) => res.status(401).json({ type: 'error', error: { message: 'Access token expired. Use your refresh token to obtain a new access token.' } }),
    accessTokenLifetime: 7200,
    refreshTokens: true,
  });
  readonly users = new Map<string, FakeBitbucketUser>();
  /** Largest `pagelen` answered (Bitbucket's is 100); tests lower it to force several pages. */
  maxPageLen = 100;

  constructor() {
    const app = this.oauth.app;
    app.get('/site/oauth2/authorize', this.oauth.authorize);
    app.post('/site/oauth2/access_token', ...this.oauth.token);
    app.get('/2.0/user', this.oauth.requireToken, (req, res) => {
      const u = this.userOf(res);
      const id = encodeURIComponent(u.uuid);
      const links = {
        self: { href: `${this.oauth.url}/2.0/users/${id}` },
        avatar: { href: `https://avatar-management.example/${id}/128` },
        html: { href: `https://bitbucket.example/${id}/` },
      };
      res.json({ type: 'user', uuid: u.uuid, account_id: u.accountId, display_name: u.displayName, nickname: u.nickname, links });
    });
    app.get('/2.0/user/emails', this.oauth.requireToken, (req, res) => {
      if (!scopeGranted(res, 'email')) return forbidden(res, 'email');
      this.page(req, res, this.userOf(res).emails.map((e) => ({ ...e, type: 'email' })), 10);
    });
    app.get('/2.0/user/workspaces', this.oauth.requireToken, (req, res) => {
      const values = this.userOf(res).workspaces.map((w) => ({ type: 'workspace_access', workspace: { type: 'workspace_base', slug: w.slug, uuid: `{ws-${w.slug}}` } }));
      this.page(req, res, values, 10);
    });
    app.get('/2.0/user/workspaces/:slug/permission', this.oauth.requireToken, (req, res) => {
      const w = this.userOf(res).workspaces.find((x) => x.slug === req.params.slug);
      if (!w) {
        res.status(404).json({ type: 'error', error: { message: 'No workspace found' } });
        return;
      }
      res.json({ type: 'workspace_membership', permission: w.permission });
    });
  }

  add(user: FakeBitbucketUser): FakeBitbucketUser {
    this.users.set(user.nickname, user);
    return user;
  }

  /** A user as most tests want one: a confirmed primary email beside an older one, two workspaces; `over` changes any of it. */
  addUser(nickname: string, over: Partial<FakeBitbucketUser> = {}): FakeBitbucketUser {
    return this.add({
      uuid: `{${nickname}-0000-1111}`,
      accountId: `5f:${nickname}`,
      displayName: `${nickname} Example`,
      nickname,
      emails: [
        { email: `${nickname}.old@example.com`, is_primary: false, is_confirmed: true },
        { email: `${nickname}@example.com`, is_primary: true, is_confirmed: true },
      ],
      workspaces: [
        { slug: 'acme', permission: 'owner' },
        { slug: 'tools', permission: 'member' },
      ],
      ...over,
    });
  }

  endpoints(): { authorizationURL: string; tokenURL: string; apiURL: string } {
    return {
      authorizationURL: `${this.oauth.url}/site/oauth2/authorize`,
      tokenURL: `${this.oauth.url}/site/oauth2/access_token`,
      apiURL: `${this.oauth.url}/2.0`,
    };
  }

  listen(): Promise<string> {
    return this.oauth.listen();
  }

  close(): Promise<void> {
    return this.oauth.close();
  }

  private userOf(res: Response): FakeBitbucketUser {
    const { login } = res.locals.grant as Grant;
    const user = this.users.get(login);
    if (!user) throw new Error(`fake Bitbucket has no user ${login}`);
    return user;
  }

  private page(req: Request, res: Response, items: readonly unknown[], defaultLen: number): void {
    const pagelen = Math.min(intParam(req.query.pagelen, defaultLen), this.maxPageLen);
    const page = intParam(req.query.page, 1);
    const { items: values, last } = pageOf(items, page, pagelen);
    const body: Record<string, unknown> = { pagelen, size: items.length, page, values };
    if (page < last) {
      const next = new URL(req.originalUrl, this.oauth.url);
      next.searchParams.set('page', String(page + 1));
      body.next = next.toString();
    }
    res.json(body);
  }
}

function scopeGranted(res: Response, scope: string): boolean {
  return (res.locals.grant as Grant).scope.split(' ').includes(scope);
}

function forbidden(res: Response, scope: string): void {
  res.status(403).json({ type: 'error', error: { message: `Your credentials lack one or more required privilege scopes.`, detail: { required: [scope] } } });
}
