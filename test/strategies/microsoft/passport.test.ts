/**
 * An existing passport-microsoft strategy handed over as type `microsoft` (`fromPassportUser`),
 * with the real package pointed at the Microsoft fake (its `authorizationURL`, `tokenURL` and
 * `apiEntryPoint`). The package logs in at the `common` endpoints while the config names one
 * directory, so the mapping must check the user's directory itself. In an express-session app it
 * maps to the Identity the built-in connector gives the same user; through the broker the ID
 * token's `sub` is the built-in connector's and refresh works; other directories and users
 * outside the required groups are refused.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as client from 'openid-client';
import { Strategy as PassportMicrosoft } from 'passport-microsoft';
import type { VerifyCallback } from 'passport-oauth2';
import type { Identity } from '../../../lib/identity.js';
import { configSchema, microsoft, MicrosoftStrategy, type MicrosoftConfig } from '../../../strategies/microsoft/index.js';
import { FakeMicrosoft } from '../../fakes/microsoft/index.js';
import type { TestBroker } from '../../helpers/broker.js';
import { login, startLogin, verifyIdToken } from '../../helpers/rp.js';
import { builtInAndHandedOver, expectForgedStateRefused, type HandoverApp, handoverLogin, identityClaims, startHandoverApp, userClaims } from '../passport-handover-app.js';

const TENANT = 'contoso.onmicrosoft.com';
const jane = {
  userId: 'u-jane',
  username: 'Jane Doe',
  email: 'jane@contoso.onmicrosoft.com',
  emailVerified: true,
  preferredUsername: 'jane',
  groups: ['Engineering', 'All Company', 'On Call'],
};

let fake: FakeMicrosoft;
let app: HandoverApp;
/** Contoso only, members of `On Call`, preferred_username from mailNickname. */
let strict: MicrosoftConfig;
/** Tenant `common`: any account, no groups. */
let open: MicrosoftConfig;

/** passport-microsoft at the fake's `common` endpoints (as its `tenant` default), state and PKCE in the session. */
function passportMicrosoft(callbackURL: string, handTokenOver: boolean): PassportMicrosoft {
  return new PassportMicrosoft(
    {
      clientID: 'ms-client',
      clientSecret: 'ms-secret',
      callbackURL,
      authorizationURL: `${fake.url}/common/oauth2/v2.0/authorize`,
      tokenURL: `${fake.url}/common/oauth2/v2.0/token`,
      apiEntryPoint: fake.url,
      // Groups are read in an organisation tenant (the broker does not know yet whether the client asks).
      scope: ['user.read', 'directory.read.all', 'offline_access'],
      state: true,
      pkce: true,
    },
    (accessToken: string, refreshToken: string, profile: unknown, done: VerifyCallback) =>
      done(null, handTokenOver ? { accessToken, refreshToken, profile } : (profile as Express.User)),
  );
}

/** Which config each passport-microsoft strategy of the app is mapped with. */
const mappedWith: Record<string, () => MicrosoftConfig> = {
  token: () => strict,
  profile: () => open,
  'profile-strict': () => strict,
};


async function loginAs(user: string, name: string, rewrite?: (params: URLSearchParams) => void) {
  fake.approveAs = user;
  return handoverLogin(app, name, rewrite);
}


beforeAll(async () => {
  fake = new FakeMicrosoft();
  const url = await fake.listen();
  fake.addUser({
    id: jane.userId,
    displayName: jane.username,
    userPrincipalName: jane.email,
    mailNickname: jane.preferredUsername,
    groups: [
      { id: 'g-1', displayName: 'Engineering', securityEnabled: true },
      { id: 'g-2', displayName: 'All Company', securityEnabled: false },
      { id: 'g-3', displayName: 'On Call', securityEnabled: true },
    ],
  });
  fake.addUser({ id: 'u-joe', displayName: 'Joe Bloggs', userPrincipalName: 'joe@contoso.onmicrosoft.com', groups: [] });
  // In On Call, but of another directory (Fabrikam's): the contoso tenant's endpoints would not log him in.
  fake.addUser({
    id: 'u-fred',
    displayName: 'Fred Fabrikam',
    userPrincipalName: 'fred@fabrikam.onmicrosoft.com',
    groups: [{ id: 'g-3', displayName: 'On Call', securityEnabled: true }],
    directory: { id: '0b0b0b0b-1111-2222-3333-444444444444', displayName: 'Fabrikam', verifiedDomains: ['fabrikam.onmicrosoft.com'] },
  });
  const base = { clientID: 'ms-client', clientSecret: 'ms-secret', apiURL: url, graphURL: url };
  strict = configSchema.parse({ ...base, tenant: TENANT, groups: ['On Call'], preferredUsernameField: 'mailNickname' });
  open = configSchema.parse(base);
  app = await startHandoverApp(
    {
      'dexpress-strict': (redirectURI) => new MicrosoftStrategy({ ...strict, redirectURI }),
      'dexpress-open': (redirectURI) => new MicrosoftStrategy({ ...open, redirectURI }),
      token: (callbackURL) => passportMicrosoft(callbackURL, true),
      profile: (callbackURL) => passportMicrosoft(callbackURL, false),
      'profile-strict': (callbackURL) => passportMicrosoft(callbackURL, false),
    },
    (name, user) => (name.startsWith('dexpress') ? (user as Identity) : microsoft.fromPassportUser(user, mappedWith[name]!())),
  );
});

