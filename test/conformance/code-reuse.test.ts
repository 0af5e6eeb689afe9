/**
 * Basic OP plan, oidcc-codereuse and oidcc-codereuse-30seconds (RFC 6749 4.1.2 and 10.5): a
 * second redemption of a code is invalid_grant, and the refresh token issued from the first one
 * is revoked. Access tokens are self-contained JWTs, as in Dex: they stay valid until they expire
 * (the plan reports that as a warning, not a failure).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { OTHER, codeFor, redeem, refreshWith, startConformanceBroker } from './support.js';

const clock = frozenClock(Date.now());
let b: TestBroker;

beforeAll(async () => {
  b = await startConformanceBroker({}, { now: clock });
});
afterAll(() => b.close());

async function redeemedOnce(): Promise<{ code: string; refreshToken: string }> {
  const code = await codeFor(b.issuer, { scope: 'openid offline_access' });
  const first = await redeem(b.issuer, code);
  expect(first.status).toBe(200);
  expect(typeof first.body.refresh_token).toBe('string');
  return { code, refreshToken: first.body.refresh_token as string };
}

describe('authorization code reuse', () => {
  test('the second redemption is invalid_grant', async () => {
    const { code } = await redeemedOnce();
    const second = await redeem(b.issuer, code);
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('invalid_grant');
  });

  test('the refresh token issued from the code is revoked by the reuse', async () => {
    const { code, refreshToken } = await redeemedOnce();
    await redeem(b.issuer, code);
    const res = await refreshWith(b.issuer, refreshToken);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  test('30 seconds later: still invalid_grant, and still revokes', async () => {
    const { code, refreshToken } = await redeemedOnce();
    clock.advance(30_000);
    expect((await redeem(b.issuer, code)).body.error).toBe('invalid_grant');
    expect((await refreshWith(b.issuer, refreshToken)).body.error).toBe('invalid_grant');
  });

  test('without reuse the refresh token works (the revocation above is caused by the reuse)', async () => {
    const { refreshToken } = await redeemedOnce();
    expect((await refreshWith(b.issuer, refreshToken)).status).toBe(200);
  });

  test('another client replaying the code is refused and cannot revoke the owner\'s tokens', async () => {
    const { code, refreshToken } = await redeemedOnce();
    const replay = await redeem(b.issuer, code, OTHER, { redirect_uri: OTHER.redirectURI });
    expect(replay.body.error).toBe('invalid_grant');
    expect((await refreshWith(b.issuer, refreshToken)).status).toBe(200);
  });

  test('a code issued to one client cannot be redeemed by another', async () => {
    const code = await codeFor(b.issuer, { scope: 'openid' });
    const res = await redeem(b.issuer, code, OTHER, { redirect_uri: OTHER.redirectURI });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect(res.body).not.toHaveProperty('access_token');
  });
});
