/**
 * The implicit and hybrid flows attacked (RFC 9700 section 4, OIDC Core 3.2 and 3.3, Multiple
 * Response Type Encoding Practices, Form Post Response Mode): tokens only to a registered URI
 * the browser reaches safely, never in the query; a connector's grantTypes honoured on every way
 * to tokens; codes, ID tokens and access tokens kept to their own use.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { TestBroker } from '../helpers/broker.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { getPage } from '../helpers/http.js';
import { browse, firstForm, verifyIdToken, type BrowseOptions, type ClientCredentials, type CookieJar } from '../helpers/rp.js';
import { CLIENTS, OTHER, authUrl, payloadOf, redeem, startConformanceBroker } from './support.js';

/** A confidential client whose only redirect URI is plain http on a host that is not loopback. */
const PLAIN_HTTP: Required<ClientCredentials> = { id: 'plain-http', secret: 'plain-http-secret', redirectURI: 'http://app.example.test/cb' };

/** Every response type, skipApprovalScreen, one connector for every grant and one limited to the code flow. */
let b: TestBroker;
/** Every response type with the approval page. */
let approving: TestBroker;

beforeAll(async () => {
  const connectors = [
    { type: 'mockCallback', id: 'mock', name: 'Example' },
    { type: 'mockCallback', id: 'code-only', name: 'Code only', grantTypes: ['authorization_code'] },
  ];
  const staticClients = [...CLIENTS, { id: PLAIN_HTTP.id, secret: PLAIN_HTTP.secret, redirectURIs: [PLAIN_HTTP.redirectURI], name: 'Plain http' }];
  b = await startConformanceBroker({ staticClients, connectors, oauth2: { responseTypes: ['code', 'token', 'id_token'], skipApprovalScreen: true } });
  approving = await startConformanceBroker({ oauth2: { responseTypes: ['code', 'token', 'id_token'] } });
});

afterAll(async () => {
  await b.close();
  await approving.close();
});

const fragmentOf = (url: URL) => Object.fromEntries(new URLSearchParams(url.hash.slice(1)));

async function land(issuer: string, params: Record<string, string>, client: ClientCredentials = TEST_CLIENT, options: BrowseOptions = {}): Promise<URL> {
  const { landed, page } = await browse(authUrl(issuer, params, client), client.redirectURI, options);
  if (!landed) throw new Error(`the login did not reach the client: ${page?.status} ${page?.body.slice(0, 300)}`);
  return landed;
}

describe("a connector's grantTypes", () => {
  test('prompt=none from a session of a connector that leaves out implicit gives no tokens: login_required in the fragment', async () => {
    const jar: CookieJar = new Map();
    // A code-flow login with the code-only connector leaves a login session for it.
    const first = await land(b.issuer, { connector_id: 'code-only' }, TEST_CLIENT, { jar });
    expect(first.searchParams.get('code')).toBeTruthy();
    const { connector_id: _, ...rest } = Object.fromEntries(new URL(authUrl(b.issuer, { response_type: 'id_token token', nonce: 'n', prompt: 'none' })).searchParams);
    const { landed } = await browse(`${b.issuer}/auth?${new URLSearchParams(rest)}`, TEST_CLIENT.redirectURI, { jar });
    const f = fragmentOf(landed!);
    expect(f.access_token).toBeUndefined();
    expect(f.id_token).toBeUndefined();
    expect(f).toMatchObject({ error: 'login_required', state: 'st4te' });
  });

  test('/auth offers only the connectors that allow the grant, as Dex: one left, straight to it', async () => {
    const params = { response_type: 'id_token', nonce: 'n', connector_id: '' };
    const url = new URL(authUrl(b.issuer, params));
    url.searchParams.delete('connector_id');
    const res = await getPage(url.toString());
    expect(res.status).toBe(303);
    expect(new URL(res.location!).pathname).toBe('/dex/auth/mock');
    // The code flow still offers both.
    url.searchParams.set('response_type', 'code');
    const list = await getPage(url.toString());
    expect(list.status).toBe(200);
    expect(list.body).toContain('/auth/code-only?');
  });
});

