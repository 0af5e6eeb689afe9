/**
 * Upstream answers are untrusted input: the OpenID Connect connectors (`oidc`, `google`,
 * `linkedin`), through the broker, against fakes answering malformed or hostile things: a token
 * endpoint answering HTML, null, an array or an OAuth error with status 200; an ID token missing,
 * not a string, signed with a key not in the JWKS, unsigned (`alg: none`), for another audience,
 * issuer or nonce, or expired; userinfo for another `sub`, of the wrong types, or HTML; discovery
 * documents and JWKS of the wrong shape. A login ends on an error page without internals and
 * without a code; a refresh ends in an OAuth error (503 keeping the broker's refresh token for an
 * upstream fault, or invalid_grant), never a 500; a bad discovery document fails the start-up
 * with an error naming it; the broker serves the next good login.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as jose from 'jose';
import { UpstreamError } from '../../lib/errors.js';
import { FakeGoogle } from '../fakes/google/index.js';
import { FakeLinkedIn } from '../fakes/linkedin/index.js';
import { FakeIdp } from '../fakes/oidc/idp.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { login } from '../helpers/rp.js';
import { expectErrorPage, expectRefreshRefused, HTML_200, refreshAt } from './upstream-checks.js';

/** Runs `run` with the fake's faults in place, then clears them. */
async function faulty<T>(fake: FakeIdp, setUp: () => void, run: () => Promise<T>): Promise<T> {
  setUp();
  try {
    return await run();
  } finally {
    fake.clearFaults();
    fake.tamper = {};
    fake.signWith = undefined;
  }
}

/** The ID token of a token answer, re-encoded unsigned (`alg: none`). */
function unsigned(body: Record<string, unknown>): Record<string, unknown> {
  return { ...body, id_token: new jose.UnsecuredJWT(jose.decodeJwt(String(body.id_token))).encode() };
}

const rewrite = (f: (body: Record<string, unknown>) => unknown) => f;

/** Token endpoint answers, each replacing or rewriting the real one. */
const TOKEN_ANSWERS: [string, { status?: number; body?: unknown; rewrite?: (body: Record<string, unknown>) => unknown }][] = [
  ['an HTML page with status 200', { body: HTML_200 }],
  ['null', { body: null }],
  ['an array', { rewrite: (b) => [b] }],
  ['an OAuth error with status 200', { body: { error: 'invalid_grant', error_description: 'Bad Request' } }],
  ['no id_token', { rewrite: ({ id_token: _, ...b }) => b }],
  ['a numeric id_token', { rewrite: (b) => ({ ...b, id_token: 42 }) }],
  ['an id_token that is not a JWT', { rewrite: (b) => ({ ...b, id_token: 'not-a-jwt' }) }],
  ['an unsigned id_token (alg none)', { rewrite: unsigned }],
];

/** ID tokens with a forged or wrong claim, or a key the JWKS does not hold. */
const ID_TOKEN_FAULTS: [string, (fake: FakeIdp) => Promise<void> | void][] = [
  ['signed with a key not in the JWKS', async (fake) => void (fake.signWith = (await jose.generateKeyPair('RS256')).privateKey)],
  ['for another audience', (fake) => void (fake.tamper = { aud: 'someone-else' })],
  ['from another issuer', (fake) => void (fake.tamper = { iss: 'https://evil.example' })],
  ['with another nonce', (fake) => void (fake.tamper = { nonce: 'not-the-one-sent' })],
  ['expired', (fake) => void (fake.tamper = { exp: Math.floor(Date.now() / 1000) - 3600 })],
];

/** Login and refresh faults of the token endpoint and the ID token, for one connector. */
function tokenEndpointProbes(name: string, fake: () => FakeIdp, path: string, connectorId: () => string, issuer: () => string): void {
  test.each(TOKEN_ANSWERS)(`${name}: the token endpoint answers %s: an error page`, async (_what, answer) => {
    await faulty(
      fake(),
      () => {
        if (answer.rewrite) fake().rewriteTokens = answer.rewrite;
        else fake().fail(path, { status: answer.status ?? 200, body: answer.body });
      },
      () => expectErrorPage(issuer(), { connectorId: connectorId() }),
    );
  });

  test.each(ID_TOKEN_FAULTS)(`${name}: an ID token %s: an error page`, async (_what, setUp) => {
    await setUp(fake());
    await faulty(fake(), () => undefined, () => expectErrorPage(issuer(), { connectorId: connectorId() }));
  });

  test(`${name}: an absurd expires_in: the login works (the token taken as expiring now)`, async () => {
    const { claims } = await faulty(
      fake(),
      () => void (fake().rewriteTokens = rewrite((b) => ({ ...b, expires_in: 1e300 }))),
      () => login(issuer(), { connectorId: connectorId() }),
    );
    expect(typeof claims.sub).toBe('string');
  });
}

