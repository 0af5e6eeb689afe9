/**
 * Token exchange (RFC 8693) and the device flow (RFC 8628) held against Dex's handlers
 * (server/grants/tokenexchange.go, server/grants/devicecode.go, server/device/device.go), with a
 * real `oidc-provider` upstream whose tokens the `oidc` connector verifies.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import * as jose from 'jose';
import * as client from 'openid-client';
import { encodeSubject } from '../../lib/tokens/subject.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { DEVICE_GRANT, enterUserCode, pollOnce } from '../helpers/device.js';
import { basicAuth, getPage, postForm } from '../helpers/http.js';
import { browse, discover, verifyIdToken } from '../helpers/rp.js';
import { CLIENT_ID as GITLAB_CLIENT_ID, CLIENT_SECRET as GITLAB_CLIENT_SECRET, GitLabFake } from '../fakes/gitlab/index.js';
import { answerInteractions, startOidcProvider, type RunningOidcProvider } from '../servers/oidc-provider.js';
import { upstreamUsers } from '../strategies/oidc/users.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

const clock = frozenClock(Date.now());
let op: RunningOidcProvider;
let otherOp: RunningOidcProvider;
let broker: TestBroker;
const gitlab = new GitLabFake();
/** The upstream's JWKS endpoint failing: every answer is a 503. */
let failingKeys: Server;
let upstream: { idToken: string; accessToken: string; otherAudienceIdToken: string; otherIssuerIdToken: string };

/** Logs `user` in at an upstream provider directly, as a client app would, and returns its tokens. */
async function upstreamTokens(provider: RunningOidcProvider, id: string, secret: string, user: string): Promise<{ idToken: string; accessToken: string }> {
  const redirectURI = `${broker.issuer}/callback`;
  const config = await discover(provider.issuer, { id, secret, redirectURI }, 'basic');
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectURI,
    scope: 'openid profile email groups',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'direct',
  });
  const { landed } = await browse(url.toString(), redirectURI, { onPage: answerInteractions(provider.issuer, user) });
  const tokens = await client.authorizationCodeGrant(config, landed!, { pkceCodeVerifier: verifier, expectedState: 'direct' });
  return { idToken: tokens.id_token!, accessToken: tokens.access_token };
}

