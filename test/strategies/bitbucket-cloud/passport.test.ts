/**
 * An existing passport-bitbucket-oauth2 strategy mapped by the bitbucket-cloud type's
 * `fromPassportUser`, without the broker: the real package logs in through the fake Bitbucket
 * in an express-session app (test/strategies/passport-handover-app.ts), and what its verify
 * callback hands to `done()` is mapped. Compared with a login through our own
 * BitbucketCloudStrategy in the same app, as the same user.
 *
 * passport-bitbucket-oauth2 takes every URL it calls as an option (authorizationURL, tokenURL,
 * userProfileURL), so it is pointed at the fake without touching the instance.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { VerifyCallback } from 'passport-oauth2';
import { Strategy as PassportBitbucket, type Profile, type StrategyOptions } from 'passport-bitbucket-oauth2';
import type { Identity } from '../../../lib/identity.js';
import { BitbucketCloudStrategy, configSchema, createBitbucketCloudModule, type BitbucketConfig } from '../../../strategies/bitbucket-cloud/index.js';
import { BitbucketFake, CLIENT_ID, CLIENT_SECRET } from '../../fakes/bitbucket-cloud/index.js';
import { type HandoverApp, handoverLogin, startHandoverApp } from '../passport-handover-app.js';

const fake = new BitbucketFake();
let module: ReturnType<typeof createBitbucketCloudModule>;
let app: HandoverApp;
/** Only members of the `acme` workspace get in; workspace permissions as groups too. */
let strict: BitbucketConfig;
/** No workspaces needed. */
let open: BitbucketConfig;

type Handing = 'tokens-and-params' | 'tokens' | 'profile';

/** passport-bitbucket-oauth2 pointed at the fake, with state and PKCE in the session. */
function passportBitbucket(callbackURL: string, scope: string[], handing: Handing): PassportBitbucket {
  const endpoints = fake.endpoints();
  const options = {
    clientID: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    callbackURL,
    authorizationURL: endpoints.authorizationURL,
    tokenURL: endpoints.tokenURL,
    userProfileURL: `${endpoints.apiURL}/user`,
    scope,
    // passport-oauth2 keeps the state in the session with `true`; the types only know a string.
    state: true as unknown as string,
    pkce: true,
  } satisfies StrategyOptions;
  // passport-oauth2 hands the token endpoint's answer (params) only to a five-argument verify callback.
  if (handing === 'tokens-and-params') {
    return new PassportBitbucket(options, (accessToken: string, refreshToken: string, params: unknown, profile: Profile, done: VerifyCallback) =>
      done(null, { accessToken, refreshToken, params, profile }),
    );
  }
  return new PassportBitbucket(options, (accessToken: string, refreshToken: string, profile: Profile, done: VerifyCallback) =>
    done(null, handing === 'tokens' ? { accessToken, refreshToken, profile } : profile),
  );
}

/** Which config each passport-bitbucket-oauth2 strategy of the app is mapped with. */
const mappedWith: Record<string, () => BitbucketConfig> = {
  'tokens-and-params': () => strict,
  tokens: () => strict,
  'tokens-account-only': () => strict,
  profile: () => open,
};

async function loginAs(user: string, name: string, rewrite?: (params: URLSearchParams) => void) {
  fake.oauth.approveAs = user;
  return handoverLogin(app, name, rewrite);
}

beforeAll(async () => {
  await fake.listen();
  module = createBitbucketCloudModule({ endpoints: fake.endpoints(), timeoutMs: 5000 });
  fake.addUser('alice');
  fake.addUser('bob', { workspaces: [{ slug: 'elsewhere', permission: 'member' }] });
  const base = { clientID: CLIENT_ID, clientSecret: CLIENT_SECRET };
  strict = configSchema.parse({ ...base, teams: ['acme', 'acme:owner'], getWorkspacePermissions: true });
  open = configSchema.parse(base);
  app = await startHandoverApp(
    {
      dexpress: (callbackURL) => new BitbucketCloudStrategy(strict, { name: 'dexpress', endpoints: fake.endpoints(), callbackURL }),
      'tokens-and-params': (callbackURL) => passportBitbucket(callbackURL, ['account', 'email'], 'tokens-and-params'),
      tokens: (callbackURL) => passportBitbucket(callbackURL, ['account', 'email'], 'tokens'),
      // A consumer without the Account: Email permission.
      'tokens-account-only': (callbackURL) => passportBitbucket(callbackURL, ['account'], 'tokens'),
      profile: (callbackURL) => passportBitbucket(callbackURL, ['account', 'email'], 'profile'),
    },
    (name, user) => (name === 'dexpress' ? (user as Identity) : module.fromPassportUser(user, mappedWith[name]!())),
  );
});

afterAll(async () => {
  await app?.close();
  await fake.close();
});

const seconds = (iso: unknown) => Date.parse(String(iso)) / 1000;

