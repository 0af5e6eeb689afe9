/** The broker's login session: prompt=none, prompt=login, max_age and auth_time, and logout. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { getPage } from '../helpers/http.js';
import { login, startLogin, type CookieJar } from '../helpers/rp.js';

const clock = frozenClock(Date.now());
let b: TestBroker;
const LOGOUT_TARGET = 'http://127.0.0.1:5555/logged-out';

beforeAll(async () => {
  b = await startBroker(
    {
      connectors: [
        { type: 'mockCallback', id: 'mock', name: 'Example' },
        { type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: 'trout' } },
      ],
      staticClients: [{ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], postLogoutRedirectURIs: [LOGOUT_TARGET] }],
    },
    { now: clock },
  );
});
afterAll(() => b.close());

describe('prompt and max_age', () => {
  test('prompt=none without a session: login_required back to the client', async () => {
    const result = await startLogin(b.issuer, { params: { prompt: 'none' } });
    expect(result.landed?.searchParams.get('error')).toBe('login_required');
    expect(result.landed?.searchParams.get('state')).toBe(result.state);
  });

  test('prompt=none with a session: a code without any page, and auth_time of the real login', async () => {
    const jar: CookieJar = new Map();
    const first = await login(b.issuer, { jar, connectorId: 'pw', scope: 'openid email', password: { username: 'kilgore', password: 'trout' } });
    clock.advance(60_000);
    const silent = await login(b.issuer, { jar, scope: 'openid email', params: { prompt: 'none' } });
    expect(silent.claims.sub).toBe(first.claims.sub);
    expect(silent.claims.auth_time).toBe(first.claims.auth_time);
    expect(silent.claims.iat).toBe((first.claims.iat as number) + 60);
  });

  test('max_age: a session older than max_age cannot be used silently; prompt=login logs in again', async () => {
    const jar: CookieJar = new Map();
    const first = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid' });
    clock.advance(120_000);
    const stale = await startLogin(b.issuer, { jar, params: { prompt: 'none', max_age: '60' } });
    expect(stale.landed?.searchParams.get('error')).toBe('login_required');
    const again = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid', params: { prompt: 'login', max_age: '60' } });
    expect(again.claims.auth_time).toBe((first.claims.auth_time as number) + 120);
  });

  test('prompt=none combined with another value is invalid_request', async () => {
    const result = await startLogin(b.issuer, { params: { prompt: 'none login' } });
    expect(result.landed?.searchParams.get('error')).toBe('invalid_request');
  });
});

describe('RP-initiated logout', () => {
  test('logout forgets the session and returns to a registered post_logout_redirect_uri with state', async () => {
    const jar: CookieJar = new Map();
    const { tokens } = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid' });
    const url = `${b.issuer}/logout?${new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: LOGOUT_TARGET, state: 'bye' })}`;
    const result = await startLogin(b.issuer, { jar, params: { prompt: 'none' } });
    expect(result.landed?.searchParams.get('code')).toBeTruthy();
    const { browse } = await import('../helpers/rp.js');
    const out = await browse(url, LOGOUT_TARGET, { jar });
    expect(out.landed?.searchParams.get('state')).toBe('bye');
    const after = await startLogin(b.issuer, { jar, params: { prompt: 'none' } });
    expect(after.landed?.searchParams.get('error')).toBe('login_required');
  });

  test('an unregistered post_logout_redirect_uri is an error page, not a redirect', async () => {
    const { tokens } = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    const res = await getPage(`${b.issuer}/logout?${new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.example/' })}`);
    expect(res.status).toBe(400);
    expect(res.location).toBeNull();
  });

  test('a forged id_token_hint is refused; no hint asks the user to confirm', async () => {
    const forged = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(`{"iss":"${b.issuer}","aud":"${TEST_CLIENT.id}"}`).toString('base64url')}.`;
    expect((await getPage(`${b.issuer}/logout?id_token_hint=${forged}&post_logout_redirect_uri=${encodeURIComponent(LOGOUT_TARGET)}`)).status).toBe(400);
    const plain = await getPage(`${b.issuer}/logout`);
    expect(plain.status).toBe(200);
    expect(plain.body).toContain('Log out?');
  });

  test('discovery publishes the end_session_endpoint', async () => {
    const doc = (await (await fetch(`${b.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(doc.end_session_endpoint).toBe(`${b.issuer}/logout`);
  });
});

describe('an https issuer behind a TLS-terminating proxy', () => {
  test('the session cookie is set Secure; SameSite=None when the proxy says https, and not over plain http', async () => {
    const http = await import('node:http');
    const { createBroker } = await import('../../lib/broker.js');
    const { connectors } = await import('../../strategies/index.js');
    const { pino } = await import('pino');
    const broker = await createBroker(
      { issuer: 'https://sso.example.com/dex', storage: { type: 'memory' }, connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }] },
      { connectors, logger: pino({ level: 'silent' }) },
    );
    const server = http.createServer(broker.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      // The logout confirmation stores a CSRF token in the session, so it sets the cookie.
      const proxied = await fetch(`http://127.0.0.1:${port}/dex/logout`, { headers: { 'x-forwarded-proto': 'https' } });
      const cookie = proxied.headers.get('set-cookie') ?? '';
      expect(cookie).toMatch(/^dexpress_session=/);
      expect(cookie).toMatch(/Secure/);
      expect(cookie).toMatch(/SameSite=None/);
      const plain = await fetch(`http://127.0.0.1:${port}/dex/logout`);
      expect(plain.headers.get('set-cookie')).toBeNull();
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await broker.close();
    }
  });
});
