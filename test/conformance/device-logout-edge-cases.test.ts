/**
 * Unusual-but-legitimate and hostile requests to the device flow (RFC 8628), RP-initiated logout
 * and the approval page, beyond test/endpoints/device.test.ts and test/conformance/logout.test.ts:
 * user codes as people type them, polling after slow_down and past expiry, another client's
 * device code, logout refusals that must leave the session alone, approval submitted twice,
 * denied or expired.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { enterUserCode, pollOnce } from '../helpers/device.js';
import { getPage, leaksNothing, postForm } from '../helpers/http.js';
import { browse, firstForm, login, startLogin, type CookieJar } from '../helpers/rp.js';
import { CLIENTS, OTHER, startConformanceBroker } from './support.js';

const BYE = 'http://127.0.0.1:5555/bye';
const KUBECTL = { client_id: 'kubectl' };
// An hour in the past, so that moving the clock on leaves openid-client's own checks happy.
const clock = frozenClock(Date.now() - 3_600_000);
let b: TestBroker;

beforeAll(async () => {
  b = await startConformanceBroker(
    {
      oauth2: { skipApprovalScreen: false },
      staticClients: [
        ...CLIENTS.map((c) => (c.id === TEST_CLIENT.id ? { ...c, postLogoutRedirectURIs: [BYE] } : c)),
        { id: 'kubectl', public: true, name: 'Kubernetes' },
      ],
    },
    { now: clock },
  );
});
afterAll(() => b.close());

const cookieOf = (jar: CookieJar) => [...(jar.get(new URL(b.issuer).host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ');

async function post(url: string, form: Record<string, string>, jar?: CookieJar): Promise<{ status: number; location: string | null; body: string }> {
  const res = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(jar ? { cookie: cookieOf(jar) } : {}) },
    body: new URLSearchParams(form),
  });
  return { status: res.status, location: res.headers.get('location'), body: await res.text() };
}

async function startDevice(): Promise<{ device_code: string; user_code: string; verification_uri: string; verification_uri_complete: string }> {
  const res = await postForm(`${b.issuer}/device/code`, { ...KUBECTL, scope: 'openid' });
  expect(res.status).toBe(200);
  return res.body as never;
}

describe('device flow', () => {
  test.each([
    ['lower case with its dash', (c: string) => c.toLowerCase()],
    ['spaces instead of the dash', (c: string) => c.replace('-', ' ')],
    ['spaces between letters and around', (c: string) => ` ${c.replace('-', '').split('').join(' ')} `.slice(0, 20)],
    ['an en dash (a phone keyboard\'s dash)', (c: string) => c.replace('-', '\u2013')],
    ['a dot', (c: string) => c.replace('-', '.')],
    ['fullwidth letters (an East Asian keyboard)', (c: string) => [...c].map((ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0)).join('')],
  ])('a user code typed with %s is accepted (RFC 8628 6.1)', async (_name, retype) => {
    const res = await startDevice();
    const page = (await enterUserCode(res.verification_uri, { typed: [retype(res.user_code)] })).page!;
    expect(page.body).toContain('Login successful for Kubernetes');
    expect((await pollOnce(b.issuer, res.device_code, KUBECTL)).status).toBe(200);
  });

  test('punctuation is ignored, letters are not: a ninth letter or a digit is still a wrong code', async () => {
    const res = await startDevice();
    for (const typed of [`${res.user_code}B`, `${res.user_code.slice(0, 4)}1${res.user_code.slice(5)}`]) {
      const page = (await enterUserCode(res.verification_uri, { typed: [typed] })).page!;
      expect(page.status).toBe(400);
      expect(page.body).toContain('wrong or has expired');
    }
  });

  test('verification_uri_complete only prefills the form: nothing starts until the user submits', async () => {
    const res = await startDevice();
    const page = await getPage(res.verification_uri_complete);
    expect(page.status).toBe(200);
    expect(page.body).toContain(`value="${res.user_code}"`);
    expect((await pollOnce(b.issuer, res.device_code, KUBECTL)).body.error).toBe('authorization_pending');
  });

  test('a device that obeys slow_down (waits the longer interval) hears authorization_pending again', async () => {
    const res = await startDevice();
    expect((await pollOnce(b.issuer, res.device_code, KUBECTL)).body.error).toBe('authorization_pending');
    clock.advance(1_000);
    expect((await pollOnce(b.issuer, res.device_code, KUBECTL)).body.error).toBe('slow_down');
    clock.advance(10_000);
    expect((await pollOnce(b.issuer, res.device_code, KUBECTL)).body.error).toBe('authorization_pending');
  });

  test('another client polling the device code gets invalid_grant and does not slow the owner down', async () => {
    const res = await startDevice();
    expect((await pollOnce(b.issuer, res.device_code, KUBECTL)).body.error).toBe('authorization_pending');
    clock.advance(5_000);
    const stolen = await pollOnce(b.issuer, res.device_code, { client_id: TEST_CLIENT.id, client_secret: TEST_CLIENT.secret });
    expect(stolen.body.error).toBe('invalid_grant');
    expect((await pollOnce(b.issuer, res.device_code, KUBECTL)).body.error).toBe('authorization_pending');
  });

  test('approved but collected after the deadline: expired_token, then invalid_grant once the record is gone', async () => {
    const res = await startDevice();
    await enterUserCode(res.verification_uri_complete);
    clock.advance(300_001);
    expect((await pollOnce(b.issuer, res.device_code, KUBECTL)).body.error).toBe('expired_token');
    clock.advance(31 * 60_000);
    expect((await pollOnce(b.issuer, res.device_code, KUBECTL)).body.error).toBe('invalid_grant');
  });

  test('a denied device code cannot be typed again, and the device hears access_denied once', async () => {
    const res = await startDevice();
    expect((await enterUserCode(res.verification_uri_complete, { approve: false })).page!.body).toContain('Access refused');
    const again = (await enterUserCode(res.verification_uri_complete)).page!;
    expect(again.status).toBe(400);
    expect((await pollOnce(b.issuer, res.device_code, KUBECTL)).body.error).toBe('access_denied');
    expect((await pollOnce(b.issuer, res.device_code, KUBECTL)).body.error).toBe('invalid_grant');
  });

  test('a code form posted without its CSRF token is refused and the code still works', async () => {
    const res = await startDevice();
    const forged = await post(`${b.issuer}/device/auth/verify_code`, { user_code: res.user_code });
    expect(forged.status).toBe(403);
    expect((await enterUserCode(res.verification_uri_complete)).page!.body).toContain('Login successful');
  });

  test('/device/code with a parameter sent twice is a JSON invalid_request', async () => {
    const res = await fetch(`${b.issuer}/device/code`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=kubectl&scope=openid&scope=email' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
  });
});

describe('logout', () => {
  async function loggedIn(): Promise<{ jar: CookieJar; idToken: string }> {
    const jar: CookieJar = new Map();
    const { tokens } = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid' });
    return { jar, idToken: tokens.id_token! };
  }
  async function stillLoggedIn(jar: CookieJar): Promise<boolean> {
    const silent = await startLogin(b.issuer, { jar, connectorId: 'mock', params: { prompt: 'none', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' } });
    // Approval is on, so a remembered login answers prompt=none with consent_required.
    const error = silent.landed?.searchParams.get('error');
    if (error !== 'consent_required' && error !== 'login_required') throw new Error(`prompt=none answered ${silent.landed?.search ?? silent.page?.status}`);
    return error === 'consent_required';
  }
  const logoutUrl = (params: Record<string, string>) => `${b.issuer}/logout?${new URLSearchParams(params)}`;

  test.each([
    ['an unregistered post_logout_redirect_uri', (hint: string) => ({ id_token_hint: hint, post_logout_redirect_uri: 'https://evil.example/' })],
    ['a registered URI of another letter case', (hint: string) => ({ id_token_hint: hint, post_logout_redirect_uri: BYE.toUpperCase() })],
    ['an empty post_logout_redirect_uri', (hint: string) => ({ id_token_hint: hint, post_logout_redirect_uri: '' })],
    ['client_id that contradicts the hint', (hint: string) => ({ id_token_hint: hint, client_id: OTHER.id })],
    ['a hint that is not a JWT', () => ({ id_token_hint: 'not.a.jwt', post_logout_redirect_uri: BYE })],
    ['an unknown client_id', () => ({ client_id: 'nobody', post_logout_redirect_uri: BYE })],
  ])('%s: a 400 page, no redirect, and the user stays logged in', async (_name, params) => {
    const { jar, idToken } = await loggedIn();
    const res = await getPage(logoutUrl(params(idToken)), { cookie: cookieOf(jar) });
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
    expect(leaksNothing(res.body)).toBe(true);
    expect(await stillLoggedIn(jar)).toBe(true);
  });

  test('an access token as id_token_hint is refused', async () => {
    const jar: CookieJar = new Map();
    const { tokens } = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid' });
    const res = await getPage(logoutUrl({ id_token_hint: tokens.access_token, post_logout_redirect_uri: BYE }), { cookie: cookieOf(jar) });
    expect(res.status).toBe(400);
    expect(await stillLoggedIn(jar)).toBe(true);
  });

  test('state with reserved characters comes back exactly, by GET and by POST', async () => {
    const state = 'a b&c=d/é?#%';
    for (const method of ['GET', 'POST'] as const) {
      const { jar, idToken } = await loggedIn();
      const params = { id_token_hint: idToken, post_logout_redirect_uri: BYE, state };
      const res = method === 'GET' ? await getPage(logoutUrl(params), { cookie: cookieOf(jar) }) : await post(`${b.issuer}/logout`, params, jar);
      expect(res.status).toBe(303);
      const loc = new URL(res.location!);
      expect(`${loc.origin}${loc.pathname}`).toBe(BYE);
      expect(loc.searchParams.get('state')).toBe(state);
      expect(await stillLoggedIn(jar)).toBe(false);
    }
  });

  test('a parameter sent twice is a 400 page, not a 500', async () => {
    const { jar, idToken } = await loggedIn();
    const res = await getPage(`${b.issuer}/logout?id_token_hint=${idToken}&post_logout_redirect_uri=${encodeURIComponent(BYE)}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F`, { cookie: cookieOf(jar) });
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
    expect(await stillLoggedIn(jar)).toBe(true);
  });

  test('the confirmation page escapes a hostile state and carries it back', async () => {
    const { jar } = await loggedIn();
    const state = '"><img src=x onerror=alert(1)>';
    const asked = await getPage(logoutUrl({ client_id: TEST_CLIENT.id, post_logout_redirect_uri: BYE, state }), { cookie: cookieOf(jar) });
    expect(asked.status).toBe(200);
    expect(asked.body).not.toContain('<img src=x');
    const form = firstForm(asked.body, `${b.issuer}/logout`)!;
    expect(form.fields.state).toBe(state);
    const done = await post(form.action, form.fields, jar);
    expect(done.status).toBe(303);
    expect(new URL(done.location!).searchParams.get('state')).toBe(state);
  });

  test('a confirmation whose post_logout_redirect_uri was swapped for an unregistered one does not redirect', async () => {
    const { jar } = await loggedIn();
    const asked = await getPage(logoutUrl({ client_id: TEST_CLIENT.id, post_logout_redirect_uri: BYE }), { cookie: cookieOf(jar) });
    const form = firstForm(asked.body, `${b.issuer}/logout`)!;
    const res = await post(form.action, { ...form.fields, post_logout_redirect_uri: 'https://evil.example/' }, jar);
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
    expect(await stillLoggedIn(jar)).toBe(true);
  });
});

describe('approval', () => {
  /** Logs in up to the approval page and stops there; the browser's jar and the page's forms. */
  async function atApproval(params: Record<string, string> = {}) {
    const jar: CookieJar = new Map();
    let approve: { action: string; fields: Record<string, string> } | undefined;
    let deny: { action: string; fields: Record<string, string> } | undefined;
    await startLogin(b.issuer, {
      jar,
      connectorId: 'mock',
      params: { code_challenge: 'c'.repeat(43), code_challenge_method: 'S256', ...params },
      onPage: async (page) => {
        if (!page.body.includes('name="approval"')) return undefined;
        approve = firstForm(page.body, page.url, 0);
        deny = firstForm(page.body, page.url, 1);
        return { url: `${TEST_CLIENT.redirectURI}?stopped=1` };
      },
    });
    return { jar, approve: approve!, deny: deny! };
  }

  test('submitted twice: one code, then a 400 page without a redirect', async () => {
    const { jar, approve } = await atApproval();
    const first = await post(approve.action, approve.fields, jar);
    expect(first.status).toBe(303);
    expect(new URL(first.location!).searchParams.get('code')).toBeTruthy();
    const second = await post(approve.action, approve.fields, jar);
    expect(second.status).toBe(400);
    expect(second.location).toBeNull();
  });

  test('approved twice at once: exactly one code', async () => {
    const { jar, approve } = await atApproval();
    const answers = await Promise.all([1, 2, 3].map(() => post(approve.action, approve.fields, jar)));
    expect(answers.filter((a) => a.status === 303)).toHaveLength(1);
  });

  test('denied: access_denied with state and iss at the client, and the approval cannot be used after', async () => {
    const { jar, approve, deny } = await atApproval({ state: 'st-1' });
    const res = await post(deny.action, deny.fields, jar);
    expect(res.status).toBe(303);
    const loc = new URL(res.location!);
    expect(`${loc.origin}${loc.pathname}`).toBe(TEST_CLIENT.redirectURI);
    expect(loc.searchParams.get('error')).toBe('access_denied');
    expect(loc.searchParams.get('state')).toBe('st-1');
    expect(loc.searchParams.get('iss')).toBe(b.issuer);
    expect(loc.searchParams.has('code')).toBe(false);
    const late = await post(approve.action, approve.fields, jar);
    expect(late.status).toBe(400);
    expect(late.location).toBeNull();
  });

  test('denied with response_mode=form_post: the error is posted to the client', async () => {
    const { jar, deny } = await atApproval({ response_mode: 'form_post', state: 'st-2' });
    const res = await post(deny.action, deny.fields, jar);
    expect(res.status).toBe(200);
    const form = firstForm(res.body, b.issuer)!;
    expect(form.action).toBe(TEST_CLIENT.redirectURI);
    expect(form.fields).toMatchObject({ error: 'access_denied', state: 'st-2' });
  });

  test('after the auth request expired: a 400 page, no redirect', async () => {
    const { jar, approve, deny } = await atApproval();
    clock.advance(24 * 3_600_000 + 1_000);
    for (const form of [approve, deny]) {
      const res = await post(form.action, form.fields, jar);
      expect(res.status).toBe(400);
      expect(res.location).toBeNull();
      expect(res.body).toContain('expired');
    }
  });

  test('a wrong hmac, or none, is refused for approval and for denial', async () => {
    const { jar, approve, deny } = await atApproval();
    for (const form of [approve, deny]) {
      for (const hmac of ['x', '']) {
        const res = await post(form.action, { ...form.fields, hmac }, jar);
        expect(res.status).toBe(400);
        expect(res.location).toBeNull();
      }
    }
    expect((await post(approve.action, approve.fields, jar)).status).toBe(303);
  });
});
