/**
 * gitea through the broker (default registry) with openid-client: Dex's sub and
 * preferred_username, NO groups claim even when asked for (capability row), orgs still
 * restricting who gets in, refresh, and invalid_grant after revocation.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import * as oidc from 'openid-client';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { CLIENT_ID, CLIENT_SECRET, GiteaFake } from '../../fakes/gitea/index.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { discover, login, startLogin } from '../../helpers/rp.js';

const fake = new GiteaFake();
let broker: TestBroker;

beforeAll(async () => {
  await fake.listen();
  const emails = (e: string) => [{ email: e, verified: true, primary: true }];
  fake.add({ id: 9, login: 'alice', fullName: 'Alice Example', email: 'alice@example.com', emails: emails('alice@example.com'), teams: [{ org: 'acme', name: 'devs' }] });
  fake.add({ id: 10, login: 'bob', fullName: 'Bob', email: 'bob@example.com', emails: emails('bob@example.com'), teams: [{ org: 'other', name: 'devs' }] });
  broker = await startBroker({
    connectors: [{ type: 'gitea', id: 'gitea', name: 'Gitea', config: { baseURL: fake.oauth.url, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, orgs: [{ name: 'acme' }] } }],
  });
});

afterAll(async () => {
  await broker?.close();
  await fake.close();
});

test("mints Dex's sub and preferred_username, and no groups claim though groups were asked for", async () => {
  fake.oauth.approveAs = 'alice';
  const { claims, tokens } = await login(broker.issuer, { connectorId: 'gitea', scope: 'openid email profile groups offline_access' });
  expect(claims).toMatchObject({
    sub: encodeSubject('9', 'gitea'),
    name: 'Alice Example',
    preferred_username: 'alice',
    email: 'alice@example.com',
    email_verified: true,
  });
  expect(claims).not.toHaveProperty('groups');
  const refreshed = await oidc.refreshTokenGrant(await discover(broker.issuer), tokens.refresh_token!);
  expect(refreshed.claims()).not.toHaveProperty('groups');
  expect(refreshed.claims()?.sub).toBe(encodeSubject('9', 'gitea'));
});

test('a user outside the configured orgs sees a 403 page', async () => {
  fake.oauth.approveAs = 'bob';
  const result = await startLogin(broker.issuer, { connectorId: 'gitea' });
  expect(result.page?.status).toBe(403);
});

test('a revoked Gitea grant ends the refresh with invalid_grant', async () => {
  fake.oauth.approveAs = 'alice';
  const { tokens } = await login(broker.issuer, { connectorId: 'gitea' });
  fake.oauth.revoke('alice');
  await expect(oidc.refreshTokenGrant(await discover(broker.issuer), tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});
