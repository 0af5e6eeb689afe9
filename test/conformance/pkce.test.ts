/**
 * PKCE (RFC 7636) as the code flow of the Basic OP plan runs it with openid-client, plus the
 * edges of the verifier and challenge, and `oauth2.pkce.enforce` / `codeChallengeMethodsSupported`
 * (Dex's keys). The broker's wrong / missing / unexpected verifier cases are in
 * test/endpoints/bad-input.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { getPage } from '../helpers/http.js';
import { login } from '../helpers/rp.js';
import { OTHER, PUBLIC, authUrl, codeFor, pkcePair, redeem, startConformanceBroker } from './support.js';

let b: TestBroker;
let strict: TestBroker;

beforeAll(async () => {
  b = await startConformanceBroker();
  strict = await startConformanceBroker({ oauth2: { skipApprovalScreen: true, pkce: { enforce: true, codeChallengeMethodsSupported: ['S256'] } } });
});
afterAll(async () => {
  await b.close();
  await strict.close();
});

const errorOf = async (issuer: string, params: Record<string, string>) => {
  const res = await getPage(authUrl(issuer, params));
  expect(res.status).toBe(303);
  const loc = new URL(res.location!);
  expect(loc.origin + loc.pathname).toBe(TEST_CLIENT.redirectURI);
  return loc.searchParams.get('error');
};

describe('PKCE', () => {
  test('discovery lists S256', async () => {
    const meta = (await (await fetch(`${b.issuer}/.well-known/openid-configuration`)).json()) as { code_challenge_methods_supported: string[] };
    expect(meta.code_challenge_methods_supported).toContain('S256');
  });

  test('S256 through openid-client', async () => {
    const { claims } = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    expect(claims.sub).toBeDefined();
  });

  test('a challenge without a method is plain (RFC 7636 4.3)', async () => {
    const { verifier } = pkcePair('q');
    const asPlain = await codeFor(b.issuer, { code_challenge: verifier }, OTHER);
    expect((await redeem(b.issuer, asPlain, OTHER, { code_verifier: verifier })).status).toBe(200);
    const s256 = createHash('sha256').update(verifier).digest('base64url');
    const notS256 = await codeFor(b.issuer, { code_challenge: s256 }, OTHER);
    expect((await redeem(b.issuer, notS256, OTHER, { code_verifier: verifier })).body.error).toBe('invalid_grant');
  });

  test.each([
    ['42 characters', 'a'.repeat(42)],
    ['129 characters', 'a'.repeat(129)],
    ['a character outside the unreserved set', `${'a'.repeat(42)}+`],
  ])('a verifier of %s is invalid_grant even if it hashes to the challenge', async (_name, verifier) => {
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const code = await codeFor(b.issuer, { code_challenge: challenge, code_challenge_method: 'S256' });
    const res = await redeem(b.issuer, code, TEST_CLIENT, { code_verifier: verifier });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  test('an empty code_verifier on a code without PKCE is none (as Dex reads the form); a non-empty one is refused', async () => {
    const plain = await codeFor(b.issuer, {}, OTHER);
    expect((await redeem(b.issuer, plain, OTHER, { code_verifier: '' })).status).toBe(200);
    const other = await codeFor(b.issuer, {}, OTHER);
    const sent = await redeem(b.issuer, other, OTHER, { code_verifier: pkcePair('t').verifier });
    expect(sent.body).toMatchObject({ error: 'invalid_grant', error_description: 'code_verifier was sent, but the authorization request had no code_challenge.' });
  });

  test('a failed verifier uses the code up', async () => {
    const { verifier, challenge } = pkcePair('r');
    const code = await codeFor(b.issuer, { code_challenge: challenge, code_challenge_method: 'S256' });
    expect((await redeem(b.issuer, code, TEST_CLIENT, { code_verifier: pkcePair('s').verifier })).body.error).toBe('invalid_grant');
    expect((await redeem(b.issuer, code, TEST_CLIENT, { code_verifier: verifier })).body.error).toBe('invalid_grant');
  });
});

describe('oauth2.pkce.enforce with codeChallengeMethodsSupported [S256]', () => {
  test('a request without code_challenge is invalid_request, sent to the client', async () => {
    expect(await errorOf(strict.issuer, {})).toBe('invalid_request');
  });

  test('plain is refused when only S256 is supported', async () => {
    expect(await errorOf(strict.issuer, { code_challenge: pkcePair('t').verifier, code_challenge_method: 'plain' })).toBe('invalid_request');
  });

  test('discovery lists only S256', async () => {
    const meta = (await (await fetch(`${strict.issuer}/.well-known/openid-configuration`)).json()) as { code_challenge_methods_supported: string[] };
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
  });

  test('S256 works', async () => {
    const { claims } = await login(strict.issuer, { connectorId: 'mock', scope: 'openid' });
    expect(claims.sub).toBeDefined();
  });
});
