/**
 * Login sessions: `prompt=none` with an `id_token_hint` answers for the user the hint names (OIDC
 * Core 3.1.2.1 and 3.1.2.6): when the browser's session is another user's, or the hint is not
 * the broker's own, the client gets login_required (or invalid_request), never a code for the
 * session's user. The matching case is in
 * prompt-and-max-age.test.ts. And a login must start a new session (session fixation, OWASP):
 * a session cookie planted in the victim's browser before the login must not carry the
 * victim's login afterwards.
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

describe('session fixation', () => {
  const sessionCookie = (jar: CookieJar) => jar.get(new URL(b.issuer).host)?.get('dexpress_session');

  test('a session cookie planted before a login does not carry the login afterwards', async () => {
    // The attacker gets a session of their own...
    const attacker: CookieJar = new Map();
    const own = await login(b.issuer, { jar: attacker, connectorId: 'pw', scope: 'openid', password: { username: 'kilgore', password: 'trout' } });
    const planted = sessionCookie(attacker);
    expect(planted).toBeDefined();
    // ...plants its cookie in the victim's browser, and the victim logs in with another account.
    const victim: CookieJar = new Map([[new URL(b.issuer).host, new Map([['dexpress_session', planted!]])]]);
    const victims = await login(b.issuer, { jar: victim, connectorId: 'mock', scope: 'openid' });
    expect(victims.claims.sub).not.toBe(own.claims.sub);
    expect(sessionCookie(victim)).not.toBe(planted);
    // The attacker's cookie must not answer prompt=none with the victim's identity.
    const silent = await silentWithHint(attacker, own.tokens.id_token!);
    const code = silent?.searchParams.get('code');
    if (code) {
      const res = await fetch(`${b.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: TEST_CLIENT.redirectURI, client_id: TEST_CLIENT.id, client_secret: TEST_CLIENT.secret, code_verifier: pkcePair('h').verifier }),
      });
      const body = (await res.json()) as { id_token?: string };
      expect(decodeJwt(body.id_token!).sub).not.toBe(victims.claims.sub);
    }
  });
});
