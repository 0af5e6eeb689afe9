/**
 * Basic OP plan, oidcc-prompt-none-not-logged-in, oidcc-prompt-none-logged-in, oidcc-prompt-login,
 * oidcc-max-age-1, oidcc-max-age-10000 and oidcc-id-token-hint (OIDC Core 3.1.2.1, 3.1.2.6, 2),
 * run the way the plan does: each browser keeps its cookies between the logins of one test.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as oidc from 'openid-client';
import type { TestBroker } from '../helpers/broker.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { browse, discover, login, type CookieJar } from '../helpers/rp.js';
import { pkcePair, startConformanceBroker } from './support.js';

// In the past, so that advancing the frozen clock never puts iat ahead of openid-client's clock.
const clock = frozenClock(Date.now() - 3_600_000);
let b: TestBroker;

beforeAll(async () => {
  b = await startConformanceBroker({}, { now: clock });
});
afterAll(() => b.close());

const pkce = pkcePair('k');
const authTimeOf = (claims: Record<string, unknown>) => claims.auth_time as number;

describe('prompt=none', () => {
  test('not logged in: openid-client receives login_required (state and iss checked)', async () => {
    const config = await discover(b.issuer);
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: TEST_CLIENT.redirectURI, scope: 'openid', prompt: 'none', state, code_challenge: pkce.challenge, code_challenge_method: 'S256' });
    const { landed } = await browse(url.toString(), TEST_CLIENT.redirectURI);
    expect(landed).toBeDefined();
    await expect(oidc.authorizationCodeGrant(config, landed!, { expectedState: state, pkceCodeVerifier: pkce.verifier })).rejects.toMatchObject({ error: 'login_required' });
  });

  test('logged in: a code straight away, same sub, the original auth_time', async () => {
    const jar: CookieJar = new Map();
    const first = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid' });
    clock.advance(5_000);
    const silent = await login(b.issuer, { jar, scope: 'openid', params: { prompt: 'none' } });
    expect(silent.claims.sub).toBe(first.claims.sub);
    expect(authTimeOf(silent.claims)).toBe(authTimeOf(first.claims));
  });

  test('with the id_token_hint of the logged-in user: a code for that user', async () => {
    const jar: CookieJar = new Map();
    const first = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid' });
    const silent = await login(b.issuer, { jar, scope: 'openid', params: { prompt: 'none', id_token_hint: first.tokens.id_token! } });
    expect(silent.claims.sub).toBe(first.claims.sub);
  });

  test('another browser has no session: login_required', async () => {
    await login(b.issuer, { jar: new Map(), connectorId: 'mock', scope: 'openid' });
    const config = await discover(b.issuer);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: TEST_CLIENT.redirectURI, scope: 'openid', prompt: 'none', state: 's', code_challenge: pkce.challenge, code_challenge_method: 'S256' });
    const { landed } = await browse(url.toString(), TEST_CLIENT.redirectURI, { jar: new Map() });
    expect(landed?.searchParams.get('error')).toBe('login_required');
  });
});

describe('prompt=login and max_age', () => {
  test('prompt=login: a new login, auth_time moves on', async () => {
    const jar: CookieJar = new Map();
    const first = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid' });
    clock.advance(2_000);
    const again = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid', params: { prompt: 'login' } });
    expect(authTimeOf(again.claims)).toBe(authTimeOf(first.claims) + 2);
  });

  test('max_age=1 after two seconds: a new login, auth_time present and fresh', async () => {
    const jar: CookieJar = new Map();
    await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid' });
    clock.advance(2_000);
    const again = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid', params: { max_age: '1' } });
    expect(authTimeOf(again.claims)).toBe(Math.floor(clock() / 1000));
  });

  test('max_age=10000: auth_time present, not older than max_age', async () => {
    const jar: CookieJar = new Map();
    await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid' });
    const again = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid', params: { max_age: '10000' } });
    expect(typeof again.claims.auth_time).toBe('number');
    expect(Math.floor(clock() / 1000) - authTimeOf(again.claims)).toBeLessThanOrEqual(10000);
  });

  test('a malformed max_age is invalid_request', async () => {
    const config = await discover(b.issuer);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: TEST_CLIENT.redirectURI, scope: 'openid', max_age: '-1', state: 's', code_challenge: pkce.challenge, code_challenge_method: 'S256' });
    const { landed } = await browse(url.toString(), TEST_CLIENT.redirectURI);
    expect(landed?.searchParams.get('error')).toBe('invalid_request');
  });
});