describe('where tokens go', () => {
  test('an http redirect URI on a host that is not loopback gets no tokens (OIDC Core 3.2.2.1): invalid_request, in the fragment', async () => {
    for (const responseType of ['id_token', 'id_token token', 'code id_token', 'code token']) {
      const { landed } = await browse(authUrl(b.issuer, { response_type: responseType, nonce: 'n' }, PLAIN_HTTP), PLAIN_HTTP.redirectURI);
      const f = fragmentOf(landed!);
      expect(f.access_token).toBeUndefined();
      expect(f.id_token).toBeUndefined();
      expect(f.code).toBeUndefined();
      expect(f.error).toBe('invalid_request');
    }
    // The code flow to that URI stays as in Dex (a confidential client may use http).
    const { landed } = await browse(authUrl(b.issuer, {}, PLAIN_HTTP), PLAIN_HTTP.redirectURI);
    expect(landed!.searchParams.get('code')).toBeTruthy();
  });

  test('the form_post page: no caching, no referrer, no framing, scripts limited to the page itself', async () => {
    let headers: Headers | undefined;
    await browse(authUrl(b.issuer, { response_type: 'id_token token', nonce: 'n', response_mode: 'form_post' }), TEST_CLIENT.redirectURI, {
      onPage: async (page) => {
        if (page.body.includes('document.forms[0].submit()')) headers = page.headers;
        return undefined;
      },
    });
    expect(headers?.get('cache-control')).toBe('no-store');
    expect(headers?.get('referrer-policy')).toBe('no-referrer');
    expect(headers?.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(headers?.get('content-security-policy')).toContain("default-src 'none'");
  });

  test('an unknown response_mode with tokens: invalid_request in the fragment, nothing in the query', async () => {
    const res = await getPage(authUrl(b.issuer, { response_type: 'id_token', nonce: 'n', response_mode: 'web_message' }));
    const to = new URL(res.location!);
    expect(to.search).toBe('');
    expect(fragmentOf(to).error).toBe('invalid_request');
  });
});

describe('tokens kept to their own use', () => {
  test('an ID token from /auth is not an access token at /userinfo', async () => {
    const f = fragmentOf(await land(b.issuer, { response_type: 'id_token', nonce: 'n' }));
    const info = await fetch(`${b.issuer}/userinfo`, { headers: { authorization: `Bearer ${f.id_token}` } });
    expect(info.status).toBe(401);
  });

  test("a hybrid response's code redeemed by another client: invalid_grant, and used up for its own client", async () => {
    const f = fragmentOf(await land(b.issuer, { response_type: 'code id_token', nonce: 'n' }));
    const stolen = await redeem(b.issuer, f.code!, OTHER, { redirect_uri: TEST_CLIENT.redirectURI });
    expect(stolen.body.error).toBe('invalid_grant');
    expect((await redeem(b.issuer, f.code!)).body.error).toBe('invalid_grant');
  });

  test('the nonce comes back byte for byte; the implicit ID token has the claims /token gives for the same scopes', async () => {
    const nonce = 'n 0S6_WzA2Mj+/é"<';
    const scope = 'openid email groups profile';
    const f = fragmentOf(await land(b.issuer, { response_type: 'code id_token', nonce, scope }));
    const front = await verifyIdToken(b.issuer, f.id_token!);
    expect(front.nonce).toBe(nonce);
    const back = payloadOf(String((await redeem(b.issuer, f.code!)).body.id_token));
    const strip = (claims: Record<string, unknown>) => {
      const { iat: _i, exp: _e, c_hash: _c, at_hash: _a, ...rest } = claims;
      return rest;
    };
    expect(strip(front)).toEqual(strip(back));
    expect(front).toMatchObject({ email: 'kilgore@kilgore.trout', groups: ['authors'] });
  });

  test('an approval posted twice gives tokens once', async () => {
    let approval: { url: string; form: Record<string, string> } | undefined;
    const jar: CookieJar = new Map();
    const first = await land(approving.issuer, { response_type: 'id_token token', nonce: 'n' }, TEST_CLIENT, {
      jar,
      onPage: async (page) => {
        if (!page.body.includes('name="approval"')) return undefined;
        const form = firstForm(page.body, page.url)!;
        approval = { url: form.action, form: form.fields };
        return { url: form.action, method: 'POST', form: form.fields };
      },
    });
    expect(fragmentOf(first).access_token).toBeTruthy();
    const cookie = [...(jar.get(new URL(approving.issuer).host) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
    const again = await fetch(approval!.url, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(approval!.form) });
    expect(again.status).toBe(400);
    expect(again.headers.get('location')).toBeNull();
  });
});
