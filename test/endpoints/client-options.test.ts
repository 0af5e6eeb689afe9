/**
 * Config options that change who may log in how, end to end: `staticClients[].allowedConnectors`
 * (an access control: every way in refuses the connectors a client may not use: /auth, a
 * connector's own /auth/<id>, the password grant, and refresh after the list shrank),
 * `expiry.refreshTokens.disableRotation` and `oauth2.alwaysShowLoginScreen`.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { encodeSubject } from '../../lib/tokens/subject.js';
import { kilgoreTrout } from '../../strategies/mockCallback/index.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { basicAuth, getPage, postForm } from '../helpers/http.js';
import { discover, login } from '../helpers/rp.js';

const client = (extra: Record<string, unknown> = {}) => ({ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], name: 'App', ...extra });
const connectors = [
  { type: 'mockCallback', id: 'mock', name: 'Mock' },
  { type: 'mockCallback', id: 'other', name: 'Other' },
  { type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: 'pw-secret' } },
];
const oauth2 = { skipApprovalScreen: true, passwordConnector: 'pw', grantTypes: ['authorization_code', 'refresh_token', 'password'] };

function authUrl(issuer: string, path = '/auth', extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({ client_id: TEST_CLIENT.id, redirect_uri: TEST_CLIENT.redirectURI, response_type: 'code', scope: 'openid', state: 'st-1', ...extra });
  return `${issuer}${path}?${q}`;
}

/** The error a redirect to the client carries, or undefined when the answer is not one. */
function clientError(location: string | null): string | undefined {
  if (!location?.startsWith(TEST_CLIENT.redirectURI)) return undefined;
  const u = new URL(location);
  expect(u.searchParams.get('state')).toBe('st-1');
  return u.searchParams.get('error') ?? undefined;
}

describe('staticClients[].allowedConnectors', () => {
  const storage = new MemoryStorage();
  let open: TestBroker; // the client may use every connector
  let limited: TestBroker; // the same client, on the same storage, limited to "mock"
  beforeAll(async () => {
    open = await startBroker({ connectors, staticClients: [client()], oauth2 }, { storage });
    limited = await startBroker({ connectors, staticClients: [client({ allowedConnectors: ['mock'] })], oauth2 }, { storage });
  });
  afterAll(async () => {
    await limited?.close();
    await open?.close();
  });

  it('/auth offers only the allowed connector: with one left, it goes straight there', async () => {
    const res = await getPage(authUrl(limited.issuer));
    expect(res.status).toBe(303);
    expect(res.location).toContain(`${new URL(limited.issuer).pathname}/auth/mock?`);
    // Without the list, the same request shows the choice of all three.
    const all = await getPage(authUrl(open.issuer));
    expect(all.status).toBe(200);
    for (const id of ['mock', 'other', 'pw']) expect(all.body).toContain(`/auth/${id}?`);
  });

  it('a disallowed connector is refused whether it is asked for with connector_id or by its own URL', async () => {
    expect(clientError((await getPage(authUrl(limited.issuer, '/auth', { connector_id: 'other' }))).location)).toBe('invalid_request');
    expect(clientError((await getPage(authUrl(limited.issuer, '/auth/other'))).location)).toBe('invalid_request');
    expect(clientError((await getPage(authUrl(limited.issuer, '/auth/pw'))).location)).toBe('invalid_request');
    // The allowed one logs in.
    const { claims } = await login(limited.issuer);
    expect(claims.sub).toBe(encodeSubject(kilgoreTrout.userId, 'mock'));
  });

  it('the password grant through a connector the client may not use is unauthorized_client', async () => {
    const form = { grant_type: 'password', username: 'kilgore', password: 'pw-secret', scope: 'openid' };
    const refused = await postForm(`${limited.issuer}/token`, form, basicAuth());
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'unauthorized_client' });
    expect((await postForm(`${open.issuer}/token`, form, basicAuth())).status).toBe(200);
  });

  it('a refresh token from a connector the client may no longer use stops working', async () => {
    const { tokens } = await login(open.issuer, { connectorId: 'other' });
    const refused = await postForm(`${limited.issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, basicAuth());
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_grant' });
    // Where the client may still use it, the token was not spent by the refusal.
    const again = await oidc.refreshTokenGrant(await discover(open.issuer), tokens.refresh_token!);
    expect(again.refresh_token).toEqual(expect.any(String));
  });
});

describe('expiry.refreshTokens.disableRotation', () => {
  let b: TestBroker;
  beforeAll(async () => {
    b = await startBroker({ connectors: connectors.slice(0, 1), expiry: { refreshTokens: { disableRotation: true } } });
  });
  afterAll(async () => {
    await b?.close();
  });

  it('a refresh answers with the same refresh token, which keeps working', async () => {
    const { tokens } = await login(b.issuer);
    const config = await discover(b.issuer);
    const first = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const second = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(first.refresh_token).toBe(tokens.refresh_token);
    expect(second.refresh_token).toBe(tokens.refresh_token);
    expect(second.id_token).toEqual(expect.any(String));
  });
});

describe('oauth2.alwaysShowLoginScreen', () => {
  let b: TestBroker;
  beforeAll(async () => {
    b = await startBroker({ connectors: connectors.slice(0, 1), oauth2: { skipApprovalScreen: true, alwaysShowLoginScreen: true } });
  });
  afterAll(async () => {
    await b?.close();
  });

  it('shows the login page even with one connector, where /auth would otherwise go straight to it', async () => {
    const res = await getPage(authUrl(b.issuer));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.body).toContain('/auth/mock?');
    expect(res.body).toContain('Mock');
  });
});
