/**
 * Basic OP plan, oidcc-userinfo-get, oidcc-userinfo-post-header and oidcc-userinfo-post-body
 * (OIDC Core 5.3, RFC 6750 2.1 and 2.2): the same claims by each method, `sub` equal to the ID
 * token's, JSON that is not cached, and only the claims the scopes allow.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as oidc from 'openid-client';
import type { TestBroker } from '../helpers/broker.js';
import { login, type LoginResult } from '../helpers/rp.js';
import { startConformanceBroker } from './support.js';

let b: TestBroker;
let session: LoginResult;

beforeAll(async () => {
  b = await startConformanceBroker();
  session = await login(b.issuer, { connectorId: 'mock', scope: 'openid email profile' });
});
afterAll(() => b.close());

const expected = () => ({ sub: session.claims.sub, email: 'kilgore@kilgore.trout', email_verified: true, name: 'Kilgore Trout', preferred_username: 'kilgore' });

async function readJson(res: Response): Promise<unknown> {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return res.json();
}

describe('userinfo', () => {
  test('GET with a Bearer header', async () => {
    const res = await fetch(`${b.issuer}/userinfo`, { headers: { authorization: `Bearer ${session.tokens.access_token}` } });
    expect(await readJson(res)).toEqual(expected());
  });

  test('POST with a Bearer header', async () => {
    const res = await fetch(`${b.issuer}/userinfo`, { method: 'POST', headers: { authorization: `Bearer ${session.tokens.access_token}` } });
    expect(await readJson(res)).toEqual(expected());
  });

  test('POST with the token in the form body', async () => {
    const res = await fetch(`${b.issuer}/userinfo`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: session.tokens.access_token }),
    });
    expect(await readJson(res)).toEqual(expected());
  });

  test('openid-client fetchUserInfo checks sub against the ID token and gets the claims', async () => {
    const info = await oidc.fetchUserInfo(session.config, session.tokens.access_token, session.claims.sub!);
    expect(info).toEqual(expected());
  });

  test('scope=openid alone: userinfo answers sub only', async () => {
    const { tokens, claims } = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    const res = await fetch(`${b.issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(await readJson(res)).toEqual({ sub: claims.sub });
  });

  test('the access token of a refresh works at userinfo with the same sub', async () => {
    const { config, tokens, claims } = await login(b.issuer, { connectorId: 'mock', scope: 'openid email offline_access' });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const info = await oidc.fetchUserInfo(config, refreshed.access_token, claims.sub!);
    expect(info.sub).toBe(claims.sub);
    expect(info.email).toBe('kilgore@kilgore.trout');
  });

  test('an invalid token is 401 with a Bearer challenge naming invalid_token (RFC 6750 3.1)', async () => {
    const res = await fetch(`${b.issuer}/userinfo`, { method: 'POST', headers: { authorization: `Bearer ${session.tokens.access_token}x` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
  });
});
