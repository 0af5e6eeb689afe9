/**
 * Existing OpenID Connect Passport setups handed to the broker as type `oidc`: what the real
 * `passport-openidconnect` and `openid-client/passport` strategies hand to `success()`, after a
 * real login at `oidc-provider`, mapped by `oidc.fromPassportUser`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import * as client from 'openid-client';
import { Strategy as OpenIDClientStrategy } from 'openid-client/passport';
// @ts-expect-error passport-openidconnect ships no type declarations
import { Strategy as OpenIDConnectStrategy } from 'passport-openidconnect';
import { errorMessage } from '../../../lib/errors.js';
import { oidc, type OidcConfig } from '../../../strategies/oidc/index.js';
import { OidcStrategy } from '../../../strategies/oidc/strategy.js';
import { CookieJar, signIn, startOidcProvider, type RunningOidcProvider } from '../../servers/oidc-provider.js';
import { upstreamUsers } from './users.js';

let op: RunningOidcProvider;
let app: Server;
let appURL: string;
let config: OidcConfig;
const authenticators = new passport.Passport();

beforeAll(async () => {
  const web = express();
  web.use(session({ secret: 'test', resave: false, saveUninitialized: true }));
  web.get('/login/:kind', (req, res, next) => {
    const prompt = typeof req.query.prompt === 'string' ? { prompt: req.query.prompt } : {};
    authenticators.authenticate(req.params.kind, { session: false, ...prompt })(req, res, next);
  });
  web.get('/cb/:kind', (req, res, next) => authenticators.authenticate(req.params.kind, { session: false })(req, res, next), async (req, res) => {
    try {
      res.json({ user: req.user, identity: await oidc.fromPassportUser(req.user, config) });
    } catch (err) {
      res.status(403).json({ error: errorMessage(err) });
    }
  });
  app = createServer(web);
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  appURL = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;

  op = await startOidcProvider({
    users: upstreamUsers,
    redirectURIs: [`${appURL}/cb/openid-client`],
    // passport-openidconnect sends the secret in the form and no PKCE.
    extraClients: [
      {
        client_id: 'legacy',
        client_secret: 'legacy-secret',
        redirect_uris: [`${appURL}/cb/openidconnect`, `${appURL}/cb/openidconnect-userinfo`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
  });
  config = { issuer: op.issuer, clientID: op.clientID, clientSecret: op.clientSecret, insecureEnableGroups: true, scopes: ['profile', 'email', 'groups', 'offline_access'] };

  const legacy = (kind: string) => ({
    issuer: op.issuer,
    authorizationURL: `${op.issuer}/auth`,
    tokenURL: `${op.issuer}/token`,
    userInfoURL: `${op.issuer}/me`,
    clientID: 'legacy',
    clientSecret: 'legacy-secret',
    callbackURL: `${appURL}/cb/${kind}`,
    scope: ['profile', 'email', 'groups'],
  });
  type Done = (err: unknown, user?: unknown) => void;
  // The common verify callback: the profile built from the ID token (no raw claims).
  authenticators.use('openidconnect', new OpenIDConnectStrategy(legacy('openidconnect'), (_iss: string, profile: unknown, done: Done) => done(null, profile)));
  // Nine arguments: passport-openidconnect reads userinfo and hands its profile with `_json`.
  authenticators.use(
    'openidconnect-userinfo',
    new OpenIDConnectStrategy(
      legacy('openidconnect-userinfo'),
      (_iss: string, uiProfile: unknown, _idProfile: unknown, _ctx: unknown, _idt: string, _at: string, _rt: string, _params: unknown, done: Done) =>
        done(null, uiProfile),
    ),
  );
  const discovered = await client.discovery(new URL(op.issuer), op.clientID, op.clientSecret, client.ClientSecretBasic(op.clientSecret), {
    execute: [client.allowInsecureRequests],
  });
  authenticators.use(
    'openid-client',
    new OpenIDClientStrategy(
      { name: 'openid-client', config: discovered, scope: 'openid profile email groups offline_access', callbackURL: `${appURL}/cb/openid-client` },
      (tokens, done) => done(null, tokens),
    ),
  );
});

afterAll(async () => {
  await op.close();
  app.closeAllConnections();
  await new Promise((resolve) => app.close(resolve));
});

/** Logs in through the app's Passport strategy `kind` and returns what the app answered. */
async function passportLogin(kind: string, user: string, query = ''): Promise<{ status: number; body: Record<string, unknown> }> {
  const jar = new CookieJar();
  const callback = await signIn(`${appURL}/login/${kind}${query}`, user, `${appURL}/cb/`, jar);
  const res = await jar.fetch(callback);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('passport-openidconnect', () => {
  test('its userinfo profile (claims in _json) maps to the same identity as the oidc connector', async () => {
    const { status, body } = await passportLogin('openidconnect-userinfo', 'alice');
    expect(status).toBe(200);
    expect(body.identity).toEqual({
      userId: 'alice',
      username: 'Alice Liddell',
      preferredUsername: 'alice',
      email: 'alice@example.org',
      emailVerified: true,
      groups: ['admins', 'devs'],
    });
  });

  test('its default profile carries no email_verified, so the email is refused', async () => {
    const { status, body } = await passportLogin('openidconnect', 'alice');
    expect(status).toBe(403);
    expect(body.error).toMatch(/"email_verified"/);
  });

  test('with insecureSkipEmailVerified the default profile maps', () => {
    const profile = { id: 'alice', displayName: 'Alice Liddell', username: 'alice', emails: [{ value: 'alice@example.org' }] };
    expect(oidc.fromPassportUser(profile, { ...config, insecureSkipEmailVerified: true })).toEqual({
      userId: 'alice',
      username: 'Alice Liddell',
      preferredUsername: 'alice',
      email: 'alice@example.org',
      emailVerified: true,
      groups: [],
    });
  });
});

describe('openid-client/passport', () => {
  test('its token response maps to the identity and keeps the refresh token for the broker', async () => {
    const { status, body } = await passportLogin('openid-client', 'dave');
    expect(status).toBe(200);
    expect(body.identity).toMatchObject({ userId: 'dave', username: 'Dave Objects', email: 'dave@example.org', emailVerified: true, groups: ['admins', 'ops'] });
  });

  test('the kept refresh token refreshes through the oidc connector', async () => {
    const { body } = await passportLogin('openid-client', 'alice', '?prompt=consent');
    const identity = body.identity as Parameters<OidcStrategy['refresh']>[0];
    expect((identity.connectorData as { refreshToken: string }).refreshToken).not.toBe('');
    const refreshed = await new OidcStrategy(config, 'legacy').refresh(identity);
    expect(refreshed.userId).toBe('alice');
  });

  test('bare claims (tokens.claims()) map too, and fail closed without email_verified', () => {
    const claims = { sub: 'erin', name: 'Erin Erratic', email: 'erin@example.org', groups: ['devs'] };
    expect(() => oidc.fromPassportUser(claims, config)).toThrow(/"email_verified"/);
    expect(oidc.fromPassportUser({ ...claims, email_verified: true }, config)).toMatchObject({ userId: 'erin', emailVerified: true });
  });
});
