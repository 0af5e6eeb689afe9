/**
 * Basic OP plan, the ID token checks of oidcc-server, oidcc-idtoken-signature and
 * oidcc-ensure-request-without-nonce-succeeds-for-code-flow (OIDC Core 3.1.3.7 and 2): the
 * signature verifies against /keys, iss/aud/exp/iat/nonce/sub are right, at_hash and c_hash bind
 * the access token and the code, and no claim appears that the scopes did not ask for.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { login } from '../helpers/rp.js';
import { OTHER, codeFor, payloadOf, redeem, startConformanceBroker } from './support.js';

const clock = frozenClock(Date.now());
let b: TestBroker;

beforeAll(async () => {
  b = await startConformanceBroker({}, { now: clock });
});
afterAll(() => b.close());

/** Claims an ID token may carry for `scope=openid` alone. */
const PROTOCOL_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'nonce', 'at_hash', 'c_hash', 'auth_time', 'azp'];

const leftHalfSha256 = (s: string) => createHash('sha256').update(s).digest().subarray(0, 16).toString('base64url');

describe('the ID token', () => {
  test('its RS256 signature verifies against the JWKS of the discovery document', async () => {
    const { tokens } = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256');
    const set = createRemoteJWKSet(new URL(`${b.issuer}/keys`));
    const { payload } = await jwtVerify(tokens.id_token!, set, { algorithms: ['RS256'] });
    expect(payload.iss).toBe(b.issuer);
  });

  test('a token with one changed byte does not verify', async () => {
    const { tokens } = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    const [h, , s] = tokens.id_token!.split('.');
    const forged = { ...payloadOf(tokens.id_token!), sub: 'someone-else' };
    const tampered = `${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${s}`;
    await expect(jwtVerify(tampered, createRemoteJWKSet(new URL(`${b.issuer}/keys`)))).rejects.toThrow();
  });

  test('iss, aud, iat and exp are right: issued now by the broker, for this client, expiring after idTokens', async () => {
    const { claims } = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    const now = Math.floor(clock() / 1000);
    expect(claims.iss).toBe(b.issuer);
    expect(claims.aud).toBe(TEST_CLIENT.id);
    expect(claims.iat).toBe(now);
    expect(claims.exp).toBe(now + 24 * 3600);
  });

  test('the nonce of the request comes back unchanged', async () => {
    const nonce = 'n-0S6_WzA2Mj';
    const code = await codeFor(b.issuer, { nonce });
    const res = await redeem(b.issuer, code);
    expect(payloadOf(res.body.id_token as string).nonce).toBe(nonce);
  });

  test('without a nonce the code flow still works and the ID token has no nonce', async () => {
    const { claims } = await login(b.issuer, { connectorId: 'mock', scope: 'openid', noNonce: true });
    expect(claims).not.toHaveProperty('nonce');
  });

  test('sub is the same on every login and for every client (public subject type)', async () => {
    const first = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    const second = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    const other = await login(b.issuer, { connectorId: 'mock', scope: 'openid', client: OTHER });
    expect(typeof first.claims.sub).toBe('string');
    expect(first.claims.sub!.length).toBeLessThanOrEqual(255);
    expect(second.claims.sub).toBe(first.claims.sub);
    expect(other.claims.sub).toBe(first.claims.sub);
  });

  test('the token response has access_token, a Bearer token_type, expires_in and id_token (OIDC Core 3.1.3.3)', async () => {
    const res = await redeem(b.issuer, await codeFor(b.issuer));
    expect(res.status).toBe(200);
    expect(typeof res.body.access_token).toBe('string');
    expect(String(res.body.token_type).toLowerCase()).toBe('bearer');
    expect(res.body.expires_in).toBe(24 * 3600);
    expect(typeof res.body.id_token).toBe('string');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  });

  test('at_hash and c_hash are the left halves of SHA-256 of the access token and the code', async () => {
    const code = await codeFor(b.issuer);
    const res = await redeem(b.issuer, code);
    const claims = payloadOf(res.body.id_token as string);
    expect(claims.at_hash).toBe(leftHalfSha256(res.body.access_token as string));
    expect(claims.c_hash).toBe(leftHalfSha256(code));
  });

  test('scope=openid alone: no identity claim beyond sub', async () => {
    const { claims } = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    const extra = Object.keys(claims).filter((k) => !PROTOCOL_CLAIMS.includes(k));
    expect(extra).toEqual([]);
  });

  test('azp appears only when the audience has more than one client', async () => {
    const { claims } = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    expect(claims).not.toHaveProperty('azp');
  });
});
