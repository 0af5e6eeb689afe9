/**
 * An existing passport-google-oauth20 strategy handed over as type `google` (`fromPassportUser`),
 * with the real package pointed at the Google fake: in an express-session app it maps to the
 * Identity the built-in connector gives the same user (with the access token, through userinfo;
 * or from the profile's userinfo copy); through the broker the ID token's `sub` is the built-in
 * connector's and refresh works; hosted domains and required groups refuse as the connector does.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as client from 'openid-client';
import { Strategy as GoogleOAuth20, type Profile, type StrategyOptions } from 'passport-google-oauth20';
import type { VerifyCallback } from 'passport-oauth2';
import type { Identity } from '../../../lib/identity.js';
import { configSchema, directoryFor, google, GoogleStrategy, type GoogleConfig } from '../../../strategies/google/index.js';
import { FakeGoogle } from '../../fakes/google/index.js';
import type { TestBroker } from '../../helpers/broker.js';
import { login, startLogin, verifyIdToken } from '../../helpers/rp.js';
import { builtInAndHandedOver, expectForgedStateRefused, type HandoverApp, handoverLogin, identityClaims, startHandoverApp, userClaims } from '../passport-handover-app.js';

const ADMIN = 'admin@acme.example';
const alice = { userId: '1101', username: 'Alice Admin', email: 'alice@acme.example', emailVerified: true, groups: ['eng@acme.example'] };

/**
 * passport-google-oauth20 asks for a refresh token only when `authenticate()` is given
 * `accessType: 'offline'`, which the broker (calling it with no options) never does; its
 * documented extension point, `authorizationParams`, asks for one on every login.
 */
class OfflineGoogleStrategy extends GoogleOAuth20 {
  override authorizationParams(options: object): object {
    return { ...super.authorizationParams(options), access_type: 'offline', prompt: 'consent' };
  }
}

let fake: FakeGoogle;
let config: GoogleConfig;
let app: HandoverApp;
/** When set, the verify callback hands over another user's profile with the token. */
let profileIdOverride: string | undefined;

function packageOptions(callbackURL: string): StrategyOptions {
  return {
    clientID: fake.options.clientID,
    clientSecret: fake.options.clientSecret,
    callbackURL,
    authorizationURL: `${fake.url}/o/oauth2/v2/auth`,
    tokenURL: `${fake.url}/token`,
    userProfileURL: `${fake.url}/v1/userinfo`, // an OpenID Connect userinfo URL, as the default
    // The connector's own scopes: its refresh needs an ID token from the refresh_token grant,
    // which the fake, like the OIDC spec, answers only to a grant with `openid`.
    scope: ['openid', 'profile', 'email'],
    // passport-oauth2 keeps the state and the PKCE verifier in the session.
    state: true,
    pkce: true,
  };
}

function handingOverTokens(callbackURL: string): GoogleOAuth20 {
  return new OfflineGoogleStrategy(packageOptions(callbackURL), (accessToken: string, refreshToken: string, profile: Profile, done: VerifyCallback) =>
    done(null, { accessToken, refreshToken, profile: profileIdOverride ? { ...profile, id: profileIdOverride } : profile }),
  );
}

function handingOverProfile(callbackURL: string): GoogleOAuth20 {
  return new GoogleOAuth20(packageOptions(callbackURL), (_accessToken: string, _refreshToken: string, profile: Profile, done: VerifyCallback) =>
    done(null, profile),
  );
}


async function loginAs(user: string, name: string, rewrite?: (params: URLSearchParams) => void) {
  fake.approveAs = user;
  return handoverLogin(app, name, rewrite);
}


beforeAll(async () => {
  fake = new FakeGoogle();
  const url = await fake.listen();
  fake.users.set('alice', { sub: alice.userId, name: alice.username, email: alice.email, email_verified: true, hd: 'acme.example' });
  fake.users.set('bob', { sub: '1102', name: 'Bob Builder', email: 'bob@acme.example', email_verified: true, hd: 'acme.example' });
  fake.users.set('gus', { sub: '2202', name: 'Gus Gmail', email: 'gus@gmail.com', email_verified: true });
  fake.superAdmins.add(ADMIN);
  fake.memberships.set(alice.email, [
    { email: 'eng@acme.example', name: 'eng' },
    { email: 'all@acme.example', name: 'all' },
  ]);
  config = configSchema.parse({
    clientID: fake.options.clientID,
    clientSecret: fake.options.clientSecret,
    issuer: url,
    adminDirectoryURL: url,
    hostedDomains: ['acme.example'],
    serviceAccountFilePath: fake.writeServiceAccountFile(),
    domainToAdminEmail: { 'acme.example': ADMIN },
    groups: ['eng@acme.example'],
  });
  const directory = await directoryFor(config);
  app = await startHandoverApp(
    {
      dexpress: (redirectURI) => new GoogleStrategy({ ...config, redirectURI }, directory),
      token: handingOverTokens,
      profile: handingOverProfile,
    },
    (name, user) => (name === 'dexpress' ? (user as Identity) : google.fromPassportUser(user, config)),
  );
});

afterAll(async () => {
  await app?.close();
  await fake?.close();
});