afterAll(async () => {
  await app?.close();
  await fake?.close();
});

describe('passport-microsoft handed over, in an express-session app', () => {
  test('with the access token: the Identity of the built-in connector, and the tokens kept as its refresh reads them', async () => {
    const builtIn = await loginAs(jane.userId, 'dexpress-strict');
    const handed = await loginAs(jane.userId, 'token');
    expect(handed.status).toBe(200);
    expect(identityClaims(handed.body.identity)).toEqual(identityClaims(builtIn.body.identity));
    expect(identityClaims(handed.body.identity)).toEqual(jane);
    // Without `params` the token's lifetime is unknown: it is recorded as expiring at once.
    const kept = (handed.body.identity as Identity).connectorData;
    expect(kept).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String), expiry: expect.any(String) });
  });

  test('a bare profile with tenant common: the Identity of the built-in connector', async () => {
    const builtIn = await loginAs(jane.userId, 'dexpress-open');
    const handed = await loginAs(jane.userId, 'profile');
    expect(handed.status).toBe(200);
    expect(identityClaims(handed.body.identity)).toEqual(identityClaims(builtIn.body.identity));
    expect(handed.body.identity).toEqual({ userId: jane.userId, username: jane.username, email: jane.email, emailVerified: true, groups: [] });
  });

  test('a user of another directory is refused, though the package logged him in at common', async () => {
    const handed = await loginAs('u-fred', 'token');
    expect(handed).toEqual({ status: 403, body: { error: 'Only accounts of the allowed directory may log in here.' } });
  });

  test('a user outside the required groups is refused', async () => {
    const handed = await loginAs('u-joe', 'token');
    expect(handed).toEqual({ status: 403, body: { error: 'You are not a member of any group allowed to log in here.' } });
  });

  test('a bare profile cannot prove the tenant: refused with what to hand over instead', async () => {
    const handed = await loginAs(jane.userId, 'profile-strict');
    expect(handed.status).toBe(500);
    expect(handed.body.error).toMatch(/only tenant "contoso.onmicrosoft.com", which a profile cannot prove; hand over the access token/);
  });

  test('a bare profile lacks mailNickname (passport-microsoft reads /me without $select): refused', async () => {
    const me = { id: jane.userId, displayName: jane.username, userPrincipalName: jane.email };
    const profile = { provider: 'microsoft', id: jane.userId, displayName: jane.username, _json: me };
    await expect(microsoft.fromPassportUser(profile, { ...open, preferredUsernameField: 'mailNickname' })).rejects.toThrow(
      /no "mailNickname".*hand over the access token/,
    );
  });

  test("a token of another user than the profile's is refused, never mapped", async () => {
    const joeToken = String(fake.issue('u-joe', 'user.read').access_token);
    const janeProfile = { provider: 'microsoft', id: jane.userId, _json: { id: jane.userId, userPrincipalName: jane.email } };
    for (const config of [open, strict]) {
      await expect(microsoft.fromPassportUser({ accessToken: joeToken, refreshToken: '', profile: janeProfile }, config)).rejects.toThrow(
        /belongs to another user than the profile/,
      );
    }
  });

  test('tenant consumers cannot be checked for a handed-over token: refused', async () => {
    const user = { accessToken: 'at', refreshToken: 'rt', profile: { provider: 'microsoft', id: jane.userId } };
    await expect(microsoft.fromPassportUser(user, { ...open, tenant: 'consumers' })).rejects.toThrow(/tenant "consumers" cannot be checked/);
  });

  test('Graph not confirming the directory: a 4xx refuses, a 5xx is an upstream error', async () => {
    const denied = { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' };
    fake.fail('/v1.0/organization', { status: 403, body: { error: denied } });
    try {
      expect(await loginAs(jane.userId, 'token')).toEqual({ status: 403, body: { error: 'Only accounts of the allowed directory may log in here.' } });
      fake.fail('/v1.0/organization', { status: 503, body: { error: { code: 'serviceNotAvailable', message: 'Service unavailable' } } });
      const outage = await loginAs(jane.userId, 'token');
      expect(outage.status).toBe(500);
      expect(outage.body.error).toMatch(/organization answered 503 \(serviceNotAvailable/);
    } finally {
      fake.clearFaults();
    }
  });

  test('a forged state fails in the package, before the code is redeemed', async () => {
    const grants = fake.counts.codeGrants;
    const handed = await loginAs(jane.userId, 'token', (params) => params.set('state', 'forged'));
    expect(handed).toEqual({ status: 401, body: { failure: 'Invalid authorization request state.' } });
    expect(fake.counts.codeGrants).toBe(grants);
  });

  test.each([
    ['another provider', { accessToken: 'at', profile: { provider: 'google', id: jane.userId } }, TypeError],
    ['a profile without id', { provider: 'microsoft', _json: { id: jane.userId } }, TypeError],
    [
      'a profile whose _json is another user',
      { provider: 'microsoft', id: jane.userId, _json: { id: 'u-joe', userPrincipalName: 'joe@contoso.onmicrosoft.com' } },
      TypeError,
    ],
  ])('fails closed on %s', async (_what, user, error) => {
    await expect(microsoft.fromPassportUser(user, open)).rejects.toThrow(error);
  });
});

