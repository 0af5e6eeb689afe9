/**
 * A fake of GitHub (github.com, or GitHub Enterprise over TLS at `/api/v3`) answering as the real
 * one does for what the connector uses: the OAuth web flow (token answers and errors, the latter
 * with status 200, form-encoded unless `Accept` asks for JSON), `/user`,
 * `/user/emails`, `/user/orgs`, `/user/teams` (Link pagination, `per_page` up to 100),
 * `/orgs/{org}/members/{user}` (204 / 302 / 404), 401 "Bad credentials", 403 without User-Agent.
 */
import type { Request, Response } from 'express';
import type { StrategyOptions as PassportGitHub2Options } from 'passport-github2';
import { OAuthFake, intParam, linkHeader, pageOf, type Grant, type TlsMaterial } from '../platform.js';

export interface FakeGitHubEmail {
  email: string;
  verified: boolean;
  primary: boolean;
  visibility: 'public' | 'private' | null;
}

export interface FakeGitHubUser {
  id: number;
  login: string;
  name: string | null;
  /** Public profile email. */
  email: string | null;
  emails: FakeGitHubEmail[];
  orgs: string[];
  teams: { org: string; name: string; slug: string }[];
}

export const CLIENT_ID = 'Iv1.fakeclient';
export const CLIENT_SECRET = 'fake-secret';

export interface GitHubFakeOptions {
  /** Serve as GitHub Enterprise: TLS with this material, API under `/api/v3`. */
  enterprise?: TlsMaterial;
  /** `github-app`: expiring user tokens (8 h) with rotating refresh tokens. */
  tokens?: 'oauth-app' | 'github-app';
}

/**
 * The token endpoint's answer as GitHub writes it: JSON only when the request's `Accept` asks for
 * it; otherwise (node-oauth, under passport-github2, sends none) form-encoded, every value a string
 * (`access_token=ghu_...&expires_in=28800&refresh_token=ghr_...&scope=&token_type=bearer`).
 */
function answerAsGitHub(res: Response, body: Record<string, unknown>): void {
  if (/\bapplication\/json\b/i.test(res.req.get('accept') ?? '')) {
    res.status(200).json(body);
    return;
  }
  const form = new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)]));
  res.status(200).type('application/x-www-form-urlencoded').send(form.toString());
}

export class GitHubFake {
  readonly oauth: OAuthFake;
  readonly users = new Map<string, FakeGitHubUser>();
  /** Caps `per_page` (GitHub's cap is 100); tests lower it to force several pages. */
  maxPerPage = 100;
  private readonly apiPrefix: string;

