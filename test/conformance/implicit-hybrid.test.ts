/**
 * Dex's implicit and hybrid response types (`oauth2.responseTypes`): `id_token`, `id_token
 * token`, `code id_token`, `code token`, `code id_token token`. Served only when enabled, sent in
 * the fragment (or a form post, never the query), the ID token binding the code and the access
 * token (`c_hash`, `at_hash`), a nonce where OIDC requires one, and no refresh token from `/auth`.
 * openid-client checks the flows it implements (`id_token`, `code id_token`); the others are read
 * from the fragment here and their tokens verified with jose against `/keys`.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as oidc from 'openid-client';
import type { TestBroker } from '../helpers/broker.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { getPage, postForm } from '../helpers/http.js';
import { browse, discover, firstForm, verifyIdToken, type BrowseOptions, type ClientCredentials } from '../helpers/rp.js';
import { loadConfig } from '../../lib/config/load.js';
import { connectors } from '../../strategies/index.js';
import { startChromium, type Chromium } from '../browser/chromium.js';
import { CLIENTS, PUBLIC, authUrl, pkcePair, redeem, startConformanceBroker } from './support.js';

const ALL = ['code', 'code id_token', 'code id_token token', 'code token', 'id_token', 'id_token token'];

/** Every response type, approval page, a password connector and a connector limited to the code flow. */
let b: TestBroker;
/** `code` and `id_token` only, without the approval page. */
let narrow: TestBroker;
/** A single-page app's host: it serves one page, and records what reaches it. */
let spaHost: http.Server;
const spaRequests: string[] = [];
let SPA: ClientCredentials;

beforeAll(async () => {
  spaHost = http.createServer((req, res) => {
    spaRequests.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>spa</title>');
  });
  await new Promise<void>((resolve) => spaHost.listen(0, '127.0.0.1', resolve));
  SPA = { id: 'spa', redirectURI: `http://127.0.0.1:${(spaHost.address() as AddressInfo).port}/cb` };
  b = await startConformanceBroker({
    staticClients: [...CLIENTS, { id: SPA.id, public: true, name: 'SPA', redirectURIs: [SPA.redirectURI] }],
    oauth2: { responseTypes: ['code', 'token', 'id_token'] },
    connectors: [
      { type: 'mockCallback', id: 'mock', name: 'Example' },
      { type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: 'trout' } },
      { type: 'mockCallback', id: 'code-only', name: 'Code only', grantTypes: ['authorization_code'] },
    ],
  });
  narrow = await startConformanceBroker({ oauth2: { responseTypes: ['code', 'id_token'], skipApprovalScreen: true } });
});

afterAll(async () => {
  await b.close();
  await narrow.close();
  await new Promise((resolve) => spaHost.close(resolve));
});

const fragmentOf = (url: URL) => Object.fromEntries(new URLSearchParams(url.hash.slice(1)));

const leftHalfHash = (value: string) => {
  const digest = createHash('sha256').update(value).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
};

/** The browser's way from `/auth` to the client; returns where it landed. */
async function land(issuer: string, params: Record<string, string>, client: ClientCredentials = TEST_CLIENT, options: BrowseOptions = {}): Promise<URL> {
  const { landed, page } = await browse(authUrl(issuer, params, client), client.redirectURI, options);
  if (!landed) throw new Error(`the login did not reach the client: ${page?.status} ${page?.body.slice(0, 300)}`);
  return landed;
}

/** Where an authorization request is sent at once (no login): the Location of its 303. */
async function refusedAt(url: string): Promise<URL> {
  const res = await getPage(url);
  expect(res.status).toBe(303);
  return new URL(res.location!);
}

const refusedTo = (issuer: string, params: Record<string, string>, client: ClientCredentials = TEST_CLIENT) => refusedAt(authUrl(issuer, params, client));