describe('passport-bitbucket-oauth2 handing over the access token', () => {
  test("maps to the connector's own Identity for the same user: UUID, display name, confirmed primary email, filtered workspaces", async () => {
    const own = await loginAs('alice', 'dexpress');
    expect(own.status).toBe(200);
    expect(own.body.identity).toEqual({
      userId: '{alice-0000-1111}',
      username: 'alice Example',
      email: 'alice@example.com',
      emailVerified: true,
      groups: ['acme', 'acme:owner'],
    });
    const res = await loginAs('alice', 'tokens-and-params');
    expect(res.status).toBe(200);
    const { connectorData: _, ...identity } = res.body.identity as Identity;
    expect(identity).toEqual(own.body.identity);
  });

  test("with the token endpoint's answer (params), the tokens are kept with their real expiry", async () => {
    const res = await loginAs('alice', 'tokens-and-params');
    const data = (res.body.identity as Identity).connectorData as Record<string, unknown>;
    expect(data).toEqual({ accessToken: expect.stringMatching(/^at_/), refreshToken: expect.stringMatching(/^rt_/), expiry: expect.any(String) });
    // The fake's access tokens live two hours, as Bitbucket's.
    expect(seconds(data.expiry) - Date.now() / 1000).toBeGreaterThan(7200 - 60);
    expect(seconds(data.expiry) - Date.now() / 1000).toBeLessThanOrEqual(7200);
  });

  test('without params the lifetime is unknown: the token counts as expired, so the first refresh renews it', async () => {
    const res = await loginAs('alice', 'tokens');
    const data = (res.body.identity as Identity).connectorData as Record<string, unknown>;
    expect(data).toEqual({ accessToken: expect.stringMatching(/^at_/), refreshToken: expect.stringMatching(/^rt_/), expiry: expect.any(String) });
    expect(seconds(data.expiry)).toBeLessThanOrEqual(Date.now() / 1000);
    const before = fake.oauth.counts.refreshGrants;
    const refreshed = await new BitbucketCloudStrategy(strict, { endpoints: fake.endpoints() }).refresh(res.body.identity as Identity, { offlineAccess: true, groups: true });
    expect(fake.oauth.counts.refreshGrants).toBe(before + 1);
    expect(refreshed).toMatchObject({ userId: '{alice-0000-1111}', groups: ['acme', 'acme:owner'] });
  });

  test('a user in none of the required workspaces is refused as by the connector (AccessDeniedError)', async () => {
    const res = await loginAs('bob', 'tokens');
    expect(res.status).toBe(403);
    expect(res.body.error).toMatch(/not in any of the required workspaces/);
  });

  test('a token Bitbucket will not show the email to fails with the permissions to grant', async () => {
    const res = await loginAs('alice', 'tokens-account-only');
    expect(res.status).toBe(500);
    expect(res.body.error).toMatch(/Account: Email.*scope: \['account', 'email'\]/);
  });

  test("a token of another user than the profile's is refused, never mapped", async () => {
    const bobToken = String(fake.oauth.issue('bob', 'account email').access_token);
    const aliceProfile = { provider: 'bitbucket', id: '{alice-0000-1111}', displayName: 'alice Example' };
    await expect(module.fromPassportUser({ accessToken: bobToken, profile: aliceProfile }, open)).rejects.toThrow(/belongs to another user than the profile/);
  });
});

describe('what passport-bitbucket-oauth2 is not allowed to get past', () => {
  test('a bare profile has no email address: refused with an error asking for the access token, even when no workspace is needed', async () => {
    const res = await loginAs('alice', 'profile');
    expect(res.status).toBe(500);
    expect(res.body.error).toMatch(/no email address; hand over the access token/);
    const bare = { provider: 'bitbucket', id: '{alice-0000-1111}', displayName: 'alice Example' };
    await expect(module.fromPassportUser(bare, strict)).rejects.toThrow(/no email address; hand over the access token/);
  });

  test('a forged state fails in Passport before the code is redeemed', async () => {
    const before = fake.oauth.counts.codeGrants;
    const res = await loginAs('alice', 'tokens', (params) => params.set('state', 'forged'));
    expect(res.status).toBe(401);
    expect(res.body.failure).toMatch(/Invalid authorization request state/);
    expect(fake.oauth.counts.codeGrants).toBe(before);
  });

  const profile = { provider: 'bitbucket', id: '{alice-0000-1111}', displayName: 'alice Example' };
  test.each<[string, unknown, RegExp]>([
    ['null', null, /expected \{ accessToken, refreshToken, profile \} or a profile object/],
    ['a token without the profile', { accessToken: 'at_x' }, /without the profile/],
    ['a refresh token that is not a string', { accessToken: 'at_x', refreshToken: {}, profile }, /"refreshToken" is not a string/],
    ['an expires_in that is not a number of seconds', { accessToken: 'at_x', params: { expires_in: '2h' }, profile }, /"params.expires_in" is not a positive number/],
    ['another provider\'s profile', { accessToken: 'at_x', profile: { ...profile, provider: 'gitlab' } }, /expected a Bitbucket profile/],
    ['a profile without id', { accessToken: 'at_x', profile: { ...profile, id: undefined } }, /has no id/],
  ])('%s is refused', async (_what, user, message) => {
    await expect(module.fromPassportUser(user, open)).rejects.toThrow(message);
  });
});
