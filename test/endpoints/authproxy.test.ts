/**
 * The authproxy connector trusts identity headers only on its own callback, `/callback/<id>`,
 * which the authenticating proxy in front guards: with custom header names (`userHeader:
 * X-Forwarded-User`, as Dex allows) the headers are removed everywhere else, and a login's
 * answer is taken only on the callback path of the connector the login started with.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { cookieBrowser, type CookieBrowser } from '../helpers/http.js';
import { verifyIdToken } from '../helpers/rp.js';
import { authUrl, pkcePair, redeem } from '../conformance/support.js';

let b: TestBroker;
const pkce = pkcePair();

beforeAll(async () => {
  b = await startBroker({
    connectors: [
      { type: 'authproxy', id: 'fwd', name: 'Forwarded', config: { userHeader: 'X-Forwarded-User', emailHeader: 'X-Forwarded-Email' } },
      { type: 'authproxy', id: 'proxy', name: 'Proxy' },
      { type: 'mockCallback', id: 'mock', name: 'Example' },
    ],
  });
});
afterAll(() => b.close());

/** Starts a login with `connector` in `who`; returns the auth request id (the callback's state). */
async function start(who: CookieBrowser, connector: string): Promise<{ state: string; callback: string }> {
  const first = await who.send(authUrl(b.issuer, { connector_id: connector, code_challenge: pkce.challenge, code_challenge_method: 'S256', scope: 'openid email' }));
  const toConnector = await who.send(new URL(first.location!, b.issuer).toString());
  const callback = new URL(toConnector.location!, b.issuer);
  return { state: callback.searchParams.get('state')!, callback: callback.toString() };
}

describe('custom header names (userHeader: X-Forwarded-User)', () => {
  test('on its own callback the proxy-set header logs the user in', async () => {
    const browser = cookieBrowser();
    const { callback } = await start(browser, 'fwd');
    expect(new URL(callback).pathname).toBe('/dex/callback/fwd');
    const res = await browser.send(callback, { headers: { 'X-Forwarded-User': 'jane', 'X-Forwarded-Email': 'jane@example.com' } });
    expect(res.status).toBe(303);
    const code = new URL(res.location!).searchParams.get('code')!;
    const tokens = await redeem(b.issuer, code, TEST_CLIENT, { code_verifier: pkce.verifier });
    expect((await verifyIdToken(b.issuer, tokens.body.id_token as string)).email).toBe('jane@example.com');
  });

  test.each([
    ['the generic /callback', '/callback'],
    ["another connector's callback", '/callback/mock'],
    ["another authproxy connector's callback", '/callback/proxy'],
  ])('the header sent straight to %s (skipping the proxy) is refused', async (_what, path) => {
    const attacker = cookieBrowser();
    const { state } = await start(attacker, 'fwd');
    const res = await attacker.send(`${b.issuer}${path}?state=${encodeURIComponent(state)}`, { headers: { 'X-Forwarded-User': 'admin', 'X-Remote-User': 'admin', 'X-Forwarded-Email': 'admin@example.com' } });
    expect(res.status).toBe(400);
    expect(res.body).toContain('another login method');
    expect(res.location).toBeNull();
  });
});

test("a login with the default header names cannot be finished on another authproxy connector's callback either", async () => {
  const attacker = cookieBrowser();
  const { state } = await start(attacker, 'proxy');
  const res = await attacker.send(`${b.issuer}/callback/fwd?state=${encodeURIComponent(state)}`, { headers: { 'X-Forwarded-User': 'admin' } });
  expect(res.status).toBe(400);
  // The login itself is still good on its own callback.
  const own = await attacker.send(`${b.issuer}/callback/proxy?state=${encodeURIComponent(state)}`, { headers: { 'X-Remote-User': 'kilgore' } });
  expect(own.status).toBe(303);
  expect(own.location).toMatch(new RegExp(`^${TEST_CLIENT.redirectURI}\\?code=`));
});
