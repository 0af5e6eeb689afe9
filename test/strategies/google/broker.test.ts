/**
 * The `google` connector end to end: openid-client logs in through the broker, which logs in at
 * the Google fake (ID token verified, hosted domain enforced, Admin Directory groups); refresh
 * through the broker.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as client from 'openid-client';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { login, startLogin, verifyIdToken } from '../../helpers/rp.js';
import { FakeGoogle } from '../../fakes/google/index.js';

let fake: FakeGoogle;
let broker: TestBroker;

beforeAll(async () => {
  fake = new FakeGoogle();
  const url = await fake.listen();
  fake.users.set('alice', { sub: '1101', name: 'Alice Admin', email: 'alice@acme.example', email_verified: true, hd: 'acme.example' });
  fake.users.set('gus', { sub: '2202', name: 'Gus Gmail', email: 'gus@gmail.com', email_verified: true });
  fake.superAdmins.add('admin@acme.example');
  fake.memberships.set('alice@acme.example', [
    { email: 'eng@acme.example', name: 'eng' },
    { email: 'all@acme.example', name: 'all' },
  ]);
  const config = {
    clientID: fake.options.clientID,
    clientSecret: fake.options.clientSecret,
    issuer: url,
    adminDirectoryURL: url,
    hostedDomains: ['acme.example'],
    serviceAccountFilePath: fake.writeServiceAccountFile(),
    domainToAdminEmail: { 'acme.example': 'admin@acme.example' },
  };
  broker = await startBroker({ connectors: [{ type: 'google', id: 'google', name: 'Google', config }] });
});

afterAll(async () => {
  await broker?.close();
  await fake?.close();
});

describe('google through the broker', () => {
  test('logs in with the verified ID token and directory groups', async () => {
    fake.approveAs = 'alice';
    const { claims } = await login(broker.issuer, { connectorId: 'google' });
    expect(claims).toMatchObject({
      sub: encodeSubject('1101', 'google'),
      name: 'Alice Admin',
      email: 'alice@acme.example',
      email_verified: true,
      groups: ['eng@acme.example', 'all@acme.example'],
    });
    expect(fake.lastAuthorize.hd).toBe('acme.example');
  });

  test('an account outside the hosted domain gets a 403 page', async () => {
    fake.approveAs = 'gus';
    const { page } = await startLogin(broker.issuer, { connectorId: 'google' });
    expect(page?.status).toBe(403);
  });

  test('refresh maps a new ID token from Google', async () => {
    fake.approveAs = 'alice';
    const { config, tokens } = await login(broker.issuer, { connectorId: 'google' });
    expect(fake.lastAuthorize).toMatchObject({ access_type: 'offline', prompt: 'consent' });
    const grants = fake.counts.refreshGrants;
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(fake.counts.refreshGrants).toBe(grants + 1);
    expect(await verifyIdToken(broker.issuer, refreshed.id_token!)).toMatchObject({ sub: encodeSubject('1101', 'google') });
  });

  test('a refresh token Google revoked gives the client invalid_grant', async () => {
    fake.approveAs = 'alice';
    const { config, tokens } = await login(broker.issuer, { connectorId: 'google' });
    fake.revoke('alice');
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
