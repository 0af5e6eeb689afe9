/**
 * Basic OP plan, the authorization request: oidcc-ensure-request-with-unknown-parameter-succeeds,
 * oidcc-display-page/popup, oidcc-login-hint, oidcc-ui-locales, oidcc-claims-locales,
 * oidcc-ensure-request-with-acr-values-succeeds, oidcc-claims-essential, oidcc-response-type-missing,
 * oidcc-ensure-registered-redirect-uri, oidcc-ensure-redirect-uri-in-authorization-request,
 * oidcc-redirect-uri-query-OK/-mismatch/-added and oidcc-ensure-post-request-succeeds.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { getPage, leaksNothing } from '../helpers/http.js';
import { browse } from '../helpers/rp.js';
import { WITH_QUERY, authUrl, authorizeTo, payloadOf, redeem, startConformanceBroker } from './support.js';

let b: TestBroker;

beforeAll(async () => {
  b = await startConformanceBroker();
});
afterAll(() => b.close());

/** The flow reaches the client with a code and state, and the code redeems. */
async function completes(params: Record<string, string>): Promise<Record<string, unknown>> {
  const landed = await authorizeTo(b.issuer, { state: 'keep-me', ...params });
  expect(landed.searchParams.get('state')).toBe('keep-me');
  expect(landed.searchParams.get('error')).toBeNull();
  const res = await redeem(b.issuer, landed.searchParams.get('code')!);
  expect(res.status).toBe(200);
  return payloadOf(res.body.id_token as string);
}

describe('parameters that must not break the flow', () => {
  test.each([
    ['an unknown parameter', { extra_parameter: 'foo-bar' }],
    ['display=page', { display: 'page' }],
    ['display=popup', { display: 'popup' }],
    ['login_hint', { login_hint: 'kilgore@kilgore.trout' }],
    ['ui_locales', { ui_locales: 'se en-GB' }],
    ['claims_locales', { claims_locales: 'se en-GB' }],
    ['acr_values', { acr_values: '1 2' }],
    ['the claims parameter asking for an essential claim', { claims: JSON.stringify({ id_token: { name: { essential: true } }, userinfo: { email: { essential: true } } }) }],
    ['max_age=10000 (no session to compare it with)', { max_age: '10000' }],
    ['prompt=select_account and a repeated prompt value', { prompt: 'select_account login login' }],
    ['response_type with surrounding whitespace (Dex splits it into fields)', { response_type: ' code ' }],
  ])('%s', async (_name, params) => {
    const claims = await completes(params);
    expect(claims.iss).toBe(b.issuer);
  });

  test('an empty code_challenge_method with a challenge is plain (as Dex)', async () => {
    const verifier = 'p'.repeat(43);
    const landed = await authorizeTo(b.issuer, { code_challenge: verifier, code_challenge_method: '' });
    const res = await redeem(b.issuer, landed.searchParams.get('code')!, TEST_CLIENT, { code_verifier: verifier });
    expect(res.status).toBe(200);
  });

  test('state with reserved characters comes back byte for byte', async () => {
    const state = 'a b&c=d/é?#%';
    const landed = await authorizeTo(b.issuer, { state });
    expect(landed.searchParams.get('state')).toBe(state);
  });
});

