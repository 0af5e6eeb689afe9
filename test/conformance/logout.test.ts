/**
 * OpenID Connect RP-Initiated Logout 1.0, as the Foundation's RP-initiated logout plan checks it
 * (oidcc-rp-initiated-logout-*): GET and POST, the redirect only to a registered
 * post_logout_redirect_uri of the client the hint or client_id names, state passed back or
 * left out, a modified hint or an added query never redirected, an expired hint still accepted.
 * The basic cases (registered URI, unregistered URI, alg none, no hint) are in
 * test/endpoints/sessions.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { getPage } from '../helpers/http.js';
import { browse, firstForm, login, startLogin, type CookieJar } from '../helpers/rp.js';
import { CLIENTS, OTHER, startConformanceBroker } from './support.js';

const BYE = 'http://127.0.0.1:5555/bye';
// An hour in the past: logins stay valid for openid-client; the expired-hint test, last, moves past expiry.
const clock = frozenClock(Date.now() - 3_600_000);
let b: TestBroker;

beforeAll(async () => {
  b = await startConformanceBroker(
    {
      // A second connector gives another subject for the same upstream user: "someone else".
      connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }, { type: 'mockCallback', id: 'other-idp', name: 'Other IdP' }],
      staticClients: CLIENTS.map((c) => (c.id === TEST_CLIENT.id || c.id === OTHER.id ? { ...c, postLogoutRedirectURIs: [c.id === OTHER.id ? 'http://127.0.0.1:5556/bye' : BYE] } : c)),
    },
    { now: clock },
  );
});
afterAll(() => b.close());

const logoutUrl = (params: Record<string, string>) => `${b.issuer}/logout?${new URLSearchParams(params)}`;

/** A browser logged in with mockCallback, and its ID token. */
async function loggedIn(): Promise<{ jar: CookieJar; idToken: string }> {
  const jar: CookieJar = new Map();
  const { tokens } = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid' });
  return { jar, idToken: tokens.id_token! };
}

/** Clicks "Log out" on the confirmation page. */
async function confirmLogout(page: { url: string; body: string }) {
  if (!page.body.includes('id="confirm-logout"')) return undefined;
  const form = firstForm(page.body, page.url)!;
  return { url: form.action, method: 'POST' as const, form: form.fields };
}

