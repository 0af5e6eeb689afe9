/**
 * A fake OpenShift cluster (API server and OAuth server on one TLS origin, as a CA made in the
 * test signs it): `/.well-known/oauth-authorization-server`, `/oauth/authorize`, `/oauth/token`
 * (400 `invalid_grant`, 24-hour tokens, no refresh tokens), and
 * `/apis/user.openshift.io/v1/users/~` answering a `user.openshift.io/v1` User, or a 401 Status.
 */
import type { Response } from 'express';
import { OAuthFake, type Grant, type TlsMaterial } from '../platform.js';

export interface FakeOpenShiftUser {
  name: string;
  uid: string;
  fullName: string;
  groups: string[];
}

export const CLIENT_ID = 'dexpress';
export const CLIENT_SECRET = 'openshift-oauthclient-secret';

export class OpenShiftFake {
  readonly oauth: OAuthFake;
  readonly users = new Map<string, FakeOpenShiftUser>();

  /** Over TLS with `tls`; plain HTTP without (for browsers that cannot trust a test CA). */
  constructor(tls?: TlsMaterial) {
    this.oauth = new OAuthFake({
      clientID: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      clientAuth: 'either',
      tokenError: (res, error, description) => res.status(error === 'invalid_client' ? 401 : 400).json({ error, error_description: description }),
      unauthorized: (res) =>
        res.status(401).json({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }),
      accessTokenLifetime: 86400,
      refreshTokens: false,
      ...(tls ? { tls } : {}),
    });
    const app = this.oauth.app;
    app.get('/.well-known/oauth-authorization-server', (req, res) => {
      const base = this.oauth.url;
      res.json({
        issuer: base,
        authorization_endpoint: `${base}/oauth/authorize`,
        token_endpoint: `${base}/oauth/token`,
        scopes_supported: ['user:check-access', 'user:full', 'user:info', 'user:list-projects', 'user:list-scoped-projects'],
        response_types_supported: ['code', 'token'],
        grant_types_supported: ['authorization_code', 'implicit'],
        code_challenge_methods_supported: ['plain', 'S256'],
      });
    });
    app.get('/oauth/authorize', this.oauth.authorize);
    app.post('/oauth/token', ...this.oauth.token);
    app.get('/apis/user.openshift.io/v1/users/~', this.oauth.requireToken, (req, res) => {
      const u = this.userOf(res);
      res.json({
        kind: 'User',
        apiVersion: 'user.openshift.io/v1',
        metadata: { name: u.name, uid: u.uid, resourceVersion: '1234', creationTimestamp: '2024-01-01T00:00:00Z' },
        fullName: u.fullName,
        identities: [`htpasswd:${u.name}`],
        groups: u.groups,
      });
    });
  }

  add(user: FakeOpenShiftUser): FakeOpenShiftUser {
    this.users.set(user.name, user);
    return user;
  }

  listen(): Promise<string> {
    return this.oauth.listen();
  }

  close(): Promise<void> {
    return this.oauth.close();
  }

  private userOf(res: Response): FakeOpenShiftUser {
    const { login } = res.locals.grant as Grant;
    const user = this.users.get(login);
    if (!user) throw new Error(`fake OpenShift has no user ${login}`);
    return user;
  }
}