describe('configuration and discovery', () => {
  const load = (responseTypes?: string[], grantTypes?: string[]) =>
    loadConfig({ issuer: 'http://127.0.0.1:5556/dex', storage: { type: 'memory' }, oauth2: { ...(responseTypes ? { responseTypes } : {}), ...(grantTypes ? { grantTypes } : {}) } }, { connectors, env: {} });

  test('the default stays code only, with no implicit grant', () => {
    const { settings, warnings } = load();
    expect(settings.oauth2.responseTypes).toEqual(['code']);
    expect(settings.oauth2.grantTypes).not.toContain('implicit');
    expect(warnings).toEqual([]);
  });

  test("Dex's single values enable their combinations; a combined value enables itself; token alone never", () => {
    expect(load(['code', 'token', 'id_token']).settings.oauth2.responseTypes).toEqual(ALL);
    expect(load(['code', 'code id_token']).settings.oauth2.responseTypes).toEqual(['code', 'code id_token']);
    expect(load(['code', 'token']).settings.oauth2.responseTypes).toEqual(['code', 'code token']);
    expect(load(['token']).warnings).toEqual(['oauth2.responseTypes enables no response type (token is never served alone): /auth will refuse every request']);
  });

  test('the implicit grant is listed once a response type gives out a token, as Dex lists it', () => {
    expect(load(['code', 'token']).settings.oauth2.grantTypes).toContain('implicit');
    expect(load(['code', 'id_token']).settings.oauth2.grantTypes).not.toContain('implicit');
    expect(load(['code', 'id_token token'], ['authorization_code', 'implicit']).settings.oauth2.grantTypes).toEqual(['authorization_code', 'implicit']);
    const { settings, warnings } = load(['code'], ['authorization_code', 'implicit']);
    expect(settings.oauth2.grantTypes).toEqual(['authorization_code']);
    expect(warnings).toEqual(['oauth2.grantTypes "implicit" is left out of discovery: no oauth2.responseTypes value gives out a token (as in Dex)']);
  });

  test('discovery advertises exactly what /auth serves, the fragment mode and the implicit grant', async () => {
    const doc = (await (await fetch(`${b.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
    expect(doc.response_types_supported).toEqual(ALL);
    expect(doc.response_modes_supported).toEqual(['query', 'fragment', 'form_post']);
    expect(doc.grant_types_supported).toContain('implicit');
    const narrowDoc = (await (await fetch(`${narrow.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
    expect(narrowDoc.response_types_supported).toEqual(['code', 'code id_token', 'id_token']);
    expect(narrowDoc.grant_types_supported).not.toContain('implicit');
  });

  test('grant_type=implicit at /token is unsupported_grant_type (it is not a token grant)', async () => {
    const res = await postForm(`${b.issuer}/token`, { grant_type: 'implicit' }, { authorization: `Basic ${Buffer.from(`${TEST_CLIENT.id}:${TEST_CLIENT.secret}`).toString('base64')}` });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unsupported_grant_type');
  });
});

describe('the implicit flow', () => {
  test('id_token: openid-client accepts the response (signature, nonce, state); no access token, no code, no at_hash', async () => {
    const config = await discover(b.issuer);
    oidc.useIdTokenResponseType(config);
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: TEST_CLIENT.redirectURI, scope: 'openid email', nonce, state, connector_id: 'mock' });
    expect(url.searchParams.get('response_type')).toBe('id_token');
    const { landed } = await browse(url.toString(), TEST_CLIENT.redirectURI);
    expect(landed!.search).toBe('');
    const claims = await oidc.implicitAuthentication(config, landed!, nonce, { expectedState: state });
    expect(claims).toMatchObject({ iss: b.issuer, aud: TEST_CLIENT.id, nonce, email: 'kilgore@kilgore.trout', sub: 'Cg0wLTM4NS0yODA4OS0wEgRtb2Nr' });
    expect(claims.at_hash).toBeUndefined();
    expect(Object.keys(fragmentOf(landed!)).sort()).toEqual(['id_token', 'iss', 'state']);
  });

  test('id_token token: access token and ID token in the fragment, at_hash binds them, the access token works at /userinfo', async () => {
    const landed = await land(b.issuer, { response_type: 'id_token token', nonce: 'n-0S6', scope: 'openid email' });
    const f = fragmentOf(landed);
    expect(landed.search).toBe('');
    expect(f).toMatchObject({ token_type: 'bearer', expires_in: '86400', state: 'st4te', iss: b.issuer });
    expect(f.code).toBeUndefined();
    expect(f.refresh_token).toBeUndefined();
    const claims = await verifyIdToken(b.issuer, f.id_token!);
    expect(claims.nonce).toBe('n-0S6');
    expect(claims.at_hash).toBe(leftHalfHash(f.access_token!));
    expect(claims.c_hash).toBeUndefined();
    const info = await fetch(`${b.issuer}/userinfo`, { headers: { authorization: `Bearer ${f.access_token}` } });
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ sub: claims.sub, email: 'kilgore@kilgore.trout' });
  });

  test('tokens from /auth are counted in dexpress_tokens_issued_total{grant="implicit"}', async () => {
    const count = async () => Number(/grant="implicit"\} (\d+)/.exec(await b.broker.metrics.registry.getSingleMetricAsString('dexpress_tokens_issued_total'))?.[1] ?? 0);
    const before = await count();
    await land(b.issuer, { response_type: 'id_token', nonce: 'n' });
    expect(await count()).toBe(before + 1);
  });

  test('offline_access gives no refresh token from the authorization endpoint', async () => {
    const f = fragmentOf(await land(b.issuer, { response_type: 'id_token token', nonce: 'n', scope: 'openid offline_access' }));
    expect(f.access_token).toBeTruthy();
    expect(f.refresh_token).toBeUndefined();
  });

  test('a public client may use it without PKCE (no code to protect)', async () => {
    const f = fragmentOf(await land(b.issuer, { response_type: 'id_token token', nonce: 'n-pub' }, PUBLIC));
    expect((await verifyIdToken(b.issuer, f.id_token!, PUBLIC.id)).nonce).toBe('n-pub');
  });

  test('a state with reserved characters comes back byte for byte in the fragment', async () => {
    const state = 'a b&c=d/é?#%"<>';
    expect(fragmentOf(await land(b.issuer, { response_type: 'id_token', nonce: 'n', state })).state).toBe(state);
  });
});

