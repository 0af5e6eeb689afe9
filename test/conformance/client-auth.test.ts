/**
 * Basic OP plan, oidcc-server with client_secret_basic and oidcc-server-client-secret-post (RFC
 * 6749 2.3.1, OIDC Core 9): both methods work, also for a client whose id and secret need
 * form-urlencoding in the Basic header; a public client authenticates with its id alone; every
 * failure is invalid_client with 401.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { TestBroker } from '../helpers/broker.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { postForm } from '../helpers/http.js';
import { login } from '../helpers/rp.js';
import { PUBLIC, SPECIAL, codeFor, formBasic, pkcePair, redeem, startConformanceBroker } from './support.js';

let b: TestBroker;

beforeAll(async () => {
  b = await startConformanceBroker();
});
afterAll(() => b.close());

const basicWith = (encode: (s: string) => string, id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}` });

describe('client_secret_basic', () => {
  test('openid-client, with an id and secret full of reserved characters', async () => {
    const { claims } = await login(b.issuer, { client: SPECIAL, auth: 'basic', connectorId: 'mock', scope: 'openid' });
    expect(claims.aud).toBe(SPECIAL.id);
  });

  test('form-urlencoded id and secret (space as +)', async () => {
    const code = await codeFor(b.issuer, {}, SPECIAL);
    const res = await postForm(`${b.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: SPECIAL.redirectURI }, formBasic(SPECIAL.id, SPECIAL.secret));
    expect(res.status).toBe(200);
  });

  test('percent-encoded id and secret (space as %20)', async () => {
    const code = await codeFor(b.issuer, {}, SPECIAL);
    const res = await postForm(`${b.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: SPECIAL.redirectURI }, basicWith(encodeURIComponent, SPECIAL.id, SPECIAL.secret));
    expect(res.status).toBe(200);
  });

  test('a plain id and secret with nothing to encode', async () => {
    const code = await codeFor(b.issuer);
    const res = await postForm(`${b.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: TEST_CLIENT.redirectURI }, basicWith((s) => s, TEST_CLIENT.id, TEST_CLIENT.secret));
    expect(res.status).toBe(200);
  });

  test('a wrong secret: 401 invalid_client with a Basic challenge', async () => {
    const code = await codeFor(b.issuer, {}, SPECIAL);
    const res = await postForm(`${b.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: SPECIAL.redirectURI }, formBasic(SPECIAL.id, `${SPECIAL.secret}x`));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  test('a header that is not base64 of id:secret is invalid_client', async () => {
    for (const authorization of ['Basic', 'Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`, `Basic ${Buffer.from('%zz:%zz').toString('base64')}`]) {
      const res = await postForm(`${b.issuer}/token`, { grant_type: 'authorization_code', code: 'x', redirect_uri: TEST_CLIENT.redirectURI }, { authorization });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    }
  });
});

describe('client_secret_post', () => {
  test('openid-client, with an id and secret full of reserved characters', async () => {
    const { claims } = await login(b.issuer, { client: SPECIAL, auth: 'post', connectorId: 'mock', scope: 'openid' });
    expect(claims.aud).toBe(SPECIAL.id);
  });

  test('a wrong secret and a missing secret: 401 invalid_client', async () => {
    const code = await codeFor(b.issuer, {}, SPECIAL);
    const wrong = await redeem(b.issuer, code, { ...SPECIAL, secret: 'nope' }, {}, 'post');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    const none = await redeem(b.issuer, code, SPECIAL, {}, 'none');
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('invalid_client');
  });

  test('a refused authentication leaves the code unused', async () => {
    const code = await codeFor(b.issuer, {}, SPECIAL);
    expect((await redeem(b.issuer, code, { ...SPECIAL, secret: 'nope' }, {}, 'post')).status).toBe(401);
    expect((await redeem(b.issuer, code, SPECIAL, {}, 'post')).status).toBe(200);
  });
});

describe('public clients (token_endpoint_auth_method none)', () => {
  test('authenticate with client_id alone, with PKCE', async () => {
    const { verifier, challenge } = pkcePair('p');
    const code = await codeFor(b.issuer, { code_challenge: challenge, code_challenge_method: 'S256' }, PUBLIC);
    const res = await redeem(b.issuer, code, PUBLIC, { code_verifier: verifier }, 'none');
    expect(res.status).toBe(200);
  });

  test('an unknown client_id is invalid_client', async () => {
    const res = await redeem(b.issuer, 'x', { id: 'nobody', redirectURI: PUBLIC.redirectURI }, {}, 'none');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });
});
