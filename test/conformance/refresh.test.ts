/**
 * Basic OP plan, oidcc-refresh-token (OIDC Core 12.2): the refreshed ID token keeps iss, sub,
 * aud, azp and auth_time, has a new iat, and a refresh token is bound to its client. The broker's
 * rotation, reuse window and lifetimes are in test/endpoints/refresh.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as oidc from 'openid-client';
import { TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { login, verifyIdToken } from '../helpers/rp.js';
import { OTHER, PUBLIC, SPECIAL, refreshWith, startConformanceBroker } from './support.js';

const clock = frozenClock(Date.now() - 3_600_000);
let b: TestBroker;

beforeAll(async () => {
  b = await startConformanceBroker({}, { now: clock });
});
afterAll(() => b.close());

const KEPT = ['iss', 'sub', 'aud', 'azp', 'auth_time'] as const;

describe('refreshed ID tokens', () => {
  test('iss, sub, aud and auth_time are kept, iat is new, and no azp appears', async () => {
    const { config, tokens, claims } = await login(b.issuer, { connectorId: 'mock', scope: 'openid email offline_access' });
    clock.advance(90_000);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const again = await verifyIdToken(b.issuer, refreshed.id_token!);
    for (const k of KEPT) expect(again[k]).toEqual(claims[k]);
    expect(again).not.toHaveProperty('azp');
    expect(again.iat).toBe((claims.iat as number) + 90);
  });

  test('with a cross-client audience, aud and azp are kept', async () => {
    const scope = `openid offline_access audience:server:client_id:${OTHER.id}`;
    const { config, tokens, claims } = await login(b.issuer, { connectorId: 'mock', scope });
    expect(claims.azp).toBe(TEST_CLIENT.id);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const again = await verifyIdToken(b.issuer, refreshed.id_token!, OTHER.id);
    for (const k of KEPT) expect(again[k]).toEqual(claims[k]);
  });

  test('client_secret_post refreshes too, for a client with reserved characters in its credentials', async () => {
    const { tokens, claims } = await login(b.issuer, { client: SPECIAL, auth: 'post', connectorId: 'mock', scope: 'openid offline_access' });
    const res = await refreshWith(b.issuer, tokens.refresh_token!, SPECIAL, 'post');
    expect(res.status).toBe(200);
    expect((await verifyIdToken(b.issuer, res.body.id_token as string, SPECIAL.id)).sub).toBe(claims.sub);
  });
});

describe('refresh tokens are bound to their client', () => {
  test('another confidential client gets invalid_grant', async () => {
    const { tokens } = await login(b.issuer, { connectorId: 'mock', scope: 'openid offline_access' });
    const res = await refreshWith(b.issuer, tokens.refresh_token!, OTHER);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  test('a public client presenting a confidential client\'s token gets invalid_grant, and the token still works', async () => {
    const { tokens } = await login(b.issuer, { connectorId: 'mock', scope: 'openid offline_access' });
    const res = await refreshWith(b.issuer, tokens.refresh_token!, PUBLIC, 'none');
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect((await refreshWith(b.issuer, tokens.refresh_token!)).status).toBe(200);
  });

  test('the right client id with a wrong secret is invalid_client, not a refresh', async () => {
    const { tokens } = await login(b.issuer, { connectorId: 'mock', scope: 'openid offline_access' });
    const res = await refreshWith(b.issuer, tokens.refresh_token!, { ...TEST_CLIENT, secret: 'wrong' });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });
});
