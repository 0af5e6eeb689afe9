/**
 * The `oidc` connector against a real OpenID provider (`oidc-provider` on loopback): login,
 * mapping of each claim shape, refusals, refresh and token exchange.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as jose from 'jose';
import type { BrokerAuthenticateOptions } from '../../../lib/connector.js';
import { AccessDeniedError, RefreshFailedError, UpstreamError } from '../../../lib/errors.js';
import type { Identity } from '../../../lib/identity.js';
import { oidc, type OidcConfig } from '../../../strategies/oidc/index.js';
import { OidcStrategy, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_ID_TOKEN } from '../../../strategies/oidc/strategy.js';
import { signIn, startOidcProvider, type RunningOidcProvider } from '../../servers/oidc-provider.js';
import { brokerOptions, drive, expectOutcome, queryOf, type Outcome } from './drive.js';
import { upstreamUsers } from './users.js';

const CALLBACK = 'http://127.0.0.1:9/dex/callback';
const context = { id: 'up', name: 'Up', issuer: 'http://127.0.0.1:9/dex', callbackURL: CALLBACK, logger: console };
let op: RunningOidcProvider;
let base: OidcConfig;

beforeAll(async () => {
  op = await startOidcProvider({ users: upstreamUsers, redirectURIs: [CALLBACK] });
  base = {
    issuer: op.issuer,
    clientID: op.clientID,
    clientSecret: op.clientSecret,
    redirectURI: CALLBACK,
    scopes: ['profile', 'email', 'groups', 'offline_access'],
    insecureEnableGroups: true,
  };
});
afterAll(() => op.close());

interface Login {
  strategy: OidcStrategy;
  options: BrokerAuthenticateOptions;
  authURL: URL;
  outcome: Outcome;
}

/** Runs a whole login: redirect upstream, sign in as `user`, come back to the strategy. */
async function login(
  user: string,
  config: Partial<OidcConfig> = {},
  opts: { offline?: boolean; tamper?: (url: URL) => void } = {},
): Promise<Login> {
  const strategy = new OidcStrategy({ ...base, ...config }, 'upstream');
  const options = brokerOptions(CALLBACK, { offlineAccess: opts.offline ?? false });
  const authURL = new URL(expectOutcome(await drive(strategy, { query: {} }, options), 'redirect').url);
  opts.tamper?.(authURL);
  const callback = await signIn(authURL.toString(), user, CALLBACK);
  const outcome = await drive(strategy, { query: queryOf(callback) }, options);
  return { strategy, options, authURL, outcome };
}

async function loginIdentity(user: string, config: Partial<OidcConfig> = {}, offline = false): Promise<Identity> {
  return expectOutcome((await login(user, config, { offline })).outcome, 'success').identity;
}

/** A small server answering a fixed JSON body on every path. */
async function serveJson(body: unknown): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('the redirect upstream', () => {
  test('carries state, nonce, PKCE S256, openid plus the configured scopes', async () => {
    const strategy = new OidcStrategy(base, 'upstream');
    const options = brokerOptions(CALLBACK, {}, 'auth-request-1');
    const url = new URL(expectOutcome(await drive(strategy, { query: {} }, options), 'redirect').url);
    expect(url.origin + url.pathname).toBe(`${op.issuer}/auth`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: op.clientID,
      redirect_uri: CALLBACK,
      response_type: 'code',
      state: 'auth-request-1',
      scope: 'openid profile email groups offline_access',
      code_challenge_method: 'S256',
    });
    expect(url.searchParams.get('nonce')).toMatch(/^[\w-]{20,}$/);
    expect(url.searchParams.has('prompt')).toBe(false);
  });

  test('asks prompt=consent and offline access only when the client wants offline access', async () => {
    const { authURL } = await login('alice', {}, { offline: true });
    expect(authURL.searchParams.get('prompt')).toBe('consent');
    expect(authURL.searchParams.get('access_type')).toBe('offline');
  });

  test('sends promptType and acrValues as configured', async () => {
    const strategy = new OidcStrategy({ ...base, promptType: 'login', acrValues: ['mfa', 'pwd'] }, 'upstream');
    const options = brokerOptions(CALLBACK, { offlineAccess: true });
    const url = new URL(expectOutcome(await drive(strategy, { query: {} }, options), 'redirect').url);
    expect(url.searchParams.get('prompt')).toBe('login');
    expect(url.searchParams.get('acr_values')).toBe('mfa pwd');
  });
});