describe('malformed requests', () => {
  test('no response_type: an error sent to the client, with state', async () => {
    const url = new URL(authUrl(b.issuer, {}));
    url.searchParams.delete('response_type');
    const res = await getPage(url.toString());
    expect(res.status).toBe(303);
    const loc = new URL(res.location!);
    expect(loc.origin + loc.pathname).toBe(TEST_CLIENT.redirectURI);
    expect(['invalid_request', 'unsupported_response_type']).toContain(loc.searchParams.get('error'));
    expect(loc.searchParams.get('state')).toBe('st4te');
  });

  test.each([
    ['an unregistered redirect_uri', { redirect_uri: 'https://attacker.example/cb' }],
    ['a registered redirect_uri with a query parameter added', { redirect_uri: `${TEST_CLIENT.redirectURI}?foo=bar` }],
    ['a redirect_uri that differs only in a trailing slash', { redirect_uri: `${TEST_CLIENT.redirectURI}/` }],
    ['a redirect_uri whose registered query has another value', { redirect_uri: 'http://127.0.0.1:5559/cb?tenant=b', client_id: WITH_QUERY.id }],
  ])('%s: an error page, never a redirect', async (_name, params) => {
    const res = await getPage(authUrl(b.issuer, params));
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(leaksNothing(res.body)).toBe(true);
  });

  test.each([
    ['request', 'request_not_supported', { request: 'eyJhbGciOiJub25lIn0.e30.' }],
    ['request_uri', 'request_uri_not_supported', { request_uri: 'https://rp.example/request.jwt' }],
    ['registration', 'registration_not_supported', { registration: '{"logo_uri":"https://rp.example/logo.png"}' }],
  ])('%s: %s sent back to the client with state (OIDC Core 6)', async (_name, error, params) => {
    const res = await getPage(authUrl(b.issuer, params));
    expect(res.status).toBe(303);
    const loc = new URL(res.location!);
    expect(loc.origin + loc.pathname).toBe(TEST_CLIENT.redirectURI);
    expect(loc.searchParams.get('error')).toBe(error);
    expect(loc.searchParams.get('state')).toBe('st4te');
  });

  test('request with an unregistered redirect_uri: still an error page, never a redirect', async () => {
    const res = await getPage(authUrl(b.issuer, { request: 'eyJhbGciOiJub25lIn0.e30.', redirect_uri: 'https://attacker.example/cb' }));
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
  });

  test.each([
    ['an unknown prompt value', { prompt: 'login bogus' }],
    ['prompt=none with another value', { prompt: 'none login' }],
    ['an id_token_hint this broker did not sign, without prompt=none', { id_token_hint: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' }],
    ['an unknown response_type value', { response_type: 'code bogus' }],
  ])('%s: invalid_request sent back to the client (as Dex)', async (_name, params) => {
    const res = await getPage(authUrl(b.issuer, params));
    expect(res.status).toBe(303);
    const loc = new URL(res.location!);
    expect(loc.origin + loc.pathname).toBe(TEST_CLIENT.redirectURI);
    expect(loc.searchParams.get('error')).toBe('invalid_request');
  });

  test('an id_token_hint this broker did not sign is refused before a connector is picked too', async () => {
    const url = new URL(authUrl(b.issuer, { id_token_hint: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' }));
    url.pathname += '/mock';
    const res = await getPage(url.toString());
    expect(res.status).toBe(303);
    expect(new URL(res.location!).searchParams.get('error')).toBe('invalid_request');
  });

  test('no redirect_uri: an error page', async () => {
    const url = new URL(authUrl(b.issuer, {}));
    url.searchParams.delete('redirect_uri');
    const res = await getPage(url.toString());
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
  });
});

describe('redirect URIs with a query', () => {
  test('a registered query is kept and the code is added to it', async () => {
    const landed = await authorizeTo(b.issuer, {}, WITH_QUERY);
    expect(landed.searchParams.get('tenant')).toBe('a');
    const res = await redeem(b.issuer, landed.searchParams.get('code')!, WITH_QUERY);
    expect(res.status).toBe(200);
  });
});

describe('the authorization request by POST', () => {
  test('a form POST to the authorization endpoint runs the whole flow', async () => {
    const params = new URL(authUrl(b.issuer, { state: 'posted' })).searchParams;
    const posted = await fetch(`${b.issuer}/auth`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: params });
    expect(posted.status).toBe(303);
    const { landed } = await browse(new URL(posted.headers.get('location')!, b.issuer).toString(), TEST_CLIENT.redirectURI);
    expect(landed?.searchParams.get('state')).toBe('posted');
    const res = await redeem(b.issuer, landed!.searchParams.get('code')!);
    expect(res.status).toBe(200);
  });
});