beforeAll(async () => {
  const otherApp = {
    client_id: 'other-app',
    client_secret: 'other-app-secret',
    redirect_uris: ['http://127.0.0.1/dex/callback'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    application_type: 'native',
  };
  op = await startOidcProvider({ users: upstreamUsers, redirectURIs: ['http://127.0.0.1/dex/callback'], extraClients: [otherApp] });
  otherOp = await startOidcProvider({ users: upstreamUsers, redirectURIs: ['http://127.0.0.1/dex/callback'] });
  await gitlab.listen();
  gitlab.add({ id: 42, username: 'alice', name: 'Alice Example', email: 'alice@example.com', confirmedAt: '2024-01-02T03:04:05Z', groups: [] });
  failingKeys = createServer((_req, res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable'));
  await new Promise<void>((resolve) => failingKeys.listen(0, '127.0.0.1', resolve));
  const cfg = { issuer: op.issuer, clientID: op.clientID, clientSecret: op.clientSecret, scopes: ['profile', 'email', 'groups'], insecureEnableGroups: true };
  broker = await startBroker(
    {
      oauth2: { skipApprovalScreen: true },
      connectors: [
        { type: 'oidc', id: 'upstream', name: 'Upstream OP', config: cfg },
        { type: 'oidc', id: 'userinfo', name: 'Upstream OP (userinfo)', config: { ...cfg, getUserInfo: true } },
        { type: 'oidc', id: 'web-only', name: 'Web only', config: cfg, grantTypes: ['authorization_code'] },
        {
          type: 'oidc',
          id: 'down',
          name: 'Down OP',
          config: { ...cfg, providerDiscoveryOverrides: { jwksURL: `http://127.0.0.1:${(failingKeys.address() as AddressInfo).port}/jwks` } },
        },
        { type: 'gitlab', id: 'gitlab', name: 'GitLab', config: { baseURL: gitlab.oauth.url, clientID: GITLAB_CLIENT_ID, clientSecret: GITLAB_CLIENT_SECRET } },
        { type: 'mockCallback', id: 'mock', name: 'Example' },
        { type: 'mockCallback', id: 'mock-empty-grants', name: 'Example 2', grantTypes: [] },
        { type: 'mockPassword', id: 'mockpw', name: 'Mock password', config: { username: 'kilgore', password: 'trout' } },
      ],
      staticClients: [
        { id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], name: 'Example App' },
        { id: 'mock-only', secret: 'mock-only-secret', redirectURIs: [TEST_CLIENT.redirectURI], allowedConnectors: ['mock'] },
        { id: 'kubectl', public: true, name: 'Kubernetes' },
        { id: 'any-connector', secret: 'any-secret', redirectURIs: [TEST_CLIENT.redirectURI], allowedConnectors: [] },
      ],
    },
    { now: clock },
  );
  const alice = await upstreamTokens(op, op.clientID, op.clientSecret, 'alice');
  const other = await upstreamTokens(op, 'other-app', 'other-app-secret', 'alice');
  const elsewhere = await upstreamTokens(otherOp, otherOp.clientID, otherOp.clientSecret, 'alice');
  upstream = { ...alice, otherAudienceIdToken: other.idToken, otherIssuerIdToken: elsewhere.idToken };
});

afterAll(async () => {
  await broker?.close();
  await op?.close();
  await otherOp?.close();
  await gitlab.close();
  failingKeys?.close();
});

function exchange(form: Record<string, string>, auth: Record<string, string> = basicAuth()) {
  return postForm(`${broker.issuer}/token`, { grant_type: EXCHANGE, connector_id: 'upstream', subject_token_type: ID_TOKEN, ...form }, auth);
}

describe('token exchange with an oidc-provider upstream', () => {
  test('an upstream ID token for any client of the provider is traded, as Dex (SkipClientIDCheck) does', async () => {
    for (const subjectToken of [upstream.idToken, upstream.otherAudienceIdToken]) {
      const res = await exchange({ subject_token: subjectToken, scope: 'openid email groups', requested_token_type: ID_TOKEN });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ issued_token_type: ID_TOKEN, token_type: 'bearer' });
      expect(res.body.refresh_token).toBeUndefined();
      const claims = await verifyIdToken(broker.issuer, res.body.access_token as string);
      expect(claims).toMatchObject({ sub: encodeSubject('alice', 'upstream'), aud: TEST_CLIENT.id, email: 'alice@example.org', groups: ['admins', 'devs'] });
    }
  });

  test('an ID token from another issuer, signed by an unknown key, or expired is access_denied (401), as in Dex', async () => {
    const { privateKey } = await jose.generateKeyPair('RS256');
    const unknownKey = await new jose.SignJWT({ email: 'alice@example.org', email_verified: true })
      .setProtectedHeader({ alg: 'RS256', kid: 'not-the-providers' })
      .setSubject('alice')
      .setIssuer(op.issuer)
      .setAudience(op.clientID)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    for (const subjectToken of [upstream.otherIssuerIdToken, unknownKey]) {
      const res = await exchange({ subject_token: subjectToken });
      expect({ status: res.status, body: res.body }).toEqual({ status: 401, body: { error: 'access_denied', error_description: 'The subject token was not accepted.' } });
    }
    // The upstream's ID tokens live an hour: three hours on, the genuine one has expired.
    jest.useFakeTimers({ doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'], now: Date.now() + 3 * 3600_000 });
    try {
      const res = await exchange({ subject_token: upstream.idToken });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('access_denied');
    } finally {
      jest.useRealTimers();
    }
  });

  test('an upstream access token needs getUserInfo, and is then checked at the userinfo endpoint', async () => {
    const refused = await exchange({ subject_token: upstream.accessToken, subject_token_type: ACCESS_TOKEN });
    expect({ status: refused.status, error: refused.body.error }).toEqual({ status: 401, error: 'access_denied' });
    const res = await exchange({ subject_token: upstream.accessToken, subject_token_type: ACCESS_TOKEN, connector_id: 'userinfo', scope: 'openid email' });
    expect(res.status).toBe(200);
    expect(res.body.issued_token_type).toBe(ACCESS_TOKEN);
    expect(jose.decodeJwt(res.body.access_token as string)).toMatchObject({ sub: encodeSubject('alice', 'userinfo'), email: 'alice@example.org' });
    const wrong = await exchange({ subject_token: 'not-a-token', subject_token_type: ACCESS_TOKEN, connector_id: 'userinfo' });
    expect({ status: wrong.status, error: wrong.body.error }).toEqual({ status: 401, error: 'access_denied' });
  });

  test("the upstream failing (its keys answer 503) is 503 temporarily_unavailable, not a refused token", async () => {
    const res = await exchange({ subject_token: upstream.idToken, connector_id: 'down' });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: 'Down OP cannot be reached right now.' });
  });

  test('gitlab: a token GitLab refuses is access_denied (401); GitLab failing is 503', async () => {
    const { access_token: good } = gitlab.oauth.issue('alice', 'read_user openid') as { access_token: string };
    const ok = await exchange({ subject_token: good, subject_token_type: ACCESS_TOKEN, connector_id: 'gitlab' });
    expect(ok.status).toBe(200);
    const refused = await exchange({ subject_token: 'nope', subject_token_type: ACCESS_TOKEN, connector_id: 'gitlab' });
    expect({ status: refused.status, error: refused.body.error }).toEqual({ status: 401, error: 'access_denied' });
    const idToken = await exchange({ subject_token: good, subject_token_type: ID_TOKEN, connector_id: 'gitlab' });
    expect({ status: idToken.status, error: idToken.body.error }).toEqual({ status: 401, error: 'access_denied' });
    gitlab.oauth.fail('/api/v4/user', { status: 502, body: 'Bad Gateway' });
    try {
      const down = await exchange({ subject_token: good, subject_token_type: ACCESS_TOKEN, connector_id: 'gitlab' });
      expect({ status: down.status, error: down.body.error }).toEqual({ status: 503, error: 'temporarily_unavailable' });
    } finally {
      gitlab.oauth.clearFaults();
    }
  });

  test('an empty requested_token_type or scope is read as absent, as Dex reads the form: an access token for openid', async () => {
    for (const form of [{ requested_token_type: '' }, { scope: '' }, { scope: ' ' }]) {
      const res = await exchange({ subject_token: upstream.idToken, ...form });
      expect(res.status).toBe(200);
      expect(res.body.issued_token_type).toBe(ACCESS_TOKEN);
      expect(jose.decodeJwt(res.body.access_token as string)).toMatchObject({ sub: encodeSubject('alice', 'upstream'), scope: 'openid' });
    }
  });

  test('scope is checked as at /auth: an unknown scope or an untrusted peer audience is invalid_scope', async () => {
    for (const scope of ['openid bogus', 'openid audience:server:client_id:mock-only']) {
      const res = await exchange({ subject_token: upstream.idToken, scope });
      expect({ status: res.status, error: res.body.error }).toEqual({ status: 400, error: 'invalid_scope' });
    }
  });

  test('connectors without token exchange, or whose grantTypes or the client leave it out, are refused before the token is read', async () => {
    const cases: [Record<string, string>, Record<string, string>, string][] = [
      [{ connector_id: 'mockpw' }, basicAuth(), 'invalid_request'],
      [{ connector_id: 'web-only' }, basicAuth(), 'unauthorized_client'],
      [{ connector_id: 'upstream' }, basicAuth('mock-only', 'mock-only-secret'), 'unauthorized_client'],
    ];
    for (const [form, auth, error] of cases) {
      const res = await exchange({ subject_token: upstream.idToken, ...form }, auth);
      expect({ status: res.status, error: res.body.error }).toEqual({ status: 400, error });
    }
  });

  test('allowedConnectors: [] allows every connector and grantTypes: [] every grant, as Dex reads an empty list', async () => {
    const res = await exchange({ subject_token: upstream.idToken }, basicAuth('any-connector', 'any-secret'));
    expect(res.status).toBe(200);
    const mock = await exchange({ subject_token: 'anything', connector_id: 'mock-empty-grants' });
    expect(mock.status).toBe(200);
    const auth = new URL(`${broker.issuer}/auth`);
    auth.search = new URLSearchParams({ client_id: 'any-connector', redirect_uri: TEST_CLIENT.redirectURI, response_type: 'code', scope: 'openid', state: 'xyzxyzxyz' }).toString();
    const list = await getPage(auth.toString());
    expect(list.status).toBe(200);
    expect(list.body).toContain('Log in with Upstream OP');
  });
});