describe('mapping the claims', () => {
  test('a verified user with groups as a string array', async () => {
    const identity = await loginIdentity('alice');
    expect(identity).toEqual({
      userId: 'alice',
      username: 'Alice Liddell',
      preferredUsername: 'alice',
      email: 'alice@example.org',
      emailVerified: true,
      groups: ['admins', 'devs'],
      connectorData: { refreshToken: '' },
    });
  });

  test('email_verified false is passed on as unverified, as Dex does', async () => {
    const identity = await loginIdentity('bob');
    expect(identity.email).toBe('bob@example.org');
    expect(identity.emailVerified).toBe(false);
  });

  test('a missing email_verified claim is refused with a 403 naming it', async () => {
    const outcome = expectOutcome((await login('erin')).outcome, 'fail');
    expect(outcome.status).toBe(403);
    expect(outcome.message).toContain('"email_verified"');
  });

  test('insecureSkipEmailVerified treats a missing email_verified as verified', async () => {
    const identity = await loginIdentity('erin', { insecureSkipEmailVerified: true });
    expect(identity.emailVerified).toBe(true);
  });

  test('groups as a single string', async () => {
    expect((await loginIdentity('carol')).groups).toEqual(['admins']);
  });

  test('groups as objects with a name', async () => {
    expect((await loginIdentity('dave')).groups).toEqual(['admins', 'ops']);
  });

  test('groups are ignored unless insecureEnableGroups', async () => {
    expect((await loginIdentity('alice', { insecureEnableGroups: false })).groups).toEqual([]);
  });

  test('allowedGroups keeps only the allowed groups', async () => {
    expect((await loginIdentity('alice', { allowedGroups: ['devs', 'ops'] })).groups).toEqual(['devs']);
  });

  test('a user outside allowedGroups gets a 403', async () => {
    const outcome = expectOutcome((await login('mallory', { allowedGroups: ['devs'] })).outcome, 'fail');
    expect(outcome.status).toBe(403);
    expect(outcome.message).toMatch(/not a member/);
  });

  test('getUserInfo lays the userinfo claims over the ID token claims', async () => {
    const userinfo = await serveJson({ sub: 'alice', name: 'Alice from userinfo', email: 'alice@example.org', email_verified: true });
    try {
      const identity = await loginIdentity('alice', { getUserInfo: true, providerDiscoveryOverrides: { userInfoURL: userinfo.url } });
      expect(identity.username).toBe('Alice from userinfo');
      expect(identity.groups).toEqual(['admins', 'devs']);
    } finally {
      userinfo.server.close();
    }
  });

  test('userinfo about another subject is refused', async () => {
    const userinfo = await serveJson({ sub: 'mallory', name: 'Mallory', email: 'mallory@example.org', email_verified: true });
    try {
      const { outcome } = await login('alice', { getUserInfo: true, providerDiscoveryOverrides: { userInfoURL: userinfo.url } });
      expect(expectOutcome(outcome, 'fail').status).toBe(401);
    } finally {
      userinfo.server.close();
    }
  });

  test('userIDKey and userNameKey pick other claims', async () => {
    const identity = await loginIdentity('alice', { userIDKey: 'email', userNameKey: 'preferred_username' });
    expect(identity.userId).toBe('alice@example.org');
    expect(identity.username).toBe('alice');
  });

  test('a userNameKey the provider does not send is refused naming the claim', async () => {
    const outcome = expectOutcome((await login('alice', { userNameKey: 'nickname' })).outcome, 'fail');
    expect(outcome.message).toContain('"nickname"');
  });
});

