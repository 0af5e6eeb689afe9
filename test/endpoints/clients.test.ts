/** Clients: public clients, cross-client audiences with trustedPeers, token exchange, signing algorithms. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { decodeProtectedHeader } from 'jose';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { basicAuth, postForm } from '../helpers/http.js';
import { browse, login, verifyIdToken } from '../helpers/rp.js';

const CLI = { id: 'cli', redirectURI: 'http://127.0.0.1:43117/anything' };
/** A public web app (PKCE instead of a secret) with its own redirect URI. */
const SPA = { id: 'spa', redirectURI: 'https://spa.example/cb' };
const PEER = { id: 'kubernetes', secret: 'kube-secret', redirectURI: 'http://127.0.0.1:5557/cb' };
let b: TestBroker;

beforeAll(async () => {
  b = await startBroker({
    connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }],
    signer: { type: 'local', config: { algorithm: 'ES256' } },
    staticClients: [
      { id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI] },
      { id: CLI.id, public: true, name: 'A CLI' },
      { id: SPA.id, public: true, name: 'A SPA', redirectURIs: [SPA.redirectURI] },
      { id: PEER.id, secret: PEER.secret, redirectURIs: [PEER.redirectURI], trustedPeers: [TEST_CLIENT.id] },
    ],
  });
});
afterAll(() => b.close());

describe('clients', () => {
  test('a public client logs in on any loopback port without a secret', async () => {
    const { claims, tokens } = await login(b.issuer, { client: CLI, connectorId: 'mock', scope: 'openid' });
    expect(claims.aud).toBe('cli');
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('ES256');
  });

  test('a public client must use PKCE', async () => {
    const res = await fetch(`${b.issuer}/auth?${new URLSearchParams({ client_id: 'cli', redirect_uri: CLI.redirectURI, response_type: 'code', scope: 'openid', connector_id: 'mock' })}`, { redirect: 'manual' });
    const loc = new URL(res.headers.get('location')!);
    expect(loc.searchParams.get('error')).toBe('invalid_request');
    expect(loc.searchParams.get('error_description')).toContain('PKCE');
  });

  test('plain PKCE works for a confidential client', async () => {
    const verifier = 'q'.repeat(43);
    const { landed } = await browse(
      `${b.issuer}/auth?${new URLSearchParams({ client_id: PEER.id, redirect_uri: PEER.redirectURI, response_type: 'code', scope: 'openid', connector_id: 'mock', code_challenge: verifier, code_challenge_method: 'plain' })}`,
      PEER.redirectURI,
    );
    const res = await postForm(`${b.issuer}/token`, { grant_type: 'authorization_code', code: landed!.searchParams.get('code')!, redirect_uri: PEER.redirectURI, code_verifier: verifier }, basicAuth(PEER.id, PEER.secret));
    expect(res.status).toBe(200);
  });

  test('a public client may not use a non-loopback redirect URI it did not register', async () => {
    const res = await fetch(`${b.issuer}/auth?${new URLSearchParams({ client_id: 'cli', redirect_uri: 'http://evil.example/cb', response_type: 'code', scope: 'openid' })}`, { redirect: 'manual' });
    expect(res.status).toBe(400);
  });

  test.each([['a loopback URI', 'http://127.0.0.1:43117/anything'], ['localhost', 'http://localhost:8000/cb'], ['the out-of-band URI', 'urn:ietf:wg:oauth:2.0:oob']])(
    'a public client with registered redirect URIs may not use %s it did not register (as Dex)',
    async (_name, uri) => {
      const res = await fetch(`${b.issuer}/auth?${new URLSearchParams({ client_id: SPA.id, redirect_uri: uri, response_type: 'code', scope: 'openid' })}`, { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('Unregistered redirect URI');
    },
  );

  test('an error sent to the out-of-band URI is a "Login failed" page with its description, not "Login successful"', async () => {
    // The public client "cli" registers no redirect URIs, so oob is allowed; no PKCE: refused.
    const res = await fetch(`${b.issuer}/auth?${new URLSearchParams({ client_id: 'cli', redirect_uri: 'urn:ietf:wg:oauth:2.0:oob', response_type: 'code', scope: 'openid', connector_id: 'mock' })}`, { redirect: 'manual' });
    expect(res.status).toBe(400);
    const body = await res.text();
    expect(body).toContain('Login failed');
    expect(body).not.toContain('Login successful');
    expect(body).toContain('invalid_request');
    expect(body).toContain('PKCE');
  });

  test('a public client with registered redirect URIs uses them', async () => {
    const res = await fetch(`${b.issuer}/auth?${new URLSearchParams({ client_id: SPA.id, redirect_uri: SPA.redirectURI, response_type: 'code', scope: 'openid', connector_id: 'mock' })}`, { redirect: 'manual' });
    expect(new URL(res.headers.get('location')!).searchParams.get('error_description')).toContain('PKCE');
  });

  test('audience:server:client_id: issues a token for a peer that trusts the client', async () => {
    const { tokens } = await login(b.issuer, { connectorId: 'mock', scope: `openid audience:server:client_id:${PEER.id}` });
    const claims = await verifyIdToken(b.issuer, tokens.id_token!, PEER.id);
    expect(claims.aud).toEqual([PEER.id, TEST_CLIENT.id]);
    expect(claims.azp).toBe(TEST_CLIENT.id);
  });

  test('a peer that does not trust the client is refused', async () => {
    const res = await fetch(
      `${b.issuer}/auth?${new URLSearchParams({ client_id: PEER.id, redirect_uri: PEER.redirectURI, response_type: 'code', scope: `openid audience:server:client_id:${TEST_CLIENT.id}`, state: 's' })}`,
      { redirect: 'manual' },
    );
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('invalid_scope');
  });
});

describe('token exchange (RFC 8693)', () => {
  const exchange = (form: Record<string, string>) =>
    postForm(`${b.issuer}/token`, { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', ...form }, basicAuth());

  test('mockCallback accepts any subject token and no refresh token comes out', async () => {
    const res = await exchange({
      connector_id: 'mock',
      subject_token: 'upstream-token',
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      requested_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      scope: 'openid email offline_access',
    });
    expect(res.status).toBe(200);
    expect(res.body.issued_token_type).toBe('urn:ietf:params:oauth:token-type:id_token');
    expect(res.body.refresh_token).toBeUndefined();
    const claims = await verifyIdToken(b.issuer, res.body.access_token as string);
    expect(claims.email).toBe('kilgore@kilgore.trout');
  });

  test('missing parameters and unknown connectors are invalid_request', async () => {
    expect((await exchange({ subject_token: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' })).body.error).toBe('invalid_request');
    expect((await exchange({ connector_id: 'nope', subject_token: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' })).body.error).toBe('invalid_request');
  });

  test('a subject_token_type other than access_token or id_token is refused before the connector sees it, as Dex does', async () => {
    for (const type of ['urn:ietf:params:oauth:token-type:refresh_token', 'urn:x:garbage']) {
      const res = await exchange({ connector_id: 'mock', subject_token: 'upstream-token', subject_token_type: type });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'request_not_supported', error_description: 'Invalid subject_token_type.' });
    }
  });
});