  constructor(options: GitHubFakeOptions = {}) {
    const githubApp = options.tokens === 'github-app';
    this.apiPrefix = options.enterprise ? '/api/v3' : '';
    this.oauth = new OAuthFake({
      clientID: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      clientAuth: 'either',
      // GitHub answers token errors with 200 and an error body, in the format Accept asks for.
      tokenError: (res, error, description) =>
        answerAsGitHub(res, { error, error_description: description, error_uri: 'https://docs.github.com/apps/troubleshooting' }),
      tokenAnswer: answerAsGitHub,
      unauthorized: (res) => res.status(401).json({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' }),
      refreshTokens: githubApp,
      errorCodes: { badCode: 'bad_verification_code', badRefreshToken: 'bad_refresh_token', badClient: 'incorrect_client_credentials' },
      ...(githubApp ? { accessTokenLifetime: 28800 } : {}),
      ...(options.enterprise ? { tls: options.enterprise } : {}),
    });
    const app = this.oauth.app;
    app.get('/login/oauth/authorize', this.oauth.authorize);
    app.post('/login/oauth/access_token', ...this.oauth.token);
    const api = this.apiPrefix;
    app.use(api, (req, res, next) => {
      if (!req.get('user-agent')) {
        res.status(403).type('text/plain').send('Request forbidden by administrative rules. Please make sure your request has a User-Agent header.');
        return;
      }
      next();
    });
    app.get(`${api}/user`, this.oauth.requireToken, (req, res) => {
      const u = this.userOf(res);
      res.json({ login: u.login, id: u.id, node_id: `U_${u.id}`, type: 'User', name: u.name, email: u.email, html_url: `https://github.com/${u.login}` });
    });
    app.get(`${api}/user/emails`, this.oauth.requireToken, (req, res) => {
      if (!hasScope(res, 'user:email', 'user')) return notFound(res);
      this.page(req, res, this.userOf(res).emails);
    });
    app.get(`${api}/user/orgs`, this.oauth.requireToken, (req, res) => {
      const orgs = hasScope(res, 'read:org') ? this.userOf(res).orgs : [];
      this.page(req, res, orgs.map((login, i) => ({ login, id: 1000 + i, url: `${this.oauth.url}${api}/orgs/${login}` })));
    });
    app.get(`${api}/user/teams`, this.oauth.requireToken, (req, res) => {
      if (!hasScope(res, 'read:org')) {
        res.status(403).json({ message: 'You need at least read:org scope or user scope to list your teams.', documentation_url: 'https://docs.github.com/rest/teams/teams#list-teams-for-the-authenticated-user', status: '403' });
        return;
      }
      const teams = this.userOf(res).teams.map((t, i) => ({
        id: 500 + i,
        name: t.name,
        slug: t.slug,
        organization: { login: t.org, id: 1000 + i },
      }));
      this.page(req, res, teams);
    });
    app.get(`${api}/orgs/:org/members/:login`, this.oauth.requireToken, (req, res) => {
      const requester = this.userOf(res);
      const org = String(req.params.org);
      if (!hasScope(res, 'read:org') || !requester.orgs.includes(org)) {
        res.redirect(302, `${this.oauth.url}${api}/orgs/${org}/public_members/${String(req.params.login)}`);
        return;
      }
      const member = [...this.users.values()].find((u) => u.login === req.params.login);
      if (member?.orgs.includes(org)) res.status(204).end();
      else notFound(res);
    });
  }

  /** Clears injected faults and page-size limits between tests. */
  reset(): void {
    this.oauth.clearFaults();
    this.maxPerPage = 100;
  }

  add(user: FakeGitHubUser): FakeGitHubUser {
    this.users.set(user.login, user);
    return user;
  }

  /** The endpoints to hand the connector (`GitHubModuleOptions.endpoints`). */
  endpoints(): { authorizationURL: string; tokenURL: string; apiURL: string } {
    return {
      authorizationURL: `${this.oauth.url}/login/oauth/authorize`,
      tokenURL: `${this.oauth.url}/login/oauth/access_token`,
      apiURL: `${this.oauth.url}${this.apiPrefix}`,
    };
  }

  /**
   * Options pointing passport-github2 at this fake (user, emails and org scopes), with its state
   * check on, as the README asks: without it passport-oauth2 checks no state.
   */
  passportGitHub2Options(callbackURL: string): PassportGitHub2Options {
    const endpoints = this.endpoints();
    return {
      clientID: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      callbackURL,
      authorizationURL: endpoints.authorizationURL,
      tokenURL: endpoints.tokenURL,
      userProfileURL: `${endpoints.apiURL}/user`,
      userEmailURL: `${endpoints.apiURL}/user/emails`,
      scope: ['user:email', 'read:org'],
      // passport-oauth2 keeps the state in the session with `true`; the types only know a string.
      state: true as unknown as string,
    };
  }

  /** `host:port`, for `hostName` in Enterprise mode. */
  hostName(): string {
    return new URL(this.oauth.url).host;
  }

  listen(): Promise<string> {
    return this.oauth.listen();
  }

  close(): Promise<void> {
    return this.oauth.close();
  }

  private userOf(res: Response): FakeGitHubUser {
    const { login } = res.locals.grant as Grant;
    const user = this.users.get(login);
    if (!user) throw new Error(`fake GitHub has no user ${login}`);
    return user;
  }

  private page(req: Request, res: Response, items: readonly unknown[]): void {
    const perPage = Math.min(intParam(req.query.per_page, 30), 100, this.maxPerPage);
    const page = intParam(req.query.page, 1);
    const { items: slice, last } = pageOf(items, page, perPage);
    const link = linkHeader(new URL(req.originalUrl, this.oauth.url), page, last);
    if (link) res.set('link', link);
    res.json(slice);
  }
}

function hasScope(res: Response, ...accepted: string[]): boolean {
  const granted = (res.locals.grant as Grant).scope.split(/[ ,]+/);
  return accepted.some((s) => granted.includes(s));
}

function notFound(res: Response): void {
  res.status(404).json({ message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
}
