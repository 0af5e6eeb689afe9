/**
 * The `oidc` connector end to end: an openid-client relying party logs in through the broker,
 * which logs in at a real upstream provider (`oidc-provider`); then refresh through the broker,
 * token exchange at the broker's /token, refusals shown as pages, and an existing
 * passport-openidconnect strategy handed to the broker as type `oidc`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as jose from 'jose';
import * as client from 'openid-client';
// @ts-expect-error passport-openidconnect ships no type declarations
import { Strategy as OpenIDConnectStrategy } from 'passport-openidconnect';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../../helpers/broker.js';
import { browse, discover, login, startLogin, verifyIdToken } from '../../helpers/rp.js';
import { answerInteractions, startOidcProvider, type RunningOidcProvider } from '../../servers/oidc-provider.js';
import { upstreamUsers } from './users.js';

let op: RunningOidcProvider;
let broker: TestBroker;
/** Serves a JWKS whose key has the provider's `kid` but is not the provider's key. */
let impostorKeys: Server;
/** The provider reads this on every login and refresh; tests may take a user away. */
const users: Record<string, Record<string, unknown>> = structuredClone(upstreamUsers);

beforeAll(async () => {
  op = await startOidcProvider({
    users,
    redirectURIs: ['http://127.0.0.1/dex/callback'],
    extraClients: [
      {
        client_id: 'legacy',
        client_secret: 'legacy-secret',
        redirect_uris: ['http://127.0.0.1/dex/callback/legacy'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
        application_type: 'native',
      },
    ],
  });
  const upstream = { issuer: op.issuer, clientID: op.clientID, clientSecret: op.clientSecret, scopes: ['profile', 'email', 'groups', 'offline_access'] };
  // A relative callback URL resolves against the request's host: the broker's
  // `<issuer>/callback/<connector id>`, the path for handed-over strategies.
  const legacy = new OpenIDConnectStrategy(
    {
      issuer: op.issuer,
      authorizationURL: `${op.issuer}/auth`,
      tokenURL: `${op.issuer}/token`,
      userInfoURL: `${op.issuer}/me`,
      clientID: 'legacy',
      clientSecret: 'legacy-secret',
      callbackURL: '/dex/callback/legacy',
      scope: ['profile', 'email', 'groups'],
    },
    (_iss: string, uiProfile: unknown, _id: unknown, _ctx: unknown, _idt: string, _at: string, _rt: string, _p: unknown, done: (e: unknown, u?: unknown) => void) =>
      done(null, uiProfile),
  );
  const { keys } = (await (await fetch(`${op.issuer}/jwks`)).json()) as { keys: jose.JWK[] };
  const kid = keys.find((k) => k.kty === 'RSA')!.kid;
  const impostor = { ...(await jose.exportJWK((await jose.generateKeyPair('RS256', { extractable: true })).publicKey)), kid, alg: 'RS256', use: 'sig' };
  impostorKeys = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [impostor] })));
  await new Promise<void>((resolve) => impostorKeys.listen(0, '127.0.0.1', resolve));
  const impostorURL = `http://127.0.0.1:${(impostorKeys.address() as AddressInfo).port}/keys`;
  broker = await startBroker(
    {
      connectors: [
        { type: 'oidc', id: 'upstream', name: 'Upstream OP', config: { ...upstream, insecureEnableGroups: true } },
        { type: 'oidc', id: 'strict', name: 'Strict OP', config: { ...upstream, insecureEnableGroups: true, allowedGroups: ['devs'] } },
        { type: 'oidc', id: 'forged', name: 'Forged keys', config: { ...upstream, providerDiscoveryOverrides: { jwksURL: impostorURL } } },
        { type: 'oidc', id: 'legacy', name: 'Legacy OP', config: { ...upstream, clientID: 'legacy', clientSecret: 'legacy-secret', insecureEnableGroups: true } },
      ],
    },
    { passportStrategies: { legacy } },
  );
});

afterAll(async () => {
  await broker?.close();
  await op?.close();
  impostorKeys?.close();
});

const as = (user: string, connectorId = 'upstream') => ({ connectorId, onPage: answerInteractions(op.issuer, user) });

