/**
 * atlassian-crowd through the broker, end to end: the password form and the password grant
 * against the fake Crowd, tokens verified with the broker's keys, refresh, and the capability row
 * (refresh yes, groups yes, preferred_username only when `preferredUsernameField` is configured).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { startFakeCrowd, type FakeCrowd } from '../../fakes/atlassian-crowd/server.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../../helpers/broker.js';
import { discover, login, startLogin, verifyIdToken } from '../../helpers/rp.js';

let crowd: FakeCrowd;
/** Connector `crowd` with `preferredUsernameField: name`; also the password-grant connector. */
let broker: TestBroker;
/** Connector `crowd-plain` without `preferredUsernameField`. */
let plainBroker: TestBroker;

const crowdConnector = (id: string, extra: Record<string, unknown> = {}) => ({
  type: 'atlassian-crowd',
  id,
  name: 'Crowd',
  config: { baseURL: crowd.baseURL, clientID: crowd.application.name, clientSecret: crowd.application.password, ...extra },
});

async function passwordGrant(issuer: string, username: string, password: string, scope = 'openid email profile groups offline_access') {
  return oidc.genericGrantRequest(await discover(issuer), 'password', { username, password, scope });
}

beforeAll(async () => {
  crowd = await startFakeCrowd();
  crowd.addUser({ name: 'alice', password: 'alice-pw', key: '32769:alice-key', email: 'alice@example.com' });
  crowd.addMembership('developers', { user: 'alice' });
  crowd.addMembership('engineering', { group: 'developers' });
  broker = await startBroker({
    connectors: [crowdConnector('crowd', { preferredUsernameField: 'name', usernamePrompt: 'Crowd username' })],
    oauth2: { skipApprovalScreen: true, passwordConnector: 'crowd' },
  });
  plainBroker = await startBroker({ connectors: [crowdConnector('crowd-plain')] });
});

afterAll(async () => {
  await broker?.close();
  await plainBroker?.close();
  await crowd?.close();
});

describe('the password form', () => {
  it('logs in and mints an ID token with Dex’s sub, groups, email and preferred_username', async () => {
    const { claims, tokens } = await login(broker.issuer, { password: { username: 'alice', password: 'alice-pw' } });
    expect(claims).toMatchObject({
      sub: encodeSubject('32769:alice-key', 'crowd'),
      name: 'alice',
      preferred_username: 'alice',
      email: 'alice@example.com',
      email_verified: true,
      groups: ['developers', 'engineering'],
    });
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('shows the configured prompt, and a wrong password back on the form with a 401', async () => {
    const result = await startLogin(broker.issuer, { password: { username: 'alice', password: 'wrong' } });
    expect(result.page?.status).toBe(401);
    expect(result.page?.body).toContain('Crowd username');
    expect(result.page?.body).toMatch(/Invalid crowd username or password/i);
  });

  it('gives no preferred_username when preferredUsernameField is not configured', async () => {
    const { claims } = await login(plainBroker.issuer, { password: { username: 'alice', password: 'alice-pw' } });
    expect(claims.sub).toBe(encodeSubject('32769:alice-key', 'crowd-plain'));
    expect(claims.name).toBe('alice');
    expect(claims).not.toHaveProperty('preferred_username');
  });
});

describe('the password grant', () => {
  it('issues tokens for the right password', async () => {
    const tokens = await passwordGrant(broker.issuer, 'alice', 'alice-pw');
    const claims = await verifyIdToken(broker.issuer, tokens.id_token!);
    expect(claims).toMatchObject({ sub: encodeSubject('32769:alice-key', 'crowd'), preferred_username: 'alice' });
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('answers invalid_grant for a wrong password', async () => {
    await expect(passwordGrant(broker.issuer, 'alice', 'wrong')).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('issues no refresh token without offline_access', async () => {
    const tokens = await passwordGrant(broker.issuer, 'alice', 'alice-pw', 'openid profile');
    expect(tokens.refresh_token).toBeUndefined();
  });
});

describe('refresh', () => {
  it('re-reads the groups from Crowd', async () => {
    crowd.addUser({ name: 'bob', password: 'bob-pw', key: '32769:bob-key' });
    crowd.addMembership('sales', { user: 'bob' });
    const { config, tokens } = await login(broker.issuer, { password: { username: 'bob', password: 'bob-pw' } });
    crowd.addMembership('support', { user: 'bob' });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const claims = await verifyIdToken(broker.issuer, refreshed.id_token!);
    expect(claims.groups).toEqual(['sales', 'support']);
  });

  it('answers invalid_grant once the user is gone from Crowd', async () => {
    crowd.addUser({ name: 'carol', password: 'carol-pw' });
    const tokens = await passwordGrant(broker.issuer, 'carol', 'carol-pw');
    crowd.removeUser('carol');
    await expect(oidc.refreshTokenGrant(await discover(broker.issuer), tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });
});

describe('Crowd failing', () => {
  it('puts an error naming Crowd on the form (502) instead of hanging', async () => {
    crowd.fault = 'server-error';
    try {
      const result = await startLogin(broker.issuer, { password: { username: 'alice', password: 'alice-pw' } });
      expect(result.page?.status).toBe(502);
      expect(result.page?.body).toMatch(/role="alert"[^>]*>[^<]*Crowd[^<]* cannot be reached or is misconfigured/);
      // The URL, status and service details stay in the log.
      expect(result.page?.body).not.toContain(new URL(crowd.baseURL).host);
      expect(result.page?.body).not.toMatch(/answered|500/);
    } finally {
      crowd.fault = undefined;
    }
  });

  it('answers the password grant with temporarily_unavailable', async () => {
    crowd.fault = 'server-error';
    try {
      // openid-client does not parse a 503's body, so the request is made by hand.
      const res = await fetch(`${broker.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: 'alice-pw', scope: 'openid', client_id: TEST_CLIENT.id, client_secret: TEST_CLIENT.secret }),
      });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
    } finally {
      crowd.fault = undefined;
    }
  });
});
