/**
 * openshift through the broker (default registry) with openid-client: Dex's sub from the user's
 * uid, OpenShift groups, NO refresh token even with offline_access, no preferred_username and
 * no email (capability row and Dex-difference), and a 403 page outside `groups`.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { CLIENT_ID, CLIENT_SECRET, OpenShiftFake } from '../../fakes/openshift/index.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { login, startLogin } from '../../helpers/rp.js';

const fake = new OpenShiftFake();
let broker: TestBroker;

beforeAll(async () => {
  await fake.listen();
  fake.add({ name: 'alice', uid: 'uid-alice', fullName: 'Alice Example', groups: ['developers'] });
  fake.add({ name: 'bob', uid: 'uid-bob', fullName: 'Bob', groups: ['viewers'] });
  broker = await startBroker({
    connectors: [{ type: 'openshift', id: 'openshift', name: 'OpenShift', config: { issuer: fake.oauth.url, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, groups: ['developers'] } }],
  });
});

afterAll(async () => {
  await broker?.close();
  await fake.close();
});

test("mints Dex's sub and the groups, but no refresh token, preferred_username or email", async () => {
  fake.oauth.approveAs = 'alice';
  const { claims, tokens } = await login(broker.issuer, { connectorId: 'openshift', scope: 'openid email profile groups offline_access' });
  expect(claims).toMatchObject({ sub: encodeSubject('uid-alice', 'openshift'), name: 'alice', groups: ['developers'] });
  expect(claims).not.toHaveProperty('preferred_username');
  expect(claims).not.toHaveProperty('email');
  expect(tokens.refresh_token).toBeUndefined();
});

test('a user outside the required groups sees a 403 page', async () => {
  fake.oauth.approveAs = 'bob';
  const result = await startLogin(broker.issuer, { connectorId: 'openshift' });
  expect(result.page?.status).toBe(403);
  expect(result.page?.body).toMatch(/not in any of the required groups/);
});
