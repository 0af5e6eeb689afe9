/**
 * PENDING (login sessions, being implemented): `prompt=none` with an `id_token_hint` must answer
 * for the user the hint names (OIDC Core 3.1.2.1 and 3.1.2.6): when the browser's session is
 * another user's, or the hint is not the broker's own, the client gets login_required (or
 * invalid_request), never a code for the session's user. The matching case is in
 * prompt-and-max-age.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { SignJWT, decodeJwt, generateKeyPair } from 'jose';
import type { TestBroker } from '../helpers/broker.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { browse, login, type CookieJar } from '../helpers/rp.js';
import { authUrl, pkcePair, startConformanceBroker } from './support.js';

let b: TestBroker;

beforeAll(async () => {
  b = await startConformanceBroker({
    connectors: [
      { type: 'mockCallback', id: 'mock', name: 'Example' },
      { type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: 'trout' } },
    ],
  });
});
afterAll(() => b.close());

const { challenge } = pkcePair('h');

async function silentWithHint(jar: CookieJar, hint: string): Promise<URL | undefined> {
  const url = authUrl(b.issuer, { prompt: 'none', id_token_hint: hint, code_challenge: challenge, code_challenge_method: 'S256' }).replace('&connector_id=mock', '');
  return (await browse(url, TEST_CLIENT.redirectURI, { jar })).landed;
}

describe('prompt=none with an id_token_hint', () => {
  test('the hint names another user than the session\'s: login_required, no code', async () => {
    const other = await login(b.issuer, { connectorId: 'pw', scope: 'openid', password: { username: 'kilgore', password: 'trout' } });
    const jar: CookieJar = new Map();
    const mine = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid' });
    expect(decodeJwt(other.tokens.id_token!).sub).not.toBe(mine.claims.sub);
    const landed = await silentWithHint(jar, other.tokens.id_token!);
    expect(landed?.searchParams.get('code')).toBeNull();
    expect(landed?.searchParams.get('error')).toBe('login_required');
  });

  test('a hint not signed by the broker: an error, no code', async () => {
    const jar: CookieJar = new Map();
    const mine = await login(b.issuer, { jar, connectorId: 'mock', scope: 'openid' });
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ sub: mine.claims.sub!, aud: TEST_CLIENT.id }).setProtectedHeader({ alg: 'RS256', kid: 'x' }).setIssuer(b.issuer).setIssuedAt().setExpirationTime('1h').sign(privateKey);
    const landed = await silentWithHint(jar, forged);
    expect(landed?.searchParams.get('code')).toBeNull();
    expect(['login_required', 'invalid_request']).toContain(landed?.searchParams.get('error'));
  });
});