async function stillLoggedIn(jar: CookieJar): Promise<boolean> {
  const silent = await startLogin(b.issuer, { jar, params: { prompt: 'none', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' } });
  return Boolean(silent.landed?.searchParams.get('code'));
}

describe('RP-initiated logout', () => {
  test('by POST: back to the registered URI with state, and the session is gone', async () => {
    const { jar, idToken } = await loggedIn();
    expect(await stillLoggedIn(jar)).toBe(true);
    const host = new URL(b.issuer).host;
    const res = await fetch(`${b.issuer}/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: [...(jar.get(host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ') },
      body: new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: BYE, state: 'posted' }),
    });
    expect(res.status).toBe(303);
    const loc = new URL(res.headers.get('location')!);
    expect(`${loc.origin}${loc.pathname}`).toBe(BYE);
    expect(loc.searchParams.get('state')).toBe('posted');
    expect(await stillLoggedIn(jar)).toBe(false);
  });

  test('without state: the redirect carries no state', async () => {
    const { jar, idToken } = await loggedIn();
    const { landed } = await browse(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: BYE }), BYE, { jar });
    expect(landed).toBeDefined();
    expect(landed!.searchParams.has('state')).toBe(false);
  });

  test('only state: the user is asked to confirm; confirmed, a logged-out page, no redirect, the session is gone', async () => {
    const { jar } = await loggedIn();
    const host = new URL(b.issuer).host;
    const cookie = [...(jar.get(host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ');
    const asked = await getPage(logoutUrl({ state: 'lonely' }), { cookie });
    expect(asked.status).toBe(200);
    expect(asked.body).toContain('Log out?');
    expect(await stillLoggedIn(jar)).toBe(true);
    const done = await browse(logoutUrl({ state: 'lonely' }), 'http://127.0.0.1:1/never', { jar, onPage: confirmLogout });
    expect(done.page?.status).toBe(200);
    expect(done.page?.body).toContain('You have been logged out');
    expect(await stillLoggedIn(jar)).toBe(false);
  });

  test('a confirmation posted without its CSRF token (from another site) logs nobody out', async () => {
    const { jar } = await loggedIn();
    const host = new URL(b.issuer).host;
    const res = await fetch(`${b.issuer}/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: [...(jar.get(host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ') },
      body: new URLSearchParams({ confirm: 'yes' }),
    });
    expect(res.status).toBe(403);
    expect(await stillLoggedIn(jar)).toBe(true);
  });

  test('client_id instead of a hint: after confirming, redirected to that client\'s registered URI', async () => {
    const { jar } = await loggedIn();
    const { landed } = await browse(logoutUrl({ client_id: TEST_CLIENT.id, post_logout_redirect_uri: BYE, state: 's' }), BYE, { jar, onPage: confirmLogout });
    expect(landed?.searchParams.get('state')).toBe('s');
    expect(await stillLoggedIn(jar)).toBe(false);
  });

  test('a hint for another user (an attacker\'s own ID token on a link) asks the victim to confirm, and logs nobody out', async () => {
    const { jar } = await loggedIn();
    const { tokens } = await login(b.issuer, { jar: new Map(), connectorId: 'other-idp', scope: 'openid' });
    const host = new URL(b.issuer).host;
    const cookie = [...(jar.get(host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ');
    const asked = await getPage(logoutUrl({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: BYE, state: 'x' }), { cookie });
    expect(asked.status).toBe(200);
    expect(asked.body).toContain('Log out?');
    expect(await stillLoggedIn(jar)).toBe(true);
  });

  test('a hint for another user, confirmed: logged out and back to the hint client\'s registered URI', async () => {
    const { jar } = await loggedIn();
    const { tokens } = await login(b.issuer, { jar: new Map(), connectorId: 'other-idp', scope: 'openid' });
    const { landed } = await browse(logoutUrl({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: BYE, state: 'y' }), BYE, { jar, onPage: confirmLogout });
    expect(landed?.searchParams.get('state')).toBe('y');
    expect(await stillLoggedIn(jar)).toBe(false);
  });

  test.each([
    ['a registered URI with a query added', (hint: string) => ({ id_token_hint: hint, post_logout_redirect_uri: `${BYE}?extra=1` })],
    ['another client\'s registered URI', (hint: string) => ({ id_token_hint: hint, post_logout_redirect_uri: 'http://127.0.0.1:5556/bye' })],
    ['a URI without a hint or client_id', () => ({ post_logout_redirect_uri: BYE })],
    ['a hint whose signature was modified', (hint: string) => ({ id_token_hint: `${hint.slice(0, -4)}${hint.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`, post_logout_redirect_uri: BYE })],
    ['a hint whose payload was modified', (hint: string) => {
      const [h, p, s] = hint.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
      return { id_token_hint: `${h}.${Buffer.from(JSON.stringify({ ...claims, aud: OTHER.id })).toString('base64url')}.${s}`, post_logout_redirect_uri: 'http://127.0.0.1:5556/bye' };
    }],
    ['client_id that contradicts the hint', (hint: string) => ({ id_token_hint: hint, client_id: OTHER.id, post_logout_redirect_uri: 'http://127.0.0.1:5556/bye' })],
  ])('%s: an error page, never a redirect', async (_name, params) => {
    const { idToken } = await loggedIn();
    const res = await getPage(logoutUrl(params(idToken)));
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
  });

  test('an expired hint is still accepted (the plan logs out with old ID tokens)', async () => {
    const { idToken } = await loggedIn();
    clock.advance(25 * 3_600_000);
    const res = await getPage(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: BYE }));
    expect(res.status).toBe(303);
    expect(res.location).toContain(BYE);
  });
});