describe('passport-microsoft handed to the broker as type microsoft', () => {
  let builtIn: TestBroker;
  let handed: TestBroker;
  let closeBrokers: () => Promise<void>;

  beforeAll(async () => {
    ({ builtIn, handedOver: handed, close: closeBrokers } = await builtInAndHandedOver({ type: 'microsoft', id: 'microsoft', name: 'Microsoft', config: strict }, passportMicrosoft('http://placeholder/callback', true)));
  });

  afterAll(async () => {
    await closeBrokers?.();
  });

  test("the ID token's sub and claims are the built-in connector's for the same user", async () => {
    fake.approveAs = jane.userId;
    const viaBuiltIn = await login(builtIn.issuer, { connectorId: 'microsoft' });
    const viaPackage = await login(handed.issuer, { connectorId: 'microsoft' });
    expect(userClaims(viaPackage.claims)).toEqual(userClaims(viaBuiltIn.claims));
    expect(viaPackage.claims).toMatchObject({ email: jane.email, groups: jane.groups });
  });

  test("refresh works: the connector's refresh renews the package's token with its refresh token, then re-reads Graph", async () => {
    fake.approveAs = jane.userId;
    const { config: rp, tokens, claims } = await login(handed.issuer, { connectorId: 'microsoft' });
    const grants = fake.counts.refreshGrants;
    fake.users.get(jane.userId)!.displayName = 'Jane Smith';
    try {
      const refreshed = await client.refreshTokenGrant(rp, tokens.refresh_token!);
      expect(fake.counts.refreshGrants).toBe(grants + 1);
      expect(await verifyIdToken(handed.issuer, refreshed.id_token!)).toMatchObject({ sub: claims.sub, name: 'Jane Smith', groups: jane.groups });
    } finally {
      fake.users.get(jane.userId)!.displayName = jane.username;
    }
  });

  test('another directory and a user outside the required groups get a 403 page', async () => {
    fake.approveAs = 'u-fred';
    const outsider = await startLogin(handed.issuer, { connectorId: 'microsoft' });
    expect(outsider.page?.status).toBe(403);
    expect(outsider.page?.body).toMatch(/Only accounts of the allowed directory/);
    fake.approveAs = 'u-joe';
    const nonMember = await startLogin(handed.issuer, { connectorId: 'microsoft' });
    expect(nonMember.page?.status).toBe(403);
    expect(nonMember.page?.body).toMatch(/not a member of any group/);
  });

  test('a forged state at the broker fails before the code is redeemed', async () => {
    fake.approveAs = jane.userId;
    await expectForgedStateRefused(handed.issuer, 'microsoft', () => fake.counts.codeGrants);
  });
});
