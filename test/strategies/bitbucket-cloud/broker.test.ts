/**
 * bitbucket-cloud through the broker with openid-client: Dex's sub (the UUID), workspaces as
 * groups, NO preferred_username (capability row), refresh, a 403 page outside `teams`, and
 * invalid_grant after revocation.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import * as oidc from 'openid-client';
import { createRegistry } from '../../../lib/connector.js';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { createBitbucketCloudModule } from '../../../strategies/bitbucket-cloud/index.js';
import { BitbucketFake, CLIENT_ID, CLIENT_SECRET } from '../../fakes/bitbucket-cloud/index.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { discover, login, startLogin } from '../../helpers/rp.js';

const fake = new BitbucketFake();
let broker: TestBroker;

beforeAll(async () => {
  await fake.listen();
  const emails = (e: string) => [{ email: e, is_primary: true, is_confirmed: true }];
  fake.add({ uuid: '{a1}', accountId: '5f:a', displayName: 'Alice Example', nickname: 'alice', emails: emails('alice@example.com'), workspaces: [{ slug: 'acme', permission: 'member' }] });
  fake.add({ uuid: '{b2}', accountId: '5f:b', displayName: 'Bob', nickname: 'bob', emails: emails('bob@example.com'), workspaces: [{ slug: 'other', permission: 'member' }] });
  const registry = createRegistry([createBitbucketCloudModule({ endpoints: fake.endpoints(), timeoutMs: 5000 })]);
  broker = await startBroker(
    { connectors: [{ type: 'bitbucket-cloud', id: 'bitbucket', name: 'Bitbucket', config: { clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, teams: ['acme'] } }] },
    { registry },
  );
});

afterAll(async () => {
  await broker?.close();
  await fake.close();
});

test("mints Dex's sub from the UUID, workspace groups, and no preferred_username", async () => {
  fake.oauth.approveAs = 'alice';
  const { claims, tokens } = await login(broker.issuer, { connectorId: 'bitbucket' });
  expect(claims).toMatchObject({ sub: encodeSubject('{a1}', 'bitbucket'), name: 'Alice Example', email: 'alice@example.com', email_verified: true, groups: ['acme'] });
  expect(claims).not.toHaveProperty('preferred_username');
  const refreshed = await oidc.refreshTokenGrant(await discover(broker.issuer), tokens.refresh_token!);
  expect(refreshed.claims()).toMatchObject({ sub: encodeSubject('{a1}', 'bitbucket'), groups: ['acme'] });
});

test('a user in none of the required workspaces sees a 403 page', async () => {
  fake.oauth.approveAs = 'bob';
  const result = await startLogin(broker.issuer, { connectorId: 'bitbucket' });
  expect(result.page?.status).toBe(403);
});

test('a revoked Bitbucket grant ends the refresh with invalid_grant', async () => {
  fake.oauth.approveAs = 'alice';
  const { tokens } = await login(broker.issuer, { connectorId: 'bitbucket' });
  fake.oauth.revoke('alice');
  await expect(oidc.refreshTokenGrant(await discover(broker.issuer), tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});
