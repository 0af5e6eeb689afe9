/**
 * keystone through the broker, end to end, against a real Keystone: the password form and the
 * password grant, tokens verified with the broker's keys, refresh, and the capability row
 * (refresh yes, groups yes, preferred_username no).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { discover, login, startLogin, verifyIdToken } from '../../helpers/rp.js';
import { startKeystone, type Keystone } from '../../servers/keystone.js';

let keystone: Keystone;
let broker: TestBroker;
let acmeId: string;
let aliceId: string;
const groupIds: Record<string, string> = {};

async function passwordGrant(username: string, password: string, scope = 'openid email profile groups offline_access') {
  return oidc.genericGrantRequest(await discover(broker.issuer), 'password', { username, password, scope });
}

beforeAll(async () => {
  keystone = await startKeystone();
  acmeId = await keystone.createDomain('acme');
  for (const g of ['devs', 'ops']) groupIds[g] = await keystone.createGroup(g, acmeId);
  aliceId = await keystone.createUser({ name: 'alice', domainId: acmeId, password: 'alice-pw', email: 'alice@acme.test' });
  await keystone.addUserToGroup(groupIds.devs!, aliceId);
  const svc = await keystone.createUser({ name: 'dexpress-svc', domainId: acmeId, password: 'svc-secret' });
  await keystone.grantSystemRole(svc, 'reader');
  broker = await startBroker({
    connectors: [
      {
        type: 'keystone',
        id: 'keystone',
        name: 'OpenStack',
        config: { keystoneHost: keystone.url, domain: 'acme', keystoneUsername: 'dexpress-svc', keystonePassword: 'svc-secret' },
      },
    ],
    oauth2: { skipApprovalScreen: true, passwordConnector: 'keystone' },
  });
}, 120_000);

afterAll(async () => {
  await broker?.close();
  await keystone?.stop();
});

describe('the password form', () => {
  it('logs in and mints an ID token with Dex’s sub, email, groups and no preferred_username', async () => {
    const { claims, tokens } = await login(broker.issuer, { password: { username: 'alice', password: 'alice-pw' } });
    expect(claims).toMatchObject({
      sub: encodeSubject(aliceId, 'keystone'),
      name: 'alice',
      email: 'alice@acme.test',
      email_verified: true,
      groups: ['devs'],
    });
    expect(claims).not.toHaveProperty('preferred_username');
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('puts a wrong password back on the form with a 401 (Dex shows an error)', async () => {
    const result = await startLogin(broker.issuer, { password: { username: 'alice', password: 'wrong' } });
    expect(result.page?.status).toBe(401);
    expect(result.page?.body).toMatch(/Invalid username or password/i);
  });

  it('gives no groups claim when the groups scope was not asked for', async () => {
    const { claims } = await login(broker.issuer, { scope: 'openid profile', password: { username: 'alice', password: 'alice-pw' } });
    expect(claims).not.toHaveProperty('groups');
  });
});

describe('the password grant', () => {
  it('issues tokens for the right password', async () => {
    const tokens = await passwordGrant('alice', 'alice-pw');
    const claims = await verifyIdToken(broker.issuer, tokens.id_token!);
    expect(claims).toMatchObject({ sub: encodeSubject(aliceId, 'keystone'), groups: ['devs'] });
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('answers invalid_grant for a wrong password', async () => {
    await expect(passwordGrant('alice', 'wrong')).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('refresh', () => {
  it('re-reads the groups from Keystone', async () => {
    const id = await keystone.createUser({ name: 'bob', domainId: acmeId, password: 'bob-pw' });
    await keystone.addUserToGroup(groupIds.devs!, id);
    const tokens = await passwordGrant('bob', 'bob-pw');
    await keystone.addUserToGroup(groupIds.ops!, id);
    const refreshed = await oidc.refreshTokenGrant(await discover(broker.issuer), tokens.refresh_token!);
    const claims = await verifyIdToken(broker.issuer, refreshed.id_token!);
    expect([...(claims.groups as string[])].sort()).toEqual(['devs', 'ops']);
  });

  it('answers invalid_grant once the user is deleted from Keystone', async () => {
    const id = await keystone.createUser({ name: 'carol', domainId: acmeId, password: 'carol-pw' });
    const tokens = await passwordGrant('carol', 'carol-pw');
    await keystone.deleteUser(id);
    await expect(oidc.refreshTokenGrant(await discover(broker.issuer), tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });
});
