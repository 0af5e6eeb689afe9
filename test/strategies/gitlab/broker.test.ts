/**
 * gitlab through the broker (the default registry), end to end with openid-client: Dex's sub
 * and claims, refresh twice in a row through GitLab's rotating refresh tokens, a user outside
 * the required groups refused with a 403 page, and a revoked upstream grant ending in invalid_grant.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import * as oidc from 'openid-client';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { CLIENT_ID, CLIENT_SECRET, GitLabFake } from '../../fakes/gitlab/index.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { discover, login, startLogin } from '../../helpers/rp.js';

const fake = new GitLabFake();
let broker: TestBroker;

beforeAll(async () => {
  await fake.listen();
  const person = { name: 'Alice Example', email: 'alice@example.com', confirmedAt: '2024-01-01T00:00:00Z' };
  fake.add({ ...person, id: 42, username: 'alice', groups: [{ id: 1, fullPath: 'platform', level: 50, direct: true }] });
  fake.add({ ...person, id: 43, username: 'bob', email: 'bob@example.com', groups: [{ id: 2, fullPath: 'marketing', level: 30, direct: true }] });
  broker = await startBroker({
    connectors: [
      {
        type: 'gitlab',
        id: 'gitlab',
        name: 'GitLab',
        config: { baseURL: fake.oauth.url, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, groups: ['platform', 'platform:owner'], getGroupsPermission: true },
      },
    ],
  });
});

afterAll(async () => {
  await broker?.close();
  await fake.close();
});

test("mints Dex's sub with GitLab groups, roles and preferred_username", async () => {
  fake.oauth.approveAs = 'alice';
  const { claims, tokens } = await login(broker.issuer, { connectorId: 'gitlab' });
  expect(claims).toMatchObject({
    sub: encodeSubject('42', 'gitlab'),
    name: 'Alice Example',
    preferred_username: 'alice',
    email: 'alice@example.com',
    email_verified: true,
    groups: ['platform', 'platform:owner'],
  });
  expect(tokens.refresh_token).toEqual(expect.any(String));
});

test('refreshes twice in a row through the rotating upstream refresh token', async () => {
  fake.oauth.approveAs = 'alice';
  const { config, tokens } = await login(broker.issuer, { connectorId: 'gitlab' });
  const before = fake.oauth.counts.refreshGrants;
  const first = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  const second = await oidc.refreshTokenGrant(config, first.refresh_token!);
  expect(fake.oauth.counts.refreshGrants).toBe(before + 2);
  expect(second.claims()).toMatchObject({ sub: encodeSubject('42', 'gitlab'), groups: ['platform', 'platform:owner'] });
});

test('a user outside the required groups sees a 403 page', async () => {
  fake.oauth.approveAs = 'bob';
  const result = await startLogin(broker.issuer, { connectorId: 'gitlab' });
  expect(result.landed).toBeUndefined();
  expect(result.page?.status).toBe(403);
  expect(result.page?.body).toMatch(/not in any of the required groups/);
});

test('a revoked GitLab grant ends the refresh with invalid_grant', async () => {
  fake.oauth.approveAs = 'alice';
  const { tokens } = await login(broker.issuer, { connectorId: 'gitlab' });
  fake.oauth.revoke('alice');
  await expect(oidc.refreshTokenGrant(await discover(broker.issuer), tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});
