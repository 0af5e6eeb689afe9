/**
 * RFC 9207 (OAuth 2.0 Authorization Server Issuer Identification): discovery says
 * `authorization_response_iss_parameter_supported`, and every authorization response, success or
 * error, query or form_post, carries `iss` equal to the issuer, which openid-client then checks.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as oidc from 'openid-client';
import { TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { getPage } from '../helpers/http.js';
import { browse, discover, firstForm } from '../helpers/rp.js';
import { authUrl, authorizeTo, pkcePair, startConformanceBroker } from './support.js';

let b: TestBroker;

beforeAll(async () => {
  b = await startConformanceBroker();
});
afterAll(() => b.close());

describe('the iss parameter', () => {
  test('discovery advertises it', async () => {
    const doc = (await (await fetch(`${b.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(doc.authorization_response_iss_parameter_supported).toBe(true);
  });

  test('a successful response carries iss next to code and state', async () => {
    const landed = await authorizeTo(b.issuer);
    expect(landed.searchParams.get('iss')).toBe(b.issuer);
    expect(landed.searchParams.get('code')).toBeTruthy();
  });

  test('an error response carries iss', async () => {
    const res = await getPage(authUrl(b.issuer, { response_type: 'token' }));
    expect(new URL(res.location!).searchParams.get('iss')).toBe(b.issuer);
  });

  test('a form_post response carries iss as a field of the form', async () => {
    let fields: Record<string, string> | undefined;
    await browse(authUrl(b.issuer, { response_mode: 'form_post' }), TEST_CLIENT.redirectURI, {
      onPage: async (page) => {
        if (page.body.includes('document.forms[0].submit()')) fields = firstForm(page.body, page.url)?.fields;
        return undefined;
      },
    });
    expect(fields?.iss).toBe(b.issuer);
    expect(fields?.code).toBeTruthy();
  });

  test('openid-client refuses a response whose iss was swapped or removed (the flag makes it mandatory)', async () => {
    const config = await discover(b.issuer);
    const { verifier, challenge } = pkcePair('i');
    for (const tamper of [(u: URL) => u.searchParams.set('iss', 'https://other.example'), (u: URL) => u.searchParams.delete('iss')]) {
      const landed = await authorizeTo(b.issuer, { code_challenge: challenge, code_challenge_method: 'S256' });
      tamper(landed);
      await expect(oidc.authorizationCodeGrant(config, landed, { pkceCodeVerifier: verifier, expectedState: 'st4te' })).rejects.toThrow();
    }
  });
});
