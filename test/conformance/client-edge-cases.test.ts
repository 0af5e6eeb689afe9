/**
 * Legitimate but unusual client requests (RFC 6749, RFC 6750, RFC 8252, OIDC Core), beyond the
 * other conformance files: the Basic scheme's case, a public client sending an empty Basic
 * secret, form content types with parameters, parameters only in the query string, scope
 * spacing and repeats, fragments in loopback redirect URIs, userinfo's token placements, and
 * discovery agreeing with what the endpoints do.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { TestBroker } from '../helpers/broker.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { cookieBrowser, postForm } from '../helpers/http.js';
import { frozenClock } from '../helpers/clock.js';
import { browse, login, startLogin, type CookieJar } from '../helpers/rp.js';
import { OTHER, PUBLIC, authUrl, codeFor, payloadOf, pkcePair, redeem, startConformanceBroker, tokenRequest } from './support.js';

let b: TestBroker;
/** Frozen: a login and the request right after it fall in the same second. */
const clock = frozenClock(Date.now());

beforeAll(async () => {
  b = await startConformanceBroker({}, { now: clock });
});
afterAll(() => b.close());

const basic = (id: string, secret: string, scheme = 'Basic') => ({ authorization: `${scheme} ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` });
const codeRequest = (code: string, client: { redirectURI: string } = TEST_CLIENT) => ({ grant_type: 'authorization_code', code, redirect_uri: client.redirectURI });

describe('client authentication', () => {
  test.each(['BASIC', 'basic'])('the auth scheme is case-insensitive (%s)', async (scheme) => {
    const res = await postForm(`${b.issuer}/token`, codeRequest(await codeFor(b.issuer)), basic(TEST_CLIENT.id, TEST_CLIENT.secret, scheme));
    expect(res.status).toBe(200);
  });

  test('Basic with the client_id repeated in the body works', async () => {
    const res = await postForm(`${b.issuer}/token`, { ...codeRequest(await codeFor(b.issuer)), client_id: TEST_CLIENT.id }, basic(TEST_CLIENT.id, TEST_CLIENT.secret));
    expect(res.status).toBe(200);
  });

  test('a public client sending Basic with an empty secret (id:) is its id alone', async () => {
    const { verifier, challenge } = pkcePair('e');
    const code = await codeFor(b.issuer, { code_challenge: challenge, code_challenge_method: 'S256' }, PUBLIC);
    const res = await postForm(`${b.issuer}/token`, { ...codeRequest(code, PUBLIC), code_verifier: verifier }, basic(PUBLIC.id, ''));
    expect(res.status).toBe(200);
  });

  test('a confidential client sending Basic with an empty secret is invalid_client', async () => {
    const res = await postForm(`${b.issuer}/token`, codeRequest('x'), basic(TEST_CLIENT.id, ''));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });
});