/** Refresh faults for one connector; `expire` makes the next login's upstream token due for renewal. */
function refreshProbes(name: string, fake: () => FakeIdp, path: string, connectorId: () => string, issuer: () => string): void {
  test.each([
    ['an HTML page with status 200', { body: HTML_200 }],
    ['null', { body: null }],
    ['an OAuth error with status 200', { body: { error: 'invalid_grant' } }],
    ['an array', { rewrite: (b: Record<string, unknown>) => [b] }],
    ['a numeric id_token', { rewrite: (b: Record<string, unknown>) => ({ ...b, id_token: 42 }) }],
    ['an unsigned id_token', { rewrite: unsigned }],
    ['an ID token for another audience', { tamper: { aud: 'someone-else' } }],
  ] as [string, { body?: unknown; rewrite?: (b: Record<string, unknown>) => unknown; tamper?: Record<string, unknown> }][])(
    `${name}: a refresh answered with %s: an OAuth error`,
    async (_what, answer) => {
      const { tokens } = await login(issuer(), { connectorId: connectorId() });
      await faulty(
        fake(),
        () => {
          if (answer.rewrite) fake().rewriteTokens = answer.rewrite;
          else if (answer.tamper) fake().tamper = answer.tamper;
          else fake().fail(path, { status: 200, body: answer.body });
        },
        () => expectRefreshRefused(issuer(), tokens.refresh_token!),
      );
    },
  );

  test(`${name}: a refresh answered with an absurd expires_in: the new tokens are kept, and the next refresh works`, async () => {
    const { tokens } = await login(issuer(), { connectorId: connectorId() });
    const answer = await faulty(
      fake(),
      () => void (fake().rewriteTokens = rewrite((b) => ({ ...b, expires_in: 1e300 }))),
      () => refreshAt(issuer(), tokens.refresh_token!),
    );
    expect(answer.status).toBe(200);
    // Refusing the answer would have lost the login where the provider rotates its refresh
    // tokens: it spent the one the broker held when it answered.
    expect((await refreshAt(issuer(), String(answer.body.refresh_token))).status).toBe(200);
  });

  test(`${name}: a refresh answered with an HTML page: 503, the broker's refresh token kept`, async () => {
    const { tokens } = await login(issuer(), { connectorId: connectorId() });
    const answer = await faulty(fake(), () => fake().fail(path, { status: 200, body: HTML_200 }), () => refreshAt(issuer(), tokens.refresh_token!));
    expect(answer).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable' } });
    expect((await refreshAt(issuer(), tokens.refresh_token!)).status).toBe(200);
  });
}

/** A generic OpenID provider for the `oidc` connector. */
function genericIdp(): FakeIdp {
  return new FakeIdp({
    clientID: 'upstream-client',
    clientSecret: 'upstream-secret',
    paths: { discovery: '/.well-known/openid-configuration', authorize: '/authorize', token: '/token', userinfo: '/userinfo', jwks: '/jwks' },
    issuer: (base) => base,
    discoveryExtra: {
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['S256'],
    },
    clientAuth: 'either',
    accessTokenLifetime: 3600,
    refreshTokens: true,
    offline: () => true,
    rotateRefreshTokens: true,
    tokenError: (res, status, error) => res.status(status).json({ error }),
    userinfoUnauthorized: (res) => res.status(401).set('www-authenticate', 'Bearer error="invalid_token"').json({ error: 'invalid_token' }),
  });
}

