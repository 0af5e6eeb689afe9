/**
 * passport-gitlab2 handed to the broker as type gitlab (the default registry), end to end with
 * openid-client, beside a broker running the built-in connector under the same connector id:
 * the same sub and claims for the same GitLab user (so swapping one setup for the other keeps
 * every sub), refresh through GitLab's rotating refresh tokens, a non-member refused with a 403
 * page, and a forged state refused.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import * as oidc from 'openid-client';
import type { VerifyCallback } from 'passport-oauth2';
import { Strategy as PassportGitLab2, type Profile, type StrategyOptions } from 'passport-gitlab2';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { CLIENT_ID, CLIENT_SECRET, GitLabFake } from '../../fakes/gitlab/index.js';
import type { TestBroker } from '../../helpers/broker.js';
import { login, startLogin } from '../../helpers/rp.js';
import { builtInAndHandedOver, expectForgedStateRefused, userClaims } from '../passport-handover-app.js';

const fake = new GitLabFake();
let builtIn: TestBroker;
let handedOver: TestBroker;
let closeBrokers: () => Promise<void>;

const connector = () => ({
  type: 'gitlab',
  id: 'gitlab',
  name: 'GitLab',
  config: { baseURL: fake.oauth.url, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, groups: ['platform', 'platform:owner'], getGroupsPermission: true },
});

beforeAll(async () => {
  await fake.listen();
  const person = { name: 'Alice Example', email: 'alice@example.com', confirmedAt: '2024-01-01T00:00:00Z' };
  fake.add({ ...person, id: 42, username: 'alice', groups: [{ id: 1, fullPath: 'platform', level: 50, direct: true }] });
  fake.add({ ...person, id: 43, username: 'bob', email: 'bob@example.com', groups: [{ id: 2, fullPath: 'marketing', level: 30, direct: true }] });
  const passportGitLab2 = new PassportGitLab2(
    {
      clientID: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      callbackURL: 'http://placeholder/callback/gitlab', // set by builtInAndHandedOver
      baseURL: fake.oauth.url,
      scope: ['read_user', 'openid'],
      scopeSeparator: ' ',
      // passport-oauth2 keeps the state in the (broker's) session with `true`; the types only know a string.
      state: true as unknown as string,
      pkce: true,
    } satisfies StrategyOptions,
    (accessToken: string, refreshToken: string, profile: Profile, done: VerifyCallback) => done(null, { accessToken, refreshToken, profile }),
  );
  ({ builtIn, handedOver, close: closeBrokers } = await builtInAndHandedOver(connector(), passportGitLab2));
});

afterAll(async () => {
  await closeBrokers?.();
  await fake.close();
});

test('the same sub and claims as the built-in connector for the same GitLab user', async () => {
  fake.oauth.approveAs = 'alice';
  const { claims: expected } = await login(builtIn.issuer, { connectorId: 'gitlab' });
  const { claims } = await login(handedOver.issuer, { connectorId: 'gitlab' });
  expect(userClaims(claims)).toEqual(userClaims(expected));
  expect(claims.sub).toBe(encodeSubject('42', 'gitlab'));
  expect(claims.groups).toEqual(['platform', 'platform:owner']);
});

test('with offline_access, the refresh token works, twice, through the rotating GitLab refresh token', async () => {
  fake.oauth.approveAs = 'alice';
  const { config, tokens } = await login(handedOver.issuer, { connectorId: 'gitlab', scope: 'openid email profile groups offline_access' });
  expect(tokens.refresh_token).toEqual(expect.any(String));
  const before = fake.oauth.counts.refreshGrants;
  const first = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  const second = await oidc.refreshTokenGrant(config, first.refresh_token!);
  expect(fake.oauth.counts.refreshGrants).toBe(before + 2);
  expect(second.claims()).toMatchObject({ sub: encodeSubject('42', 'gitlab'), groups: ['platform', 'platform:owner'] });
});

test('a user in none of the required groups sees a 403 page, and the client gets no code', async () => {
  fake.oauth.approveAs = 'bob';
  const result = await startLogin(handedOver.issuer, { connectorId: 'gitlab' });
  expect(result.landed).toBeUndefined();
  expect(result.page?.status).toBe(403);
  expect(result.page?.body).toMatch(/not in any of the required groups/);
});

test('GitLab failing while the mapping reads the groups with the handed-over token: a 502 "unavailable" page, and nothing issued', async () => {
  fake.oauth.approveAs = 'alice';
  fake.oauth.fail('/oauth/userinfo', { status: 503 });
  try {
    const result = await startLogin(handedOver.issuer, { connectorId: 'gitlab' });
    expect(result.landed).toBeUndefined();
    expect(result.page?.status).toBe(502);
    expect(result.page?.body).toMatch(/GitLab is unavailable/);
    expect(result.page?.body).not.toMatch(/incomplete identity|\/oauth\/userinfo|at .*\.js/);
  } finally {
    fake.oauth.clearFaults();
  }
});

test('a callback with a forged state is refused with a page before the code is redeemed', async () => {
  fake.oauth.approveAs = 'alice';
  await expectForgedStateRefused(handedOver.issuer, 'gitlab', () => fake.oauth.counts.codeGrants);
});