describe('the token request', () => {
  test.each(['application/x-www-form-urlencoded; charset=UTF-8', 'Application/X-WWW-Form-URLEncoded;charset=utf-8'])('content type %s is a form', async (type) => {
    const res = await postForm(`${b.issuer}/token`, codeRequest(await codeFor(b.issuer)), { ...basic(TEST_CLIENT.id, TEST_CLIENT.secret), 'content-type': type });
    expect(res.status).toBe(200);
  });

  test('parameters in the query string are not read (RFC 6749 3.2: the body only); the code stays usable', async () => {
    const code = await codeFor(b.issuer);
    const res = await fetch(`${b.issuer}/token?${new URLSearchParams(codeRequest(code))}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...basic(TEST_CLIENT.id, TEST_CLIENT.secret) },
      body: '',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
    expect((await redeem(b.issuer, code)).status).toBe(200);
  });

  test('a code redeemed without the redirect_uri its authorization request had is invalid_grant', async () => {
    const res = await tokenRequest(b.issuer, { grant_type: 'authorization_code', code: await codeFor(b.issuer) });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  test('a public client redeeming with another loopback port than at /auth is invalid_grant', async () => {
    const { verifier, challenge } = pkcePair('l');
    const code = await codeFor(b.issuer, { code_challenge: challenge, code_challenge_method: 'S256' }, PUBLIC);
    const res = await tokenRequest(b.issuer, { ...codeRequest(code, { redirectURI: 'http://127.0.0.1:43211/cb' }), code_verifier: verifier }, PUBLIC, 'none');
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });
});

describe('scope', () => {
  test('repeated spaces and a repeated scope are accepted; the token says each scope once', async () => {
    const code = await codeFor(b.issuer, { scope: '  openid   email openid  ' });
    const res = await redeem(b.issuer, code);
    expect(res.status).toBe(200);
    expect(payloadOf(res.body.access_token as string).scope).toBe('openid email');
  });
});

describe('redirect URIs', () => {
  test.each(['http://127.0.0.1:43210/cb#frag', 'http://localhost:8000/cb#', 'http://[::1]:8000/cb#x'])(
    'a loopback redirect URI with a fragment is refused with a page (RFC 6749 3.1.2): %s',
    async (uri) => {
      const { challenge } = pkcePair('f');
      const res = await fetch(authUrl(b.issuer, { redirect_uri: uri, code_challenge: challenge, code_challenge_method: 'S256' }, PUBLIC), { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('Unregistered redirect URI');
    },
  );

  test('a percent-encoding variant of a registered URI is not the registered URI', async () => {
    const res = await fetch(authUrl(b.issuer, { redirect_uri: 'http://127.0.0.1:5555/c%61llback' }), { redirect: 'manual' });
    expect(res.status).toBe(400);
  });
});

describe('state and nonce', () => {
  test('no state: the redirect carries none', async () => {
    const url = new URL(authUrl(b.issuer, {}));
    url.searchParams.delete('state');
    const { landed } = await browse(url.toString(), TEST_CLIENT.redirectURI);
    expect(landed!.searchParams.has('state')).toBe(false);
    expect(landed!.searchParams.get('code')).toBeTruthy();
  });

  test('a nonce with unusual characters comes back unchanged in the ID token', async () => {
    const nonce = 'n ö+/=&"<>';
    const res = await redeem(b.issuer, await codeFor(b.issuer, { nonce }));
    expect(payloadOf(res.body.id_token as string).nonce).toBe(nonce);
  });
});

describe('max_age=0', () => {
  test('with prompt=none, even a login of this very second is too old: login_required (OIDC Core 3.1.2.1: max_age=0 is prompt=login)', async () => {
    const jar: CookieJar = new Map();
    await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid' });
    const silent = await startLogin(b.issuer, { jar, params: { prompt: 'none', max_age: '0' } });
    expect(silent.landed?.searchParams.get('error')).toBe('login_required');
  });

  test('without prompt: a new login, with auth_time', async () => {
    const { claims } = await login(b.issuer, { connectorId: 'mock', scope: 'openid', params: { max_age: '0' } });
    expect(claims.auth_time).toBe(Math.floor(clock() / 1000));
  });
});

describe('userinfo', () => {
  let accessToken: string;
  beforeAll(async () => {
    accessToken = (await redeem(b.issuer, await codeFor(b.issuer, { scope: 'openid email' }))).body.access_token as string;
  });

  test.each(['bearer', 'BEARER'])('the Bearer scheme is case-insensitive (%s)', async (scheme) => {
    const res = await fetch(`${b.issuer}/userinfo`, { headers: { authorization: `${scheme} ${accessToken}` } });
    expect(res.status).toBe(200);
  });

  test('a token in the query string is not taken (as Dex; RFC 6750 2.3 is optional and discouraged)', async () => {
    const res = await fetch(`${b.issuer}/userinfo?access_token=${accessToken}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
  });
});

describe('discovery agrees with the endpoints', () => {
  let doc: Record<string, unknown>;
  beforeAll(async () => {
    doc = (await (await fetch(`${b.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  });

  test('every advertised grant type is served, and password (no password connector) is neither advertised nor served', async () => {
    const grants = doc.grant_types_supported as string[];
    expect(grants).not.toContain('password');
    for (const grant of grants) {
      const res = await tokenRequest(b.issuer, { grant_type: grant });
      expect(res.body.error).not.toBe('unsupported_grant_type');
    }
    expect((await tokenRequest(b.issuer, { grant_type: 'password', username: 'a', password: 'b', scope: 'openid' })).body.error).toBe('unsupported_grant_type');
  });

  test('every advertised code_challenge_method works (plain first: after S256 a client may not go back to it)', async () => {
    const methods = doc.code_challenge_methods_supported as string[];
    expect(methods).toEqual(['S256', 'plain']);
    for (const method of ['plain', 'S256']) {
      const { verifier, challenge } = pkcePair(method);
      const code = await codeFor(b.issuer, { code_challenge: method === 'S256' ? challenge : verifier, code_challenge_method: method }, OTHER);
      expect((await redeem(b.issuer, code, OTHER, { code_verifier: verifier })).status).toBe(200);
    }
  });

  test('response_mode form_post, advertised, posts the code and the state (escaped) to the client', async () => {
    expect(doc.response_modes_supported).toContain('form_post');
    const browser = cookieBrowser();
    let page = await browser.send(authUrl(b.issuer, { response_mode: 'form_post', state: '"><b>x' }));
    while (page.location) page = await browser.send(new URL(page.location, b.issuer).toString());
    expect(page.status).toBe(200);
    expect(page.body).toContain(`action="${TEST_CLIENT.redirectURI}"`);
    expect(page.body).toMatch(/name="code" value="[^"]+"/);
    expect(page.body).toContain('name="state" value="&quot;&gt;&lt;b&gt;x"');
  });
});