describe('refusals', () => {
  test('an ID token whose nonce is not the one sent is refused', async () => {
    const { outcome } = await login('alice', {}, { tamper: (url) => url.searchParams.set('nonce', 'someone-elses-nonce') });
    const fail = expectOutcome(outcome, 'fail');
    expect(fail.status).toBe(401);
    expect(fail.message).toMatch(/nonce/);
  });

  test('an ID token not signed by the trusted keys is refused', async () => {
    const { keys } = (await (await fetch(`${op.issuer}/jwks`)).json()) as { keys: jose.JWK[] };
    const genuine = keys.find((k) => k.kty === 'RSA')!;
    const { publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
    const impostor = { ...(await jose.exportJWK(publicKey)), kid: genuine.kid, alg: 'RS256', use: 'sig' };
    const jwks = await serveJson({ keys: [impostor] });
    try {
      const { outcome } = await login('alice', { providerDiscoveryOverrides: { jwksURL: `${jwks.url}/jwks` } });
      const fail = expectOutcome(outcome, 'fail');
      expect(fail.status).toBe(401);
      expect(fail.message).toMatch(/bad signature/);
    } finally {
      jwks.server.close();
    }
  });

  describe('an ID token whose key the provider does not publish (unknown kid) is refused, not an outage', () => {
    /** The provider's JWKS with its key under another kid. */
    async function jwksWithoutTheKid(): Promise<{ url: string; server: Server }> {
      const { keys } = (await (await fetch(`${op.issuer}/jwks`)).json()) as { keys: jose.JWK[] };
      return serveJson({ keys: keys.map((k) => ({ ...k, kid: `rotated-${k.kid ?? ''}` })) });
    }

    test('at login: a 401 page naming the missing key', async () => {
      const jwks = await jwksWithoutTheKid();
      try {
        const { outcome } = await login('alice', { providerDiscoveryOverrides: { jwksURL: `${jwks.url}/jwks` } });
        const fail = expectOutcome(outcome, 'fail');
        expect(fail.status).toBe(401);
        expect(fail.message).toMatch(/no matching key/);
      } finally {
        jwks.server.close();
      }
    });

    test('on refresh: a RefreshFailedError', async () => {
      const identity = await loginIdentity('alice', {}, true);
      const jwks = await jwksWithoutTheKid();
      try {
        const strategy = new OidcStrategy({ ...base, providerDiscoveryOverrides: { jwksURL: `${jwks.url}/jwks` } }, 'upstream');
        await expect(strategy.refresh(identity)).rejects.toBeInstanceOf(RefreshFailedError);
      } finally {
        jwks.server.close();
      }
    });
  });

  test('a provider whose tokens carry another issuer is refused', async () => {
    const metadata = (await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    const other = await serveJson({ ...metadata, issuer: 'https://issuer.example' });
    try {
      const { outcome } = await login('alice', { issuer: other.url, issuerAlias: 'https://issuer.example' });
      const fail = expectOutcome(outcome, 'fail');
      expect(fail.status).toBe(401);
      expect(fail.message).toMatch(/iss/);
    } finally {
      other.server.close();
    }
  });

  test('a discovery document stating another issuer fails at start-up, naming issuerAlias', async () => {
    await expect(oidc.create({ ...base, issuerAlias: 'https://elsewhere.example' }, context)).rejects.toThrow(/issuerAlias/);
  });

  test('getUserInfo with a provider that has no userinfo endpoint fails at start-up', async () => {
    const metadata = (await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    const { userinfo_endpoint: _u, ...withoutUserinfo } = metadata;
    const thin = await serveJson({ ...withoutUserinfo, issuer: 'https://thin.example' });
    try {
        const config = { ...base, issuer: thin.url, issuerAlias: 'https://thin.example', getUserInfo: true };
      await expect(oidc.create(config, context)).rejects.toThrow(/getUserInfo/);
    } finally {
      thin.server.close();
    }
  });

  test('an unreachable provider fails at start-up with an UpstreamError', async () => {
    await expect(oidc.create({ ...base, issuer: 'http://127.0.0.1:9' }, context)).rejects.toBeInstanceOf(UpstreamError);
  });

  test('a callback replayed after its login was used is refused', async () => {
    const { strategy, options, outcome } = await login('alice');
    expectOutcome(outcome, 'success');
    const replay = expectOutcome(await drive(strategy, { query: { code: 'x', state: options.state } }, options), 'fail');
    expect(replay.status).toBe(400);
  });

  test('access_denied from the provider is a refusal, not an error', async () => {
    const strategy = new OidcStrategy(base, 'upstream');
    const query = { error: 'access_denied', error_description: 'End-User aborted interaction', state: 's' };
    const outcome = expectOutcome(await drive(strategy, { query }, brokerOptions(CALLBACK)), 'fail');
    expect(outcome.message).toMatch(/aborted/);
  });

  test('a callback without a code is refused, not sent upstream again', async () => {
    const strategy = new OidcStrategy(base, 'upstream');
    const outcome = expectOutcome(await drive(strategy, { query: { state: 's' } }, { ...brokerOptions(CALLBACK), phase: 'callback' }), 'fail');
    expect(outcome.status).toBe(400);
  });

  test('used alone with Passport, a callback with another state is refused', async () => {
    const strategy = new OidcStrategy(base, 'upstream');
    const session: Record<string, unknown> = {};
    const url = expectOutcome(await drive(strategy, { query: {}, session } as never, {}), 'redirect').url;
    const callback = new URL(await signIn(url, 'alice', CALLBACK));
    callback.searchParams.set('state', 'forged');
    const outcome = expectOutcome(await drive(strategy, { query: queryOf(callback.toString()), session } as never, {}), 'fail');
    expect(outcome.message).toMatch(/state/);
  });

  test('used alone with Passport, the state kept in the session completes the login', async () => {
    const strategy = new OidcStrategy(base, 'upstream');
    const session: Record<string, unknown> = {};
    const url = expectOutcome(await drive(strategy, { query: {}, session } as never, {}), 'redirect').url;
    const callback = await signIn(url, 'alice', CALLBACK);
    const outcome = expectOutcome(await drive(strategy, { query: queryOf(callback), session } as never, {}), 'success');
    expect(outcome.identity.userId).toBe('alice');
  });
});

describe('an upstream that fails', () => {
  /** A server answering every request with `answer`, or never. */
  async function upstreamThat(answer: 'hangs' | number): Promise<{ url: string; server: Server }> {
    const server = createServer((_req, res) => {
      if (answer !== 'hangs') res.writeHead(answer, { 'content-type': 'text/html' }).end('<h1>Service Unavailable</h1>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, server };
  }

  async function loginWithTokenEndpoint(answer: 'hangs' | number): Promise<Outcome> {
    const broken = await upstreamThat(answer);
    try {
      const strategy = new OidcStrategy({ ...base, providerDiscoveryOverrides: { tokenURL: broken.url } }, 'upstream', { timeoutMs: 300 });
      const options = brokerOptions(CALLBACK);
      const url = expectOutcome(await drive(strategy, { query: {} }, options), 'redirect').url;
      const callback = await signIn(url, 'alice', CALLBACK);
      return await drive(strategy, { query: queryOf(callback) }, options);
    } finally {
      broken.server.closeAllConnections();
      broken.server.close();
    }
  }

  test('a token endpoint that never answers is an UpstreamError after the timeout, not a hang', async () => {
    const started = Date.now();
    const outcome = expectOutcome(await loginWithTokenEndpoint('hangs'), 'error');
    expect(outcome.error).toBeInstanceOf(UpstreamError);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('a token endpoint answering 503 is an UpstreamError', async () => {
    const outcome = expectOutcome(await loginWithTokenEndpoint(503), 'error');
    expect(outcome.error).toBeInstanceOf(UpstreamError);
    expect(String(outcome.error)).toMatch(/503/);
  });
});

describe('refresh', () => {
  test('rebuilds the identity from the new ID token and keeps the new refresh token', async () => {
    const identity = await loginIdentity('alice', {}, true);
    const first = (identity.connectorData as { refreshToken: string }).refreshToken;
    expect(first).not.toBe('');
    const strategy = new OidcStrategy(base, 'upstream');
    const refreshed = await strategy.refresh(identity);
    expect(refreshed).toMatchObject({ userId: 'alice', username: 'Alice Liddell', email: 'alice@example.org', groups: ['admins', 'devs'] });
    expect((refreshed.connectorData as { refreshToken: string }).refreshToken).not.toBe('');
  });

  test('a refresh token the provider refuses is a RefreshFailedError', async () => {
    const strategy = new OidcStrategy(base, 'upstream');
    const stale = { userId: 'alice', username: 'A', emailVerified: true, groups: [], connectorData: { refreshToken: 'revoked' } };
    await expect(strategy.refresh(stale)).rejects.toBeInstanceOf(RefreshFailedError);
  });

  /** Refreshes a token against a token endpoint that answers `status` with `body` (a string: as HTML). */
  async function refreshAgainst(status: number, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    const server = createServer((_req, res) => {
      const json = typeof body !== 'string';
      res.writeHead(status, { 'content-type': json ? 'application/json' : 'text/html', ...headers }).end(json ? JSON.stringify(body) : body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const tokenURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    try {
      const strategy = new OidcStrategy({ ...base, providerDiscoveryOverrides: { tokenURL } }, 'upstream');
      const identity = { userId: 'alice', username: 'A', emailVerified: true, groups: [], connectorData: { refreshToken: `rt-${status}-${JSON.stringify(body)}` } };
      return await strategy.refresh(identity).catch((e: unknown) => e);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }

  // Only a refusal of the token itself ends it; the rest keeps it for a retry (the broker's 503).
  test.each([
    ['a 429 rate limit in JSON', 429, { error: 'too_many_requests' }],
    ['a 429 rate limit as text', 429, 'Too Many Requests'],
    ['a 408', 408, 'Request Timeout'],
    ["a proxy's 404 page", 404, '<html>not found</html>'],
    ['a JSON 404 without an OAuth error', 404, { message: 'Not Found' }],
    ['invalid_client (an expired client secret)', 401, { error: 'invalid_client', error_description: 'AADSTS7000222: The provided client secret keys are expired.' }],
    ['unauthorized_client', 400, { error: 'unauthorized_client' }],
    ['a 502 page', 502, '<html>Bad Gateway</html>'],
  ])('%s from the token endpoint is an UpstreamError, not a refusal', async (_label, status, body) => {
    expect(await refreshAgainst(status, body)).toBeInstanceOf(UpstreamError);
  });

  test('a Basic challenge without an OAuth error (our client refused) is an UpstreamError', async () => {
    expect(await refreshAgainst(401, { message: 'Unauthorized' }, { 'www-authenticate': 'Basic realm="token"' })).toBeInstanceOf(UpstreamError);
  });

  test.each([
    ['invalid_grant', 400, { error: 'invalid_grant' }],
    ['invalid_grant with a 403', 403, { error: 'invalid_grant' }],
    ['another OAuth error with a 400', 400, { error: 'invalid_request' }],
  ])('%s from the token endpoint is a RefreshFailedError', async (_label, status, body) => {
    expect(await refreshAgainst(status, body)).toBeInstanceOf(RefreshFailedError);
  });

  test('a login without a refresh token cannot be refreshed', async () => {
    const identity = await loginIdentity('alice');
    await expect(new OidcStrategy(base, 'upstream').refresh(identity)).rejects.toBeInstanceOf(RefreshFailedError);
  });
});

describe('token exchange', () => {
  /** Logs in with the provider directly and returns its raw ID and access tokens. */
  async function upstreamTokens(): Promise<{ idToken: string; accessToken: string }> {
    const strategy = new OidcStrategy(base, 'upstream');
    const options = brokerOptions(CALLBACK);
    const url = expectOutcome(await drive(strategy, { query: {} }, options), 'redirect').url;
    const callback = await signIn(url, 'alice', CALLBACK);
    const pending = (await options.loginState.get()) as never;
    const tokens = await strategy.client.exchangeCode(new URL(callback), pending);
    return { idToken: tokens.idToken!, accessToken: tokens.accessToken };
  }

  test('an upstream ID token becomes an identity', async () => {
    const { idToken } = await upstreamTokens();
    const identity = await new OidcStrategy(base, 'upstream').tokenIdentity(TOKEN_TYPE_ID_TOKEN, idToken);
    expect(identity).toEqual({
      userId: 'alice',
      username: 'Alice Liddell',
      preferredUsername: 'alice',
      email: 'alice@example.org',
      emailVerified: true,
      groups: ['admins', 'devs'],
    });
  });

  test('a tampered ID token is refused with a 401', async () => {
    const { idToken } = await upstreamTokens();
    const [h, p, s] = idToken.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'root' })).toString('base64url')}.${s}`;
    const attempt = new OidcStrategy(base, 'upstream').tokenIdentity(TOKEN_TYPE_ID_TOKEN, forged);
    await expect(attempt).rejects.toBeInstanceOf(AccessDeniedError);
    await expect(attempt).rejects.toMatchObject({ status: 401 });
  });

  test('an access token is checked at userinfo when getUserInfo is on', async () => {
    const { accessToken } = await upstreamTokens();
    const identity = await new OidcStrategy({ ...base, getUserInfo: true }, 'upstream').tokenIdentity(TOKEN_TYPE_ACCESS_TOKEN, accessToken);
    expect(identity).toMatchObject({ userId: 'alice', email: 'alice@example.org', emailVerified: true });
  });

  test('an access token the provider does not know is refused', async () => {
    const attempt = new OidcStrategy({ ...base, getUserInfo: true }, 'upstream').tokenIdentity(TOKEN_TYPE_ACCESS_TOKEN, 'not-a-token');
    await expect(attempt).rejects.toMatchObject({ status: 401 });
  });

  test('an access token needs getUserInfo', async () => {
    const attempt = new OidcStrategy(base, 'upstream').tokenIdentity(TOKEN_TYPE_ACCESS_TOKEN, 'whatever');
    await expect(attempt).rejects.toThrow(/getUserInfo/);
  });
});

describe('config', () => {
  test('unknown keys are errors', () => {
    const result = oidc.configSchema.safeParse({ ...base, clientId: 'typo' });
    expect(result.success).toBe(false);
  });

  test('hostedDomains points to the google connector', () => {
    const result = oidc.configSchema.safeParse({ ...base, hostedDomains: ['example.org'] });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toMatch(/google connector/);
  });

  test("Dex's full key set is accepted", () => {
    const result = oidc.configSchema.safeParse({
      ...base,
      issuerAlias: 'https://alias.example',
      basicAuthUnsupported: true,
      rootCAs: [],
      insecureSkipVerify: false,
      insecureSkipEmailVerified: false,
      allowedGroups: ['a'],
      acrValues: ['x'],
      getUserInfo: true,
      userIDKey: 'sub',
      userNameKey: 'name',
      promptType: 'consent',
      pkceChallenge: 'S256',
      overrideClaimMapping: true,
      claimMapping: { preferred_username: 'login', email: 'mail', groups: 'roles' },
      claimModifications: {
        newGroupFromClaims: [{ claims: ['a', 'b'], delimiter: ':', clearDelimiter: true, prefix: 'p' }],
        filterGroupClaims: { groupsFilter: '^team-' },
        modifyGroupNames: { prefix: 'x-', suffix: '-y' },
      },
      providerDiscoveryOverrides: { tokenURL: 'https://t.example/token', authURL: 'https://t.example/auth', jwksURL: 'https://t.example/keys', userInfoURL: 'https://t.example/ui' },
    });
    expect(result.success).toBe(true);
  });
});
