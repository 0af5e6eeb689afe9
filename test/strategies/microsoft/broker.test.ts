/**
 * The `microsoft` connector end to end: openid-client logs in through the broker, which logs in
 * at the Microsoft fake; the capability row decides the claims; refresh through the broker.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as client from 'openid-client';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { login, startLogin, verifyIdToken } from '../../helpers/rp.js';
import { FakeMicrosoft } from '../../fakes/microsoft/index.js';

const TENANT = 'contoso.onmicrosoft.com';
let fake: FakeMicrosoft;
let broker: TestBroker;

beforeAll(async () => {
  fake = new FakeMicrosoft();
  const url = await fake.listen();
  fake.addUser({
    id: 'u-jane',
    displayName: 'Jane Doe',
    userPrincipalName: 'jane@contoso.onmicrosoft.com',
    mailNickname: 'jane',
    groups: [
      { id: 'g-1', displayName: 'Engineering', securityEnabled: true },
      { id: 'g-2', displayName: 'All Company', securityEnabled: false },
      { id: 'g-3', displayName: 'On Call', securityEnabled: true },
    ],
  });
  fake.addUser({ id: 'u-joe', displayName: 'Joe Guest', userPrincipalName: 'joe@contoso.onmicrosoft.com', groups: [] });
  const config = { clientID: 'ms-client', clientSecret: 'ms-secret', apiURL: url, graphURL: url, tenant: TENANT, preferredUsernameField: 'mailNickname' };
  broker = await startBroker({
    connectors: [
      { type: 'microsoft', id: 'microsoft', name: 'Microsoft', config },
      { type: 'microsoft', id: 'oncall', name: 'Microsoft (on call)', config: { ...config, groups: ['On Call'] } },
    ],
  });
});

afterAll(async () => {
  await broker?.close();
  await fake?.close();
});

describe('microsoft through the broker', () => {
  test('logs in; groups yes, preferred_username no (the capability row)', async () => {
    fake.approveAs = 'u-jane';
    const { claims } = await login(broker.issuer, { connectorId: 'microsoft' });
    expect(claims).toMatchObject({
      sub: encodeSubject('u-jane', 'microsoft'),
      name: 'Jane Doe',
      email: 'jane@contoso.onmicrosoft.com',
      email_verified: true,
      groups: ['Engineering', 'All Company', 'On Call'],
    });
    expect(claims.preferred_username).toBeUndefined();
  });

  test('a user outside the required groups gets a 403 page', async () => {
    fake.approveAs = 'u-joe';
    const { page } = await startLogin(broker.issuer, { connectorId: 'oncall' });
    expect(page?.status).toBe(403);
    expect(page?.body).toMatch(/not a member/);
  });

  test('refresh re-reads the user at Graph', async () => {
    fake.approveAs = 'u-jane';
    const { config, tokens } = await login(broker.issuer, { connectorId: 'microsoft' });
    fake.users.get('u-jane')!.displayName = 'Jane Smith';
    try {
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
      expect(await verifyIdToken(broker.issuer, refreshed.id_token!)).toMatchObject({ name: 'Jane Smith', groups: ['Engineering', 'All Company', 'On Call'] });
    } finally {
      fake.users.get('u-jane')!.displayName = 'Jane Doe';
    }
  });

  test('when Graph no longer accepts the token, the client gets invalid_grant', async () => {
    fake.approveAs = 'u-jane';
    const { config, tokens } = await login(broker.issuer, { connectorId: 'microsoft' });
    fake.revoke('u-jane');
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