describe('passport-google-oauth20 handed over, in an express-session app', () => {
  test('with the access token: the Identity of the built-in connector, and the refresh token kept as it keeps it', async () => {
    const builtIn = await loginAs('alice', 'dexpress');
    const handed = await loginAs('alice', 'token');
    expect(handed.status).toBe(200);
    expect(identityClaims(handed.body.identity)).toEqual(identityClaims(builtIn.body.identity));
    expect(identityClaims(handed.body.identity)).toEqual(alice);
    expect((handed.body.identity as Identity).connectorData).toEqual({ refreshToken: expect.stringMatching(/.+/) });
  });

  test('a bare profile: the same Identity, from the userinfo answer it carries (no refresh token to keep)', async () => {
    const handed = await loginAs('alice', 'profile');
    expect(handed.status).toBe(200);
    expect(identityClaims(handed.body.identity)).toEqual(alice);
    expect((handed.body.identity as Identity).connectorData).toEqual({ refreshToken: '' });
  });

  test.each(['token', 'profile'])('%s: an account outside hostedDomains is refused as by the connector', async (name) => {
    const handed = await loginAs('gus', name);
    expect(handed).toEqual({ status: 403, body: { error: 'Only accounts of an allowed Google Workspace domain may log in here.' } });
  });

  test.each(['token', 'profile'])('%s: a user in none of the required groups is refused', async (name) => {
    const handed = await loginAs('bob', name);
    expect(handed).toEqual({ status: 403, body: { error: 'You are not a member of any group allowed to log in here.' } });
  });

  test('a token handed over with another user\'s profile is refused (userinfo answers for another sub)', async () => {
    profileIdOverride = '1102';
    try {
      const handed = await loginAs('alice', 'token');
      expect(handed.status).toBe(403);
      expect(handed.body.error).toMatch(/sub/);
    } finally {
      profileIdOverride = undefined;
    }
  });

  test('a forged state fails in the package, before the code is redeemed', async () => {
    const grants = fake.counts.codeGrants;
    const handed = await loginAs('alice', 'token', (params) => params.set('state', 'forged'));
    expect(handed).toEqual({ status: 401, body: { failure: 'Invalid authorization request state.' } });
    expect(fake.counts.codeGrants).toBe(grants);
  });

  test('a profile without OpenID Connect userinfo (Google+ format) is refused with what to hand over instead', async () => {
    const legacy = { provider: 'google', id: alice.userId, displayName: alice.username, _json: { id: alice.userId, displayName: alice.username } };
    await expect(google.fromPassportUser(legacy, config)).rejects.toThrow(/no OpenID Connect userinfo.*hand over the access token/);
  });

  test.each([
    ['not an object', 'alice'],
    ['another provider', { provider: 'github', id: '1101', _json: { sub: '1101' } }],
    ['a profile without id', { provider: 'google', _json: { sub: '1101' } }],
    [
      "a profile whose userinfo copy is another user's",
      { provider: 'google', id: '1101', _json: { sub: '1102', name: alice.username, email: alice.email, email_verified: true, hd: 'acme.example' } },
    ],
    ['a token that is not a string', { accessToken: 42, profile: { provider: 'google', id: '1101' } }],
  ])('fails closed on %s', async (_what, user) => {
    await expect(google.fromPassportUser(user, config)).rejects.toThrow(TypeError);
  });
});

describe('passport-google-oauth20 handed to the broker as type google', () => {
  let builtIn: TestBroker;
  let handed: TestBroker;
  let closeBrokers: () => Promise<void>;

  beforeAll(async () => {
    ({ builtIn, handedOver: handed, close: closeBrokers } = await builtInAndHandedOver({ type: 'google', id: 'google', name: 'Google', config }, handingOverTokens('http://placeholder/callback')));
  });

  afterAll(async () => {
    await closeBrokers?.();
  });

  test("the ID token's sub and claims are the built-in connector's for the same user", async () => {
    fake.approveAs = 'alice';
    const viaBuiltIn = await login(builtIn.issuer, { connectorId: 'google' });
    const viaPackage = await login(handed.issuer, { connectorId: 'google' });
    expect(userClaims(viaPackage.claims)).toEqual(userClaims(viaBuiltIn.claims));
    expect(viaPackage.claims).toMatchObject({ email: alice.email, groups: alice.groups });
  });

  test("refresh works: the connector's refresh redeems the refresh token the package got", async () => {
    fake.approveAs = 'alice';
    const { config: rp, tokens, claims } = await login(handed.issuer, { connectorId: 'google' });
    const grants = fake.counts.refreshGrants;
    const refreshed = await client.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(fake.counts.refreshGrants).toBe(grants + 1);
    expect(await verifyIdToken(handed.issuer, refreshed.id_token!)).toMatchObject({ sub: claims.sub, groups: alice.groups });
  });

  test('a forged state at the broker fails before the code is redeemed', async () => {
    fake.approveAs = 'alice';
    await expectForgedStateRefused(handed.issuer, 'google', () => fake.counts.codeGrants);
  });

  test('hosted domain and required groups refuse with a 403 page', async () => {
    fake.approveAs = 'gus';
    const outsider = await startLogin(handed.issuer, { connectorId: 'google' });
    expect(outsider.page?.status).toBe(403);
    expect(outsider.page?.body).toMatch(/Google Workspace domain/);
    fake.approveAs = 'bob';
    const nonMember = await startLogin(handed.issuer, { connectorId: 'google' });
    expect(nonMember.page?.status).toBe(403);
    expect(nonMember.page?.body).toMatch(/not a member of any group/);
  });
});
