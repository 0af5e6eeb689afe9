/** The authorization code flow end to end, with openid-client as the relying party. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as oidc from 'openid-client';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { login, verifyIdToken } from '../helpers/rp.js';

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

describe('authorization code + PKCE + state + nonce through mockCallback', () => {
  test('the ID token verifies against /keys and carries Dex claims', async () => {
    const { claims, tokens } = await login(b.issuer, { connectorId: 'mock', scope: 'openid email profile groups federated:id offline_access' });
    expect(claims).toMatchObject({
      iss: b.issuer,
      sub: 'Cg0wLTM4NS0yODA4OS0wEgRtb2Nr',
      aud: TEST_CLIENT.id,
      email: 'kilgore@kilgore.trout',
      email_verified: true,
      groups: ['authors'],
      name: 'Kilgore Trout',
      preferred_username: 'kilgore',
      federated_claims: { connector_id: 'mock', user_id: '0-385-28089-0' },
    });
    expect(typeof claims.at_hash).toBe('string');
    expect(typeof claims.c_hash).toBe('string');
    expect(typeof claims.nonce).toBe('string');
    expect(tokens.token_type).toBe('bearer');
    expect(typeof tokens.refresh_token).toBe('string');
  });

  test('userinfo answers the claims of the access token', async () => {
    const { config, tokens, claims } = await login(b.issuer, { connectorId: 'mock', scope: 'openid email groups' });
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub!);
    expect(info).toEqual({ sub: claims.sub, email: 'kilgore@kilgore.trout', email_verified: true, groups: ['authors'] });
  });

  test('refresh rotates the refresh token and keeps iss, sub, aud', async () => {
    const { config, tokens, claims } = await login(b.issuer, { connectorId: 'mock' });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeDefined();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    const again = await verifyIdToken(b.issuer, refreshed.id_token!);
    expect(again).toMatchObject({ iss: claims.iss, sub: claims.sub, aud: claims.aud });
    const third = await oidc.refreshTokenGrant(config, refreshed.refresh_token!);
    expect(third.access_token).toBeDefined();
  });

  test('a redeemed code cannot be redeemed again', async () => {
    const { config, landed } = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    const res = await fetch(`${b.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: landed.searchParams.get('code')!,
        redirect_uri: TEST_CLIENT.redirectURI,
        client_id: TEST_CLIENT.id,
        client_secret: TEST_CLIENT.secret,
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    void config;
  });
});
