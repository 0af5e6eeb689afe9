/**
 * passport-bitbucket-oauth2 handed to the broker as type bitbucket-cloud, end to end with
 * openid-client, beside a broker running the built-in connector under the same connector id:
 * the same sub (the account UUID) and claims for the same Bitbucket user, a refresh token that
 * still works once the 2-hour Bitbucket access token has expired, a user outside `teams`
 * refused with a 403 page, and a forged state refused.
 */
import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import * as oidc from 'openid-client';
import type { VerifyCallback } from 'passport-oauth2';
import { Strategy as PassportBitbucket, type Profile, type StrategyOptions } from 'passport-bitbucket-oauth2';
import { createRegistry } from '../../../lib/connector.js';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { createBitbucketCloudModule } from '../../../strategies/bitbucket-cloud/index.js';
import { BitbucketFake, CLIENT_ID, CLIENT_SECRET } from '../../fakes/bitbucket-cloud/index.js';
import type { TestBroker } from '../../helpers/broker.js';
import { login, startLogin } from '../../helpers/rp.js';
import { builtInAndHandedOver, expectForgedStateRefused, userClaims } from '../passport-handover-app.js';

const fake = new BitbucketFake();
let builtIn: TestBroker;
let handedOver: TestBroker;
let closeBrokers: () => Promise<void>;

const connector = { type: 'bitbucket-cloud', id: 'bitbucket', name: 'Bitbucket', config: { clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, teams: ['acme'] } };

beforeAll(async () => {
  await fake.listen();
  fake.addUser('alice');
  fake.addUser('bob', { workspaces: [{ slug: 'elsewhere', permission: 'member' }] });
  const registry = createRegistry([createBitbucketCloudModule({ endpoints: fake.endpoints(), timeoutMs: 5000 })]);
  const endpoints = fake.endpoints();
  const passportBitbucket = new PassportBitbucket(
    {
      clientID: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      callbackURL: 'http://placeholder/callback/bitbucket', // set by builtInAndHandedOver
      // Every URL passport-bitbucket-oauth2 calls is an option: no instance property to override.
      authorizationURL: endpoints.authorizationURL,
      tokenURL: endpoints.tokenURL,
      userProfileURL: `${endpoints.apiURL}/user`,
      scope: ['account', 'email'],
      // passport-oauth2 keeps the state in the (broker's) session with `true`; the types only know a string.
      state: true as unknown as string,
      pkce: true,
    } satisfies StrategyOptions,
    // The README's form: five arguments, so passport-oauth2 hands over the token endpoint's answer too.
    (accessToken: string, refreshToken: string, params: unknown, profile: Profile, done: VerifyCallback) =>
      done(null, { accessToken, refreshToken, params, profile }),
  );
  ({ builtIn, handedOver, close: closeBrokers } = await builtInAndHandedOver(connector, passportBitbucket, { registry }));
});

afterAll(async () => {
  await closeBrokers?.();
  await fake.close();
});

test('the same sub and claims as the built-in connector for the same Bitbucket user', async () => {
  fake.oauth.approveAs = 'alice';
  const { claims: expected } = await login(builtIn.issuer, { connectorId: 'bitbucket' });
  const { claims } = await login(handedOver.issuer, { connectorId: 'bitbucket' });
  expect(userClaims(claims)).toEqual(userClaims(expected));
  expect(claims.sub).toBe(encodeSubject('{alice-0000-1111}', 'bitbucket'));
  expect(claims).toMatchObject({ email: 'alice@example.com', groups: ['acme'] });
});

test('with offline_access, the refresh token works three hours later, renewing the expired Bitbucket access token', async () => {
  fake.oauth.approveAs = 'alice';
  const { config, tokens } = await login(handedOver.issuer, { connectorId: 'bitbucket', scope: 'openid email profile groups offline_access' });
  expect(tokens.refresh_token).toEqual(expect.any(String));
  const realNow = Date.now.bind(Date);
  // The broker, the fake and openid-client all read Date.now: three hours pass for all of them.
  const later = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 3 * 3600_000);
  try {
    const before = fake.oauth.counts.refreshGrants;
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(fake.oauth.counts.refreshGrants).toBe(before + 1);
    expect(refreshed.claims()).toMatchObject({ sub: encodeSubject('{alice-0000-1111}', 'bitbucket'), groups: ['acme'] });
  } finally {
    later.mockRestore();
  }
});

test('a user in none of the required workspaces sees a 403 page, and the client gets no code', async () => {
  fake.oauth.approveAs = 'bob';
  const result = await startLogin(handedOver.issuer, { connectorId: 'bitbucket' });
  expect(result.landed).toBeUndefined();
  expect(result.page?.status).toBe(403);
  expect(result.page?.body).toMatch(/not in any of the required workspaces/);
});

test('an answer passport-bitbucket-oauth2 cannot read (a user without links) ends that login with a 502 page, not the process', async () => {
  fake.oauth.approveAs = 'alice';
  // The package reads links.html.href unchecked, in a callback node-oauth calls outside any try.
  fake.oauth.fail('/2.0/user', { status: 200, body: { uuid: '{00000000-0000-4000-8000-000000000001}', display_name: 'Alice' } });
  try {
    const result = await startLogin(handedOver.issuer, { connectorId: 'bitbucket' });
    expect(result.landed).toBeUndefined();
    expect(result.page?.status).toBe(502);
    expect(result.page?.body).toMatch(/The login with Bitbucket failed/);
  } finally {
    fake.oauth.clearFaults();
  }
  const { claims } = await login(handedOver.issuer, { connectorId: 'bitbucket' });
  expect(claims.sub).toBe(encodeSubject('{alice-0000-1111}', 'bitbucket'));
});

test('a callback with a forged state is refused with a page before the code is redeemed', async () => {
  fake.oauth.approveAs = 'alice';
  await expectForgedStateRefused(handedOver.issuer, 'bitbucket', () => fake.oauth.counts.codeGrants);
});
