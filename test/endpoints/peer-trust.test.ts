/**
 * Cross-client trust is checked whenever tokens are minted, not only at `/auth` (as Dex does on
 * every signing): once a peer stops trusting the client (a second broker on the same storage,
 * reconfigured), codes and refresh tokens that asked for the peer in `aud` are `invalid_grant`.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { basicAuth, postForm } from '../helpers/http.js';
import { browse } from '../helpers/rp.js';

const PEER = { id: 'kubernetes', secret: 'kube-secret', redirectURIs: ['http://127.0.0.1:5557/cb'] };
const APP = { id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI] };
const PEER_SCOPE = `audience:server:client_id:${PEER.id}`;

const storage = new MemoryStorage();
/** Where the user logs in: the peer trusts the app. */
let trusting: TestBroker;
/** Same storage, the peer no longer lists the app in trustedPeers. */
let distrusting: TestBroker;
/** Same storage, the peer is gone from the config. */
let peerless: TestBroker;

const config = (clients: unknown[]) => ({ connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }], staticClients: clients });

beforeAll(async () => {
  trusting = await startBroker(config([APP, { ...PEER, trustedPeers: [APP.id] }]), { storage });
  distrusting = await startBroker(config([APP, PEER]), { storage });
  peerless = await startBroker(config([APP]), { storage });
});
afterAll(async () => {
  await Promise.all([trusting.close(), distrusting.close(), peerless.close()]);
  await storage.close();
});

async function codeWithPeer(): Promise<string> {
  const params = new URLSearchParams({ client_id: APP.id, redirect_uri: TEST_CLIENT.redirectURI, response_type: 'code', scope: `openid offline_access ${PEER_SCOPE}`, state: 's', connector_id: 'mock' });
  const { landed } = await browse(`${trusting.issuer}/auth?${params}`, TEST_CLIENT.redirectURI);
  return landed!.searchParams.get('code')!;
}

const redeem = (b: TestBroker, code: string) => postForm(`${b.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: TEST_CLIENT.redirectURI }, basicAuth());
const refresh = (b: TestBroker, token: string, scope?: string) =>
  postForm(`${b.issuer}/token`, { grant_type: 'refresh_token', refresh_token: token, ...(scope ? { scope } : {}) }, basicAuth());

async function refreshTokenWithPeer(): Promise<string> {
  const res = await redeem(trusting, await codeWithPeer());
  expect(res.status).toBe(200);
  return res.body.refresh_token as string;
}

test('while the peer trusts the client, refresh keeps the peer in aud', async () => {
  const res = await refresh(trusting, await refreshTokenWithPeer());
  expect(res.status).toBe(200);
});

test('a refresh after the peer stopped trusting the client is invalid_grant, and the token is not rotated', async () => {
  const token = await refreshTokenWithPeer();
  const res = await refresh(distrusting, token);
  expect(res.status).toBe(400);
  expect(res.body.error).toBe('invalid_grant');
  expect(res.body.error_description).toContain('"kubernetes" no longer trusts client "example-app"');
  expect((await refresh(trusting, token)).status).toBe(200);
});

test('a refresh after the peer was removed from the config is invalid_grant', async () => {
  const res = await refresh(peerless, await refreshTokenWithPeer());
  expect(res.status).toBe(400);
  expect(res.body.error).toBe('invalid_grant');
});

test('a refresh that narrows the scope to leave the peer out still works', async () => {
  const res = await refresh(distrusting, await refreshTokenWithPeer(), 'openid offline_access');
  expect(res.status).toBe(200);
  const aud = JSON.parse(Buffer.from((res.body.id_token as string).split('.')[1]!, 'base64url').toString()).aud;
  expect(aud).toBe(APP.id);
});

test('a code issued while the peer trusted the client, redeemed after, is invalid_grant and leaves no refresh token', async () => {
  const code = await codeWithPeer();
  const before = await storage.count('refreshToken');
  const res = await redeem(distrusting, code);
  expect(res.status).toBe(400);
  expect(res.body.error).toBe('invalid_grant');
  expect(await storage.count('refreshToken')).toBe(before);
});
