/**
 * A refresh token is issued only when it could be redeemed (Dex's shouldIssueRefreshToken):
 * `offline_access` asked for, the capability row of the connector's type says refresh, the
 * connector refreshes, and the `refresh_token` grant is enabled both in `oauth2.grantTypes` and in
 * the connector's `grantTypes`.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { AnyConnectorModule } from '../../lib/connector.js';
import { connectors as defaultRegistry } from '../../strategies/index.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { basicAuth, postForm } from '../helpers/http.js';
import { browse } from '../helpers/rp.js';

let b: TestBroker;
let grantOff: TestBroker;
let rowSaysNo: TestBroker;

beforeAll(async () => {
  b = await startBroker({
    connectors: [
      { type: 'mockCallback', id: 'mock', name: 'Example' },
      { type: 'mockCallback', id: 'no-refresh', name: 'No refresh', grantTypes: ['authorization_code'] },
    ],
  });
  grantOff = await startBroker({
    connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }],
    oauth2: { skipApprovalScreen: true, grantTypes: ['authorization_code'] },
  });
  // A connector that implements refresh, registered as a type whose capability row says no
  // (openshift): the row alone must keep the refresh token out.
  const registry = new Map<string, AnyConnectorModule>(defaultRegistry);
  registry.set('openshift', { ...defaultRegistry.get('mockCallback')!, type: 'openshift' });
  rowSaysNo = await startBroker({ connectors: [{ type: 'openshift', id: 'os', name: 'Refreshes, row says no' }] }, { registry });
});
afterAll(async () => {
  await Promise.all([b.close(), grantOff.close(), rowSaysNo.close()]);
});

async function tokensVia(broker: TestBroker, connectorId: string): Promise<Record<string, unknown>> {
  const params = new URLSearchParams({ client_id: TEST_CLIENT.id, redirect_uri: TEST_CLIENT.redirectURI, response_type: 'code', scope: 'openid offline_access', state: 's', connector_id: connectorId });
  const { landed } = await browse(`${broker.issuer}/auth?${params}`, TEST_CLIENT.redirectURI);
  const res = await postForm(`${broker.issuer}/token`, { grant_type: 'authorization_code', code: landed!.searchParams.get('code')!, redirect_uri: TEST_CLIENT.redirectURI }, basicAuth());
  expect(res.status).toBe(200);
  return res.body;
}

test('offline_access through a connector that refreshes: a refresh token', async () => {
  expect((await tokensVia(b, 'mock')).refresh_token).toEqual(expect.any(String));
});

test('a connector whose grantTypes leave out refresh_token: no refresh token', async () => {
  expect(await tokensVia(b, 'no-refresh')).not.toHaveProperty('refresh_token');
});

test('oauth2.grantTypes without refresh_token: no refresh token', async () => {
  expect(await tokensVia(grantOff, 'mock')).not.toHaveProperty('refresh_token');
});

test('a connector that refreshes, of a type whose capability row says no: no refresh token', async () => {
  expect(await tokensVia(rowSaysNo, 'os')).not.toHaveProperty('refresh_token');
});