describe('oidc', () => {
  const fake = genericIdp();
  let broker: TestBroker;
  let discovery: Record<string, unknown>;
  const upstream = () => ({ issuer: fake.url, clientID: fake.options.clientID, clientSecret: fake.options.clientSecret, scopes: ['profile', 'email', 'offline_access'] });

  beforeAll(async () => {
    await fake.listen();
    fake.users.set('alice', { sub: 'u-alice', name: 'Alice', email: 'alice@example.com', email_verified: true });
    fake.approveAs = 'alice';
    discovery = (await (await fetch(`${fake.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    broker = await startBroker({
      connectors: [
        { type: 'oidc', id: 'oidc', name: 'Upstream', config: upstream() },
        { type: 'oidc', id: 'userinfo', name: 'Upstream', config: { ...upstream(), getUserInfo: true } },
      ],
    });
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  tokenEndpointProbes('oidc', () => fake, '/token', () => 'oidc', () => broker.issuer);
  refreshProbes('oidc', () => fake, '/token', () => 'oidc', () => broker.issuer);

  test.each([
    ['another sub', { sub: 'u-mallory', name: 'Mallory', email: 'mallory@example.com', email_verified: true }],
    ['a numeric sub', { sub: 42, email: 'alice@example.com', email_verified: true }],
    ['null', null],
    ['an array', [{ sub: 'u-alice' }]],
    ['an HTML page', HTML_200],
    ['a string email_verified and an object email', { sub: 'u-alice', email: { value: 'alice@example.com' }, email_verified: 'true' }],
  ])('userinfo answers %s: an error page', async (_what, body) => {
    await faulty(fake, () => fake.fail('/userinfo', { status: 200, body }), () => expectErrorPage(broker.issuer, { connectorId: 'userinfo' }));
  });

  test('a refresh whose userinfo answers another sub: invalid_grant', async () => {
    const { tokens } = await login(broker.issuer, { connectorId: 'userinfo' });
    const status = await faulty(
      fake,
      () => fake.fail('/userinfo', { status: 200, body: { sub: 'u-mallory', email: 'mallory@example.com', email_verified: true } }),
      () => expectRefreshRefused(broker.issuer, tokens.refresh_token!),
    );
    expect(status).toBe(400);
  });

  test.each([
    ['an HTML page', HTML_200],
    ['an object without keys', { keys: 'none' }],
    ['null', null],
    ['a key of the wrong types', 'wrong types'],
  ])('a JWKS that is %s at the first login: a 502 page, the next login works', async (_what, answer) => {
    const real = (await (await fetch(`${fake.url}/jwks`)).json()) as { keys: jose.JWK[] };
    const body = answer === 'wrong types' ? { keys: real.keys.map((k) => ({ ...k, n: 42, e: true })) } : answer;
    // A broker of its own: the keys are fetched on its first login, and are not cached yet.
    const fresh = await startBroker({ connectors: [{ type: 'oidc', id: 'oidc', name: 'Upstream', config: upstream() }] });
    try {
      const page = await faulty(fake, () => fake.fail('/jwks', { status: 200, body }), () => expectErrorPage(fresh.issuer, { connectorId: 'oidc' }));
      expect(page.status).toBe(502);
      expect((await login(fresh.issuer, { connectorId: 'oidc' })).claims.email).toBe('alice@example.com');
    } finally {
      await fresh.close();
    }
  });

  test.each([
    ['no jwks_uri', { jwks_uri: undefined }, /jwks_uri/],
    ['a jwks_uri that is not a URL', { jwks_uri: 'keys please' }, /jwks_uri/],
    ['a numeric token_endpoint', { token_endpoint: 42 }, /token_endpoint/],
    ['an authorization_endpoint that is not a URL', { authorization_endpoint: '/authorize' }, /authorization_endpoint/],
    ['a string id_token_signing_alg_values_supported', { id_token_signing_alg_values_supported: 'RS256' }, /id_token_signing_alg_values_supported/],
    ['a numeric code_challenge_methods_supported', { code_challenge_methods_supported: 256 }, /code_challenge_methods_supported/],
  ])('a discovery document with %s: the start-up fails naming it', async (_what, change, named) => {
    const start = faulty(
      fake,
      () => fake.fail('/.well-known/openid-configuration', { status: 200, body: { ...discovery, ...change } }),
      () => startBroker({ connectors: [{ type: 'oidc', id: 'oidc', name: 'Upstream', config: upstream() }] }),
    );
    await expect(start).rejects.toThrow(UpstreamError);
    await expect(start).rejects.toThrow(named);
  });

  test('a discovery document that is an HTML page: the start-up fails naming discovery', async () => {
    const start = faulty(
      fake,
      () => fake.fail('/.well-known/openid-configuration', { status: 200, body: HTML_200 }),
      () => startBroker({ connectors: [{ type: 'oidc', id: 'oidc', name: 'Upstream', config: upstream() }] }),
    );
    await expect(start).rejects.toThrow(/OpenID discovery at .* (is not a JSON object|answered)/);
  });

  test('the broker still logs in and refreshes afterwards', async () => {
    const { tokens, claims } = await login(broker.issuer, { connectorId: 'userinfo' });
    expect(claims.email).toBe('alice@example.com');
    expect((await refreshAt(broker.issuer, tokens.refresh_token!)).status).toBe(200);
  });
});

describe('google', () => {
  const fake = new FakeGoogle();
  let broker: TestBroker;

  beforeAll(async () => {
    const url = await fake.listen();
    fake.users.set('alice', { sub: '1101', name: 'Alice', email: 'alice@acme.example', email_verified: true, hd: 'acme.example' });
    fake.approveAs = 'alice';
    const config = { clientID: fake.options.clientID, clientSecret: fake.options.clientSecret, issuer: url, hostedDomains: ['acme.example'] };
    broker = await startBroker({ connectors: [{ type: 'google', id: 'google', name: 'Google', config }] });
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  tokenEndpointProbes('google', () => fake, '/token', () => 'google', () => broker.issuer);
  refreshProbes('google', () => fake, '/token', () => 'google', () => broker.issuer);

  test('the broker still logs in and refreshes afterwards', async () => {
    const { tokens, claims } = await login(broker.issuer, { connectorId: 'google' });
    expect(claims.email).toBe('alice@acme.example');
    expect((await refreshAt(broker.issuer, tokens.refresh_token!)).status).toBe(200);
  });
});

describe('linkedin', () => {
  const fake = new FakeLinkedIn({ programmaticRefresh: true });
  let broker: TestBroker;

  beforeAll(async () => {
    const url = await fake.listen();
    fake.users.set('rosa', { sub: 'aBcDeF1234', name: 'Rosa Parks', email: 'rosa@example.org', email_verified: true });
    fake.approveAs = 'rosa';
    const config = { clientID: fake.options.clientID, clientSecret: fake.options.clientSecret, issuer: `${url}/oauth` };
    broker = await startBroker({ connectors: [{ type: 'linkedin', id: 'linkedin', name: 'LinkedIn', config }] });
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  tokenEndpointProbes('linkedin', () => fake, '/oauth/v2/accessToken', () => 'linkedin', () => broker.issuer);

  test.each([
    ['another sub', { sub: 'zZ9', name: 'Mallory', email: 'mallory@example.org', email_verified: true }],
    ['a numeric sub', { sub: 42, name: 'Rosa', email: 'rosa@example.org', email_verified: true }],
    ['null', null],
    ['an HTML page', HTML_200],
  ])('userinfo answers %s: an error page', async (_what, body) => {
    await faulty(fake, () => fake.fail('/v2/userinfo', { status: 200, body }), () => expectErrorPage(broker.issuer, { connectorId: 'linkedin' }));
  });

  describe('refresh (an access token due for renewal)', () => {
    beforeAll(() => void (fake.options.accessTokenLifetime = 5));
    afterAll(() => void (fake.options.accessTokenLifetime = 5_184_000));
    refreshProbes('linkedin', () => fake, '/oauth/v2/accessToken', () => 'linkedin', () => broker.issuer);

    test('a refresh whose userinfo answers another member: invalid_grant', async () => {
      const { tokens } = await login(broker.issuer, { connectorId: 'linkedin' });
      const status = await faulty(
        fake,
        () => fake.fail('/v2/userinfo', { status: 200, body: { sub: 'zZ9', email: 'mallory@example.org', email_verified: true } }),
        () => expectRefreshRefused(broker.issuer, tokens.refresh_token!),
      );
      expect(status).toBe(400);
    });
  });

  test('the broker still logs in afterwards', async () => {
    const { claims } = await login(broker.issuer, { connectorId: 'linkedin' });
    expect(claims.email).toBe('rosa@example.org');
  });
});