describe('login through the broker', () => {
  test("the broker's ID token carries the upstream user, with Dex's sub", async () => {
    const { claims } = await login(broker.issuer, as('alice'));
    expect(claims).toMatchObject({
      iss: broker.issuer,
      aud: TEST_CLIENT.id,
      sub: encodeSubject('alice', 'upstream'),
      name: 'Alice Liddell',
      preferred_username: 'alice',
      email: 'alice@example.org',
      email_verified: true,
      groups: ['admins', 'devs'],
    });
  });

  test('groups in each shape reach the client', async () => {
    expect((await login(broker.issuer, as('carol'))).claims.groups).toEqual(['admins']);
    expect((await login(broker.issuer, as('dave'))).claims.groups).toEqual(['admins', 'ops']);
  });

  test('a user without email_verified is refused with a 403 page', async () => {
    const { page, landed } = await startLogin(broker.issuer, as('erin'));
    expect(landed).toBeUndefined();
    expect(page?.status).toBe(403);
    expect(page?.body).toContain('email_verified');
  });

  test('an upstream ID token that fails its signature check is refused with a page, not a 500', async () => {
    const { page } = await startLogin(broker.issuer, as('alice', 'forged'));
    expect(page?.status).toBe(401);
    expect(page?.body).toMatch(/bad signature/);
  });

  test('a user outside allowedGroups is refused with a 403 page', async () => {
    const { page } = await startLogin(broker.issuer, as('carol', 'strict'));
    expect(page?.status).toBe(403);
    expect(page?.body).toMatch(/not a member/);
  });
});

describe('refresh through the broker', () => {
  test('the refresh grant rebuilds the identity from the upstream refresh', async () => {
    const { config, tokens } = await login(broker.issuer, as('alice'));
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    const claims = await verifyIdToken(broker.issuer, refreshed.id_token!);
    expect(claims).toMatchObject({ sub: encodeSubject('alice', 'upstream'), email: 'alice@example.org', groups: ['admins', 'devs'] });
  });

  test('when the upstream no longer knows the user, the client gets invalid_grant', async () => {
    const { config, tokens } = await login(broker.issuer, as('dave'));
    const dave = users.dave!;
    delete users.dave;
    try {
      await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    } finally {
      users.dave = dave;
    }
  });
});

describe('token exchange at the broker', () => {
  async function upstreamIdToken(user: string): Promise<string> {
    // The client logs in at the upstream itself, then trades the upstream ID token.
    const upstream = await discover(op.issuer, { id: op.clientID, secret: op.clientSecret, redirectURI: `${broker.issuer}/callback` }, 'basic');
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(upstream, {
      redirect_uri: `${broker.issuer}/callback`,
      scope: 'openid profile email groups',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'direct',
    });
    const { landed } = await browse(url.toString(), `${broker.issuer}/callback`, { onPage: answerInteractions(op.issuer, user) });
    const tokens = await client.authorizationCodeGrant(upstream, landed!, { pkceCodeVerifier: verifier, expectedState: 'direct' });
    return tokens.id_token!;
  }

  async function exchange(subjectToken: string, extra: Record<string, string> = {}): Promise<Response> {
    return fetch(`${broker.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${TEST_CLIENT.id}:${TEST_CLIENT.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: subjectToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        connector_id: 'upstream',
        scope: 'openid email groups',
        requested_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        ...extra,
      }).toString(),
    });
  }

  test('an upstream ID token is traded for a broker ID token', async () => {
    const res = await exchange(await upstreamIdToken('alice'));
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string>;
    expect(body.issued_token_type).toBe('urn:ietf:params:oauth:token-type:id_token');
    expect(body.refresh_token).toBeUndefined();
    const claims = await verifyIdToken(broker.issuer, body.access_token!);
    expect(claims).toMatchObject({ sub: encodeSubject('alice', 'upstream'), email: 'alice@example.org', groups: ['admins', 'devs'] });
  });

  test('a forged upstream ID token is refused with access_denied', async () => {
    const genuine = await upstreamIdToken('alice');
    const [h, p, s] = genuine.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url')}.${s}`;
    const res = await exchange(forged);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('access_denied');
  });
});

describe('an existing passport-openidconnect setup handed to the broker', () => {
  test('logs in through the broker as type oidc', async () => {
    const { claims } = await login(broker.issuer, as('alice', 'legacy'));
    expect(claims).toMatchObject({ sub: encodeSubject('alice', 'legacy'), email: 'alice@example.org', email_verified: true, groups: ['admins', 'devs'] });
  });
});
