/** Bad input never gives a 5xx, a stack trace, or a redirect to an unverified URI. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { basicAuth, getPage, leaksNothing, postForm } from '../helpers/http.js';
import { browse, login } from '../helpers/rp.js';

const clock = frozenClock(Date.now());
let b: TestBroker;

beforeAll(async () => {
  b = await startBroker({ connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }] }, { now: clock });
});
afterAll(() => b.close());

const authUrl = (params: Record<string, string>) => `${b.issuer}/auth?${new URLSearchParams(params)}`;
const good = { client_id: TEST_CLIENT.id, redirect_uri: TEST_CLIENT.redirectURI, response_type: 'code', scope: 'openid', state: 'xyz' };

describe('authorization endpoint', () => {
  test('unknown client: an error page, not a redirect', async () => {
    const res = await getPage(authUrl({ ...good, client_id: 'nobody' }));
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
    expect(res.body).toContain('Unknown client');
    expect(leaksNothing(res.body)).toBe(true);
  });

  test('unregistered redirect_uri: an error page, never a redirect', async () => {
    const res = await getPage(authUrl({ ...good, redirect_uri: 'https://attacker.example/cb' }));
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
    expect(res.body).toContain('not registered');
  });

  test('missing redirect_uri and missing client_id are pages', async () => {
    for (const drop of ['redirect_uri', 'client_id']) {
      const params: Record<string, string> = { ...good };
      delete params[drop];
      const res = await getPage(authUrl(params));
      expect(res.status).toBe(400);
      expect(res.location).toBeNull();
    }
  });

  test.each([
    [{ response_type: 'token' }, 'unsupported_response_type'],
    [{ scope: 'email' }, 'invalid_scope'],
    [{ scope: 'openid bogus' }, 'invalid_scope'],
    [{ code_challenge_method: 'S256' }, 'invalid_request'],
    [{ code_challenge: 'short', code_challenge_method: 'S256' }, 'invalid_request'],
    [{ code_challenge: 'a'.repeat(43), code_challenge_method: 'S512' }, 'invalid_request'],
    [{ prompt: 'none' }, 'login_required'],
    [{ connector_id: 'nope' }, 'invalid_request'],
    [{ scope: 'openid audience:server:client_id:stranger' }, 'invalid_scope'],
  ])('%j goes back to the client as %s with state and iss', async (override, error) => {
    const res = await getPage(authUrl({ ...good, ...override }));
    expect(res.status).toBe(303);
    const loc = new URL(res.location!);
    expect(loc.origin + loc.pathname).toBe(TEST_CLIENT.redirectURI);
    expect(loc.searchParams.get('error')).toBe(error);
    expect(loc.searchParams.get('state')).toBe('xyz');
    expect(loc.searchParams.get('iss')).toBe(b.issuer);
  });

  test('a repeated parameter is refused', async () => {
    const res = await getPage(`${authUrl(good)}&client_id=other`);
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
  });

  test('unknown parameters are ignored', async () => {
    const { claims } = await login(b.issuer, { connectorId: 'mock', scope: 'openid', params: { display: 'page', ui_locales: 'de', frobnicate: '1' } });
    expect(claims.sub).toBeDefined();
  });

  test('the authorization request works by POST too', async () => {
    const res = await fetch(`${b.issuer}/auth`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...good, connector_id: 'mock' }),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toContain('/auth/mock?');
  });

  test('a callback with an unknown or reused state is a page', async () => {
    expect((await getPage(`${b.issuer}/callback?state=nope`)).status).toBe(400);
    expect((await getPage(`${b.issuer}/callback`)).status).toBe(400);
  });
});

async function freshCode(extra: Record<string, string> = {}): Promise<string> {
  const url = authUrl({ ...good, connector_id: 'mock', ...extra });
  const { landed } = await browse(url, TEST_CLIENT.redirectURI);
  return landed!.searchParams.get('code')!;
}

const exchange = (code: string, extra: Record<string, string> = {}, headers = basicAuth()) =>
  postForm(`${b.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: TEST_CLIENT.redirectURI, ...extra }, headers);

describe('token endpoint', () => {
  test('wrong secret: invalid_client, 401', async () => {
    const res = await exchange(await freshCode(), {}, basicAuth(TEST_CLIENT.id, 'wrong'));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  test('unknown client and no client: invalid_client', async () => {
    expect((await exchange('x', {}, basicAuth('ghost', 'x'))).status).toBe(401);
    expect((await postForm(`${b.issuer}/token`, { grant_type: 'authorization_code', code: 'x' })).body.error).toBe('invalid_client');
  });

  test('client_secret_post works, and both methods at once are refused', async () => {
    const ok = await exchange(await freshCode(), { client_id: TEST_CLIENT.id, client_secret: TEST_CLIENT.secret }, {});
    expect(ok.status).toBe(200);
    const both = await exchange(await freshCode(), { client_secret: TEST_CLIENT.secret });
    expect(both.body.error).toBe('invalid_request');
  });

  test('token responses are not cached', async () => {
    const res = await exchange(await freshCode());
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test('an expired code is invalid_grant', async () => {
    const code = await freshCode();
    clock.advance(11 * 60_000);
    const res = await exchange(code);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  test('a code with a wrong redirect_uri is refused', async () => {
    const res = await exchange(await freshCode(), { redirect_uri: 'http://127.0.0.1:5555/other' });
    expect(res.body.error).toBe('invalid_grant');
  });

  test('PKCE: a wrong verifier, a missing verifier, and an unexpected verifier are refused', async () => {
    const verifier = 'v'.repeat(43);
    const { createHash } = await import('node:crypto');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    expect((await exchange(await freshCode({ code_challenge: challenge, code_challenge_method: 'S256' }), { code_verifier: 'w'.repeat(43) })).body.error).toBe('invalid_grant');
    expect((await exchange(await freshCode({ code_challenge: challenge, code_challenge_method: 'S256' }))).body.error).toBe('invalid_grant');
    expect((await exchange(await freshCode(), { code_verifier: verifier })).body.error).toBe('invalid_grant');
    expect((await exchange(await freshCode({ code_challenge: challenge, code_challenge_method: 'S256' }), { code_verifier: verifier })).status).toBe(200);
  });

  test('PKCE: once the client redeemed a code with S256 (the test above), plain is refused for it: no downgrade', async () => {
    const { landed } = await browse(authUrl({ ...good, connector_id: 'mock', code_challenge: 'p'.repeat(43), code_challenge_method: 'plain' }), TEST_CLIENT.redirectURI);
    expect(landed?.searchParams.get('error')).toBe('invalid_request');
    expect(landed?.searchParams.get('error_description')).toContain('S256');
  });

  test('PKCE: an authorization request with S256 alone (anyone can send one) does not switch plain off', async () => {
    const other = await startBroker({ connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }] });
    try {
      const url = (extra: Record<string, string>) => `${other.issuer}/auth?${new URLSearchParams({ ...good, connector_id: 'mock', ...extra })}`;
      await getPage(url({ code_challenge: 'S'.repeat(43), code_challenge_method: 'S256' }));
      const verifier = 'p'.repeat(43);
      const { landed } = await browse(url({ code_challenge: verifier, code_challenge_method: 'plain' }), TEST_CLIENT.redirectURI);
      const res = await postForm(`${other.issuer}/token`, { grant_type: 'authorization_code', code: landed!.searchParams.get('code')!, redirect_uri: TEST_CLIENT.redirectURI, code_verifier: verifier }, basicAuth());
      expect(res.status).toBe(200);
    } finally {
      await other.close();
    }
  });

  test('two concurrent redemptions of one code give one token response', async () => {
    const code = await freshCode();
    const results = await Promise.all(Array.from({ length: 8 }, () => exchange(code)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.body.error === 'invalid_grant')).toHaveLength(7);
  });

  test.each([
    ['a JSON body', 'application/json', '{"grant_type":"authorization_code"}'],
    ['malformed form encoding', 'application/x-www-form-urlencoded', 'grant_type=%E0%A4%A&code=%'],
    ['no body', 'application/x-www-form-urlencoded', ''],
    ['a huge body', 'application/x-www-form-urlencoded', `code=${'a'.repeat(200_000)}`],
    ['binary garbage', 'application/x-www-form-urlencoded', '\u0000\uffff\ud800'],
  ])('%s: a 4xx OAuth error, no stack', async (_name, type, body) => {
    const res = await fetch(`${b.issuer}/token`, { method: 'POST', headers: { 'content-type': type, ...basicAuth() }, body });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const text = await res.text();
    expect(JSON.parse(text).error).toMatch(/invalid_request|invalid_grant|unsupported_grant_type/);
    expect(leaksNothing(text)).toBe(true);
  });

  test('unknown and missing grant types', async () => {
    expect((await postForm(`${b.issuer}/token`, { grant_type: 'magic' }, basicAuth())).body.error).toBe('unsupported_grant_type');
    expect((await postForm(`${b.issuer}/token`, {}, basicAuth())).body.error).toBe('invalid_request');
    expect((await postForm(`${b.issuer}/token`, { grant_type: 'password', username: 'a', password: 'b' }, basicAuth())).body.error).toBe('unsupported_grant_type');
  });

  test('repeated parameters are refused', async () => {
    const res = await fetch(`${b.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...basicAuth() },
      body: 'grant_type=authorization_code&code=a&code=b',
    });
    expect(res.status).toBe(400);
  });
});

describe('userinfo', () => {
  test('no token, a garbage token, an ID token, and an expired token are 4xx', async () => {
    expect((await fetch(`${b.issuer}/userinfo`)).status).toBe(400);
    expect((await fetch(`${b.issuer}/userinfo`, { headers: { authorization: 'Bearer nonsense' } })).status).toBe(401);
    const { tokens } = await login(b.issuer, { connectorId: 'mock', scope: 'openid email' });
    expect((await fetch(`${b.issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.id_token}` } })).status).toBe(401);
    const body = await fetch(`${b.issuer}/userinfo`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: tokens.access_token }),
    });
    expect(body.status).toBe(200);
    clock.advance(25 * 3_600_000);
    const res = await fetch(`${b.issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('invalid_token');
  });

  test('a token signed with alg none is refused', async () => {
    const fake = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: b.issuer, sub: 'x', scope: 'openid' })).toString('base64url')}.`;
    expect((await fetch(`${b.issuer}/userinfo`, { headers: { authorization: `Bearer ${fake}` } })).status).toBe(401);
  });
});

test('unknown paths are 404 pages without internals', async () => {
  const res = await getPage(`${b.issuer}/nope/../../etc/passwd`);
  expect(res.status).toBe(404);
  expect(leaksNothing(res.body)).toBe(true);
});

test('pages carry a strict CSP and refuse framing; API answers refuse framing too', async () => {
  const page = await getPage(authUrl({ ...good, client_id: 'nobody' }));
  expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
  expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  expect(page.headers.get('x-frame-options')).toBe('DENY');
  const api = await fetch(`${b.issuer}/.well-known/openid-configuration`);
  expect(api.headers.get('x-frame-options')).toBe('DENY');
  expect(api.headers.get('x-content-type-options')).toBe('nosniff');
});