describe('the hybrid flow', () => {
  test('code id_token: openid-client checks c_hash and redeems the code once; a second redemption fails', async () => {
    const config = await discover(b.issuer);
    oidc.useCodeIdTokenResponseType(config);
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: TEST_CLIENT.redirectURI,
      scope: 'openid offline_access',
      nonce,
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      connector_id: 'mock',
    });
    expect(url.searchParams.get('response_type')).toBe('code id_token');
    const { landed } = await browse(url.toString(), TEST_CLIENT.redirectURI);
    const f = fragmentOf(landed!);
    expect(Object.keys(f).sort()).toEqual(['code', 'id_token', 'iss', 'state']);
    expect((await verifyIdToken(b.issuer, f.id_token!)).c_hash).toBe(leftHalfHash(f.code!));
    const tokens = await oidc.authorizationCodeGrant(config, landed!, { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true });
    expect(tokens.claims()?.nonce).toBe(nonce);
    expect(tokens.refresh_token).toBeTruthy();
    const again = await redeem(b.issuer, f.code!, TEST_CLIENT, { code_verifier: verifier });
    expect(again.body.error).toBe('invalid_grant');
  });

  test('code id_token token: c_hash and at_hash in the front-channel ID token, token_type and expires_in with the access token', async () => {
    const { verifier, challenge } = pkcePair('h');
    const f = fragmentOf(await land(b.issuer, { response_type: 'code id_token token', nonce: 'n-h', code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(f).toMatchObject({ token_type: 'bearer', expires_in: '86400' });
    const claims = await verifyIdToken(b.issuer, f.id_token!);
    expect(claims).toMatchObject({ nonce: 'n-h', c_hash: leftHalfHash(f.code!), at_hash: leftHalfHash(f.access_token!) });
    const res = await redeem(b.issuer, f.code!, TEST_CLIENT, { code_verifier: verifier });
    expect(res.status).toBe(200);
    expect((await verifyIdToken(b.issuer, String(res.body.id_token))).sub).toBe(claims.sub);
  });

  test('code token: the nonce is optional; the access token works at /userinfo and the code at /token', async () => {
    const f = fragmentOf(await land(b.issuer, { response_type: 'code token' }));
    expect(f.id_token).toBeUndefined();
    expect((await fetch(`${b.issuer}/userinfo`, { headers: { authorization: `Bearer ${f.access_token}` } })).status).toBe(200);
    expect((await redeem(b.issuer, f.code!)).status).toBe(200);
  });

  test('a public client must still send PKCE when a code is issued', async () => {
    const f = fragmentOf(await refusedTo(b.issuer, { response_type: 'code id_token', nonce: 'n' }, PUBLIC));
    expect(f.error).toBe('invalid_request');
    expect(f.error_description).toContain('PKCE');
  });
});

describe('refused requests', () => {
  test.each(['id_token', 'id_token token', 'code id_token', 'code id_token token'])('%s without a nonce: invalid_request, in the fragment', async (responseType) => {
    const to = await refusedTo(b.issuer, { response_type: responseType });
    expect(to.search).toBe('');
    expect(fragmentOf(to)).toMatchObject({ error: 'invalid_request', error_description: `Response type "${responseType}" requires a nonce value.`, state: 'st4te', iss: b.issuer });
  });

  test('token alone: invalid_request, as Dex answers (OIDC defines no such response type)', async () => {
    const to = await refusedTo(b.issuer, { response_type: 'token', nonce: 'n' });
    expect(to.searchParams.get('error')).toBe('invalid_request');
    // Where no response type gives out tokens, it is one more unserved type, as in Dex.
    expect((await refusedTo(narrow.issuer, { response_type: 'token', nonce: 'n' })).searchParams.get('error')).toBe('unsupported_response_type');
  });

  test('response_mode=query with tokens: invalid_request, sent in the fragment and not the query', async () => {
    const to = await refusedTo(b.issuer, { response_type: 'id_token token', nonce: 'n', response_mode: 'query' });
    expect(to.search).toBe('');
    expect(fragmentOf(to).error).toBe('invalid_request');
  });

  test('an empty response_mode is none (Dex ignores it): the code in the query, tokens in the fragment', async () => {
    const code = await land(b.issuer, { response_mode: '' });
    expect(code.searchParams.get('code')).toBeTruthy();
    const tokens = await land(b.issuer, { response_type: 'id_token', nonce: 'n', response_mode: '' });
    expect(fragmentOf(tokens).id_token).toBeDefined();
  });

  test('a response type the config does not enable: unsupported_response_type, in the query', async () => {
    const to = await refusedTo(narrow.issuer, { response_type: 'id_token token', nonce: 'n' });
    expect(to.searchParams.get('error')).toBe('unsupported_response_type');
    expect(to.hash).toBe('');
  });

  test('an unregistered redirect URI: an error page, never a redirect carrying tokens', async () => {
    const res = await getPage(authUrl(b.issuer, { response_type: 'id_token token', nonce: 'n', redirect_uri: 'https://attacker.example/cb' }));
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
  });

  test('the out-of-band redirect URI cannot take tokens', async () => {
    const res = await getPage(authUrl(b.issuer, { response_type: 'id_token', nonce: 'n', redirect_uri: 'urn:ietf:wg:oauth:2.0:oob' }, { id: PUBLIC.id, redirectURI: 'urn:ietf:wg:oauth:2.0:oob' }));
    expect(res.status).toBe(400);
    expect(res.body).toContain('Cannot use response type');
  });

  test('a connector whose grantTypes leave out implicit: unauthorized_client, as Dex', async () => {
    const to = await refusedAt(authUrl(b.issuer, { response_type: 'id_token', nonce: 'n' }).replace('/auth?', '/auth/code-only?'));
    expect(fragmentOf(to)).toMatchObject({ error: 'unauthorized_client', error_description: 'Connector "code-only" does not allow the implicit grant.' });
  });

  test('oauth2.pkce.enforce refuses the implicit flow without code_challenge, as Dex (the operator shuts off flows without PKCE)', async () => {
    const enforced = await startConformanceBroker({ oauth2: { responseTypes: ['code', 'id_token'], skipApprovalScreen: true, pkce: { enforce: true } } });
    try {
      const to = await refusedTo(enforced.issuer, { response_type: 'id_token', nonce: 'n' });
      expect(fragmentOf(to)).toMatchObject({ error: 'invalid_request', error_description: 'PKCE is required: send code_challenge.', state: 'st4te' });
      const { challenge } = pkcePair('e');
      const landed = await land(enforced.issuer, { response_type: 'id_token', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' });
      expect(fragmentOf(landed).id_token).toBeDefined();
    } finally {
      await enforced.close();
    }
  });

  test('the user refusing on the approval page: access_denied in the fragment', async () => {
    const to = await land(b.issuer, { response_type: 'id_token token', nonce: 'n' }, TEST_CLIENT, { approve: false });
    expect(fragmentOf(to)).toMatchObject({ error: 'access_denied', state: 'st4te' });
    expect(to.search).toBe('');
  });
});

describe('the code flow', () => {
  test('response_mode=fragment puts the code in the fragment; it is redeemed as usual', async () => {
    const landed = await land(b.issuer, { response_mode: 'fragment' });
    expect(landed.search).toBe('');
    const f = fragmentOf(landed);
    expect(f).toMatchObject({ state: 'st4te', iss: b.issuer });
    expect((await redeem(b.issuer, f.code!)).status).toBe(200);
  });
});

describe('every way a login ends', () => {
  test('password form, then approval page', async () => {
    const f = fragmentOf(await land(b.issuer, { response_type: 'id_token token', nonce: 'n-pw', connector_id: 'pw' }, TEST_CLIENT, { password: { username: 'kilgore', password: 'trout' } }));
    expect((await verifyIdToken(b.issuer, f.id_token!)).nonce).toBe('n-pw');
  });

  test("the password form's link back to the login methods keeps the response type and mode", async () => {
    let back: URLSearchParams | undefined;
    await browse(authUrl(b.issuer, { response_type: 'id_token token', nonce: 'n-back', connector_id: 'pw' }), TEST_CLIENT.redirectURI, {
      onPage: async (page) => {
        const href = /href="([^"]*\/auth\?[^"]*)"/.exec(page.body)?.[1];
        if (href) back = new URL(href.replace(/&amp;/g, '&'), page.url).searchParams;
        return undefined;
      },
    });
    expect(back?.get('response_type')).toBe('id_token token');
    expect(back?.get('response_mode')).toBe('fragment');
    expect(back?.get('nonce')).toBe('n-back');
  });

  test('skipApprovalScreen: straight from the connector callback to the client', async () => {
    const f = fragmentOf(await land(narrow.issuer, { response_type: 'id_token', nonce: 'n-skip' }));
    expect((await verifyIdToken(narrow.issuer, f.id_token!)).nonce).toBe('n-skip');
  });

  test('prompt=none from the login session answers with a new ID token in the fragment', async () => {
    const jar = new Map();
    await land(narrow.issuer, { response_type: 'id_token', nonce: 'first' }, TEST_CLIENT, { jar });
    const f = fragmentOf(await land(narrow.issuer, { response_type: 'id_token', nonce: 'second', prompt: 'none' }, TEST_CLIENT, { jar }));
    expect((await verifyIdToken(narrow.issuer, f.id_token!)).nonce).toBe('second');
  });

  test('prompt=none with no session: login_required in the fragment', async () => {
    const to = await refusedTo(narrow.issuer, { response_type: 'id_token', nonce: 'n', prompt: 'none' });
    expect(fragmentOf(to).error).toBe('login_required');
  });

  test('response_mode=form_post: the tokens and the escaped state are posted, nothing in the URL', async () => {
    let body = '';
    await browse(authUrl(b.issuer, { response_type: 'code id_token token', nonce: 'n', response_mode: 'form_post', state: '"><b>x' }), TEST_CLIENT.redirectURI, {
      onPage: async (page) => {
        if (page.body.includes('document.forms[0].submit()')) body = page.body;
        return undefined;
      },
    });
    expect(body).toContain('name="state" value="&quot;&gt;&lt;b&gt;x"');
    const fields = firstForm(body, TEST_CLIENT.redirectURI)!.fields;
    expect(Object.keys(fields).sort()).toEqual(['access_token', 'code', 'expires_in', 'id_token', 'iss', 'state', 'token_type']);
    expect((await verifyIdToken(b.issuer, fields.id_token!)).at_hash).toBe(leftHalfHash(fields.access_token!));
  });
});

describe('in Chromium', () => {
  let chromium: Chromium;
  beforeAll(async () => {
    chromium = await startChromium();
  }, 30_000);
  afterAll(async () => {
    await chromium.close();
  });

  test('id_token token: the single-page app reads the tokens from location.hash; its server never sees them', async () => {
    const page = await chromium.context.newPage();
    await page.goto(authUrl(b.issuer, { response_type: 'id_token token', nonce: 'n-chromium' }, SPA));
    await Promise.all([page.waitForURL(`${SPA.redirectURI}#**`), page.getByRole('button', { name: 'Grant access' }).click()]);
    const f = Object.fromEntries(new URLSearchParams((await page.evaluate(() => location.hash)).slice(1)));
    expect((await verifyIdToken(b.issuer, f.id_token!, SPA.id)).nonce).toBe('n-chromium');
    expect(f.state).toBe('st4te');
    expect(spaRequests.filter((u) => u !== '/favicon.ico')).toEqual(['/cb']);
    await page.close();
  });
});