describe('device flow', () => {
  const deviceCode = (form: Record<string, string>, headers: Record<string, string> = {}) => postForm(`${broker.issuer}/device/code`, form, headers);

  test("/device/code answers Dex's fields: an 8-letter user code with a dash, both verification URIs, expires_in and interval", async () => {
    const res = await deviceCode({ client_id: 'kubectl', scope: 'openid email' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const userCode = res.body.user_code as string;
    expect(userCode).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(res.body).toEqual({
      device_code: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      user_code: userCode,
      verification_uri: `${broker.issuer}/device`,
      verification_uri_complete: `${broker.issuer}/device?user_code=${userCode}`,
      expires_in: 300,
      interval: 5,
    });
  });

  test('PKCE: a code_challenge without a method is plain, as in Dex; the verifier collects the tokens once, then invalid_grant', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const started = await deviceCode({ client_id: 'kubectl', scope: 'openid email', code_challenge: verifier });
    expect(started.status).toBe(200);
    const code = started.body.device_code as string;
    const poll = (extra: Record<string, string> = {}) => pollOnce(broker.issuer, code, { client_id: 'kubectl', ...extra });
    expect((await poll()).body.error).toBe('authorization_pending');
    const done = await enterUserCode(started.body.verification_uri_complete as string, { connectorName: 'Example' });
    expect(done.page?.status).toBe(200);
    clock.advance(5_000);
    expect(await poll()).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: 'Expecting parameter code_verifier in PKCE flow.' } });
    const collected = await poll({ code_verifier: verifier });
    expect(collected.status).toBe(200);
    expect(jose.decodeJwt(collected.body.id_token as string)).toMatchObject({ sub: 'Cg0wLTM4NS0yODA4OS0wEgRtb2Nr', aud: 'kubectl' });
    expect(await poll({ code_verifier: verifier })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  test('an empty code_verifier on a device code started without PKCE is read as absent, as Dex does: the tokens are collected', async () => {
    const started = await deviceCode({ client_id: 'kubectl', scope: 'openid' });
    const code = started.body.device_code as string;
    await enterUserCode(started.body.verification_uri_complete as string, { connectorName: 'Example' });
    const collected = await pollOnce(broker.issuer, code, { client_id: 'kubectl', code_verifier: '' });
    expect(collected.status).toBe(200);
    expect(collected.body.id_token).toEqual(expect.any(String));
  });

  test('a poll must name its client (RFC 8628 section 3.4); Dex answers one carrying only the device code', async () => {
    const started = await deviceCode({ client_id: 'kubectl' });
    const bare = await postForm(`${broker.issuer}/token`, { grant_type: DEVICE_GRANT, device_code: started.body.device_code as string });
    expect({ status: bare.status, error: bare.body.error }).toEqual({ status: 401, error: 'invalid_client' });
    expect((await pollOnce(broker.issuer, started.body.device_code as string, { client_id: 'kubectl' })).body.error).toBe('authorization_pending');
  });
});


