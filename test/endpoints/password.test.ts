/** Password connectors through the broker: the form (with CSRF binding) and the password grant. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { basicAuth, getPage, postForm } from '../helpers/http.js';
import { firstForm, login, startLogin, verifyIdToken } from '../helpers/rp.js';

// bcrypt of "password", as in Dex's examples.
const HASH = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';
let b: TestBroker;

beforeAll(async () => {
  b = await startBroker({
    connectors: [{ type: 'mockPassword', id: 'mockpw', name: 'Mock password', config: { username: 'kilgore', password: 'trout' } }],
    enablePasswordDB: true,
    staticPasswords: [
      { email: 'admin@example.com', hash: HASH, username: 'admin', userID: '08a8684b-db88-4b73-90a9-3cd1661f5466', groups: ['admins'] },
    ],
    oauth2: { skipApprovalScreen: false, passwordConnector: 'local' },
  });
});
afterAll(() => b.close());

describe('the password form', () => {
  test('the password DB logs in, after approval, with Dex sub for connector local', async () => {
    const { claims } = await login(b.issuer, { connectorId: 'local', scope: 'openid email groups profile', password: { username: 'admin@example.com', password: 'password' } });
    expect(claims).toMatchObject({ email: 'admin@example.com', email_verified: true, groups: ['admins'], name: 'admin' });
    expect(claims).not.toHaveProperty('preferred_username'); // as in Dex: staticPasswords[].preferredUsername is not set
    expect(Buffer.from(claims.sub!, 'base64url').toString()).toContain('local');
  });

  test('a wrong password shows the form again with a message, status 401', async () => {
    const result = await startLogin(b.issuer, { connectorId: 'local', password: { username: 'admin@example.com', password: 'wrong' } });
    expect(result.landed).toBeUndefined();
    expect(result.page?.status).toBe(401);
    expect(result.page?.body).toContain('Invalid email address or password');
    expect(result.page?.body).toContain('value="admin@example.com"');
  });

  test('an empty password is refused before any check', async () => {
    const result = await startLogin(b.issuer, {
      connectorId: 'mockpw',
      onPage: async (page) => {
        if (!page.body.includes('name="password"') || page.status !== 200) return undefined;
        const form = firstForm(page.body, page.url)!;
        return { url: form.action, method: 'POST', form: { ...form.fields, login: 'kilgore', password: '' } };
      },
    });
    expect(result.page?.status).toBe(400);
    expect(result.page?.body).toContain('Enter your');
  });

  test('mockPassword logs in Kilgore Trout', async () => {
    const { claims } = await login(b.issuer, { connectorId: 'mockpw', scope: 'openid email', password: { username: 'kilgore', password: 'trout' } });
    expect(claims.email).toBe('kilgore@kilgore.trout');
  });

  test('a form post without its CSRF token is refused', async () => {
    const result = await startLogin(b.issuer, {
      connectorId: 'mockpw',
      onPage: async (page) => {
        if (!page.body.includes('name="password"') || page.status !== 200) return undefined;
        const form = firstForm(page.body, page.url)!;
        return { url: form.action, method: 'POST', form: { login: 'kilgore', password: 'trout' } };
      },
    });
    expect(result.page?.status).toBe(403);
  });

  test('the approval page cannot be used without its HMAC, and Cancel sends access_denied', async () => {
    let approvalUrl = '';
    const denied = await startLogin(b.issuer, {
      connectorId: 'mockpw',
      password: { username: 'kilgore', password: 'trout' },
      approve: false,
      onPage: async (page) => {
        if (page.url.includes('/approval')) approvalUrl = page.url;
        return undefined;
      },
    });
    expect(denied.landed?.searchParams.get('error')).toBe('access_denied');
    const u = new URL(approvalUrl);
    u.searchParams.set('hmac', 'forged');
    expect((await getPage(u.toString())).status).toBe(400);
  });
});

describe('the password grant', () => {
  const grant = (form: Record<string, string>) => postForm(`${b.issuer}/token`, { grant_type: 'password', ...form }, basicAuth());

  test('right credentials: tokens, with a refresh token for offline_access', async () => {
    const res = await grant({ username: 'admin@example.com', password: 'password', scope: 'openid email groups offline_access' });
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).toBeDefined();
    const claims = await verifyIdToken(b.issuer, res.body.id_token as string, TEST_CLIENT.id);
    expect(claims.groups).toEqual(['admins']);
    const refreshed = await postForm(`${b.issuer}/token`, { grant_type: 'refresh_token', refresh_token: res.body.refresh_token as string }, basicAuth());
    expect(refreshed.status).toBe(200);
  });

  test('wrong password, unknown user: invalid_grant; empty password: invalid_request', async () => {
    expect((await grant({ username: 'admin@example.com', password: 'nope', scope: 'openid' })).body.error).toBe('invalid_grant');
    expect((await grant({ username: 'ghost@example.com', password: 'password', scope: 'openid' })).body.error).toBe('invalid_grant');
    expect((await grant({ username: 'admin@example.com', password: '', scope: 'openid' })).body.error).toBe('invalid_request');
  });
});

describe('a connector that refuses a user (AccessDeniedError)', () => {
  let denying: TestBroker;
  beforeAll(async () => {
    const { createRegistry } = await import('../../lib/connector.js');
    const { connectorModules } = await import('../../strategies/index.js');
    const { mockPassword } = await import('../../strategies/mockPassword/index.js');
    const { AccessDeniedError } = await import('../../lib/errors.js');
    const refusing = {
      ...mockPassword,
      create: (config: { username: string; password: string }) => ({
        ...mockPassword.create(config),
        login: async () => {
          throw new AccessDeniedError('You are not in any of the required groups.');
        },
      }),
    };
    denying = await startBroker(
      { connectors: [{ type: 'mockPassword', id: 'pw', name: 'PW', config: { username: 'u', password: 'p' } }], oauth2: { skipApprovalScreen: true, passwordConnector: 'pw' } },
      { registry: createRegistry([...connectorModules.filter((m) => m.type !== 'mockPassword'), refusing]) },
    );
  });
  afterAll(() => denying.close());

  test('the form shows a 403 page with the reason', async () => {
    const result = await startLogin(denying.issuer, { connectorId: 'pw', password: { username: 'u', password: 'p' } });
    expect(result.page?.status).toBe(403);
    expect(result.page?.body).toContain('required groups');
  });

  test('the password grant answers invalid_grant, not a 500', async () => {
    const res = await postForm(`${denying.issuer}/token`, { grant_type: 'password', username: 'u', password: 'p', scope: 'openid' }, basicAuth());
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_grant', error_description: 'You are not in any of the required groups.' });
  });
});

describe('brute-force protection', () => {
  let guarded: TestBroker;
  beforeAll(async () => {
    guarded = await startBroker({
      connectors: [{ type: 'mockPassword', id: 'pw', name: 'PW', config: { username: 'kilgore', password: 'trout' } }],
      oauth2: { skipApprovalScreen: true, passwordConnector: 'pw' },
    });
  });
  afterAll(() => guarded.close());

  test('after 10 failures for one user, even the right password is refused for a while (grant and form)', async () => {
    const grant = (password: string) =>
      postForm(`${guarded.issuer}/token`, { grant_type: 'password', username: 'kilgore', password, scope: 'openid' }, basicAuth());
    for (let i = 0; i < 10; i++) expect((await grant(`wrong-${i}`)).body.error).toBe('invalid_grant');
    const locked = await grant('trout');
    expect(locked.status).toBe(429);
    expect(locked.body.error).toBe('temporarily_unavailable');
    const form = await startLogin(guarded.issuer, { connectorId: 'pw', password: { username: 'kilgore', password: 'trout' } });
    expect(form.page?.status).toBe(429);
    expect(form.page?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(form.page?.body).toContain('Too many failed attempts');
  });

  test('a username of any length or content is counted like any other (its counter id is a hash)', async () => {
    for (const username of ['k'.repeat(3000), 'ü'.repeat(2000) + '\u0000']) {
      const grant = () => postForm(`${guarded.issuer}/token`, { grant_type: 'password', username, password: 'wrong', scope: 'openid' }, basicAuth());
      for (let i = 0; i < 10; i++) expect((await grant()).body.error).toBe('invalid_grant');
      expect((await grant()).status).toBe(429);
    }
  });

  test('failures are counted per user: another username is not locked', async () => {
    const res = await postForm(`${guarded.issuer}/token`, { grant_type: 'password', username: 'someone-else', password: 'x', scope: 'openid' }, basicAuth());
    expect(res.body.error).toBe('invalid_grant');
  });
});

test('"Choose another login method" starts the same request over (PKCE and nonce kept)', async () => {
  let back = '';
  await startLogin(b.issuer, {
    connectorId: 'mockpw',
    params: { nonce: 'n-123', code_challenge: 'c'.repeat(43), code_challenge_method: 'S256' },
    onPage: async (page) => {
      const m = /<a href="([^"]*)">Choose another login method/.exec(page.body);
      if (m) back = m[1]!.replace(/&amp;/g, '&');
      return undefined;
    },
  });
  const u = new URL(back);
  expect(u.pathname).toBe('/dex/auth');
  expect(u.searchParams.get('nonce')).toBe('n-123');
  expect(u.searchParams.get('code_challenge')).toBe('c'.repeat(43));
  expect(u.searchParams.get('code_challenge_method')).toBe('S256');
});

test('a burst of right-password logins for one user is never throttled', async () => {
  const burst = await startBroker({
    connectors: [{ type: 'mockPassword', id: 'pw', name: 'PW', config: { username: 'kilgore', password: 'trout' } }],
    oauth2: { skipApprovalScreen: true, passwordConnector: 'pw' },
  });
  try {
    const results = await Promise.all(
      Array.from({ length: 30 }, () => postForm(`${burst.issuer}/token`, { grant_type: 'password', username: 'kilgore', password: 'trout', scope: 'openid' }, basicAuth())),
    );
    expect(results.map((r) => r.status)).toEqual(Array(30).fill(200));
  } finally {
    await burst.close();
  }
});

test('behind a trusted proxy, wrong passwords count against the client address from X-Forwarded-For', async () => {
  const proxied = await startBroker({
    connectors: [{ type: 'mockPassword', id: 'pw', name: 'PW', config: { username: 'kilgore', password: 'trout' } }],
    oauth2: { skipApprovalScreen: true, passwordConnector: 'pw' },
    web: { clientRemoteIP: { header: 'X-Forwarded-For', trustedProxies: ['127.0.0.1/32'] } },
  });
  try {
    await postForm(`${proxied.issuer}/token`, { grant_type: 'password', username: 'kilgore', password: 'nope', scope: 'openid' }, { ...basicAuth(), 'x-forwarded-for': '198.51.100.7' });
    expect(await proxied.broker.storage.find('loginAttempts', 'addr:198.51.100.7')).toMatchObject({ value: 1 });
    expect(await proxied.broker.storage.find('loginAttempts', 'addr:127.0.0.1')).toBeUndefined();
  } finally {
    await proxied.close();
  }
});
