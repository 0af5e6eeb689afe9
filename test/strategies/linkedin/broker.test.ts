/**
 * The `linkedin` connector end to end: openid-client logs in through the broker, which logs in
 * at the LinkedIn fake; no groups and no preferred_username (the capability row); refresh.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as client from 'openid-client';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { login, verifyIdToken } from '../../helpers/rp.js';
import { FakeLinkedIn } from '../../fakes/linkedin/index.js';

let fake: FakeLinkedIn;
let broker: TestBroker;

beforeAll(async () => {
  fake = new FakeLinkedIn({ programmaticRefresh: false });
  const url = await fake.listen();
  fake.users.set('rosa', { sub: 'aBcDeF1234', name: 'Rosa Parks', given_name: 'Rosa', family_name: 'Parks', email: 'rosa@example.org', email_verified: true });
  fake.approveAs = 'rosa';
  const config = { clientID: fake.options.clientID, clientSecret: fake.options.clientSecret, issuer: `${url}/oauth` };
  broker = await startBroker({ connectors: [{ type: 'linkedin', id: 'linkedin', name: 'LinkedIn', config }] });
});

afterAll(async () => {
  await broker?.close();
  await fake?.close();
});

describe('linkedin through the broker', () => {
  test('logs in; no groups and no preferred_username claims', async () => {
    const { claims } = await login(broker.issuer, { connectorId: 'linkedin' });
    expect(claims).toMatchObject({ sub: encodeSubject('aBcDeF1234', 'linkedin'), name: 'Rosa Parks', email: 'rosa@example.org', email_verified: true });
    expect(claims.groups).toBeUndefined();
    expect(claims.preferred_username).toBeUndefined();
  });

  test('refresh re-reads the member; a revoked token gives invalid_grant', async () => {
    const { config, tokens } = await login(broker.issuer, { connectorId: 'linkedin' });
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(await verifyIdToken(broker.issuer, refreshed.id_token!)).toMatchObject({ name: 'Rosa Parks' });
    fake.revoke('rosa');
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
