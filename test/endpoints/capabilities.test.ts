/** The capability table decides what a token carries, whatever the client asks for. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { browse, login } from '../helpers/rp.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import * as oidc from 'openid-client';

let b: TestBroker;

beforeAll(async () => {
  b = await startBroker({
    connectors: [
      { type: 'mockCallback', id: 'mock', name: 'Example' },
      { type: 'authproxy', id: 'proxy', name: 'Proxy' },
    ],
  });
});
afterAll(() => b.close());

const proxyHeaders = { 'X-Remote-User': 'jane', 'X-Remote-Group': 'admins, devs', 'X-Remote-User-Email': 'jane@example.com' };

describe('capability gate', () => {
  test('mockCallback gets a refresh token with offline_access', async () => {
    const { tokens, claims } = await login(b.issuer, { connectorId: 'mock', scope: 'openid groups offline_access' });
    expect(tokens.refresh_token).toBeDefined();
    expect(claims.groups).toEqual(['authors']);
  });

  test('no offline_access, no refresh token', async () => {
    const { tokens } = await login(b.issuer, { connectorId: 'mock', scope: 'openid groups' });
    expect(tokens.refresh_token).toBeUndefined();
  });

  test('authproxy gets no refresh token, no groups claim and no preferred_username, even when asked and sent', async () => {
    const { tokens, claims } = await login(b.issuer, {
      connectorId: 'proxy',
      scope: 'openid email profile groups offline_access',
      headers: proxyHeaders,
    });
    expect(tokens.refresh_token).toBeUndefined();
    expect(claims.groups).toBeUndefined();
    expect(claims.preferred_username).toBeUndefined();
    expect(claims).toMatchObject({ email: 'jane@example.com', email_verified: true, name: 'jane' });
  });

  test('X-Remote-* headers are ignored on every path but the authproxy callback', async () => {
    const { landed } = await login(b.issuer, { connectorId: 'mock', scope: 'openid email', headers: proxyHeaders }).then((r) => r);
    expect(landed.searchParams.get('code')).toBeTruthy();
    // The mock connector's identity is unchanged by the headers.
    const { claims } = await login(b.issuer, { connectorId: 'mock', scope: 'openid email', headers: proxyHeaders });
    expect(claims.email).toBe('kilgore@kilgore.trout');
  });

  test('authproxy without the user header is refused with a page, not a token', async () => {
    const config = await oidc.discovery(new URL(b.issuer), TEST_CLIENT.id, TEST_CLIENT.secret, undefined, { execute: [oidc.allowInsecureRequests] });
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: TEST_CLIENT.redirectURI, scope: 'openid', connector_id: 'proxy', state: 's' });
    const result = await browse(url.toString(), TEST_CLIENT.redirectURI);
    expect(result.landed).toBeUndefined();
    expect(result.page?.status).toBe(401);
    expect(result.page?.body).toContain('X-Remote-User');
  });
});
