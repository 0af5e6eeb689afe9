/**
 * An existing passport-linkedin-oauth2 strategy handed over as type `linkedin`
 * (`fromPassportUser`), with the real package pointed at the LinkedIn fake. The package's own
 * profile comes from LinkedIn's legacy `/v2/me` API, whose id is not the OpenID Connect `sub`
 * the connector uses, so it runs with `skipUserProfile` and the OpenID scopes, and hands over
 * its access token: in an express-session app that maps to the Identity the built-in connector
 * gives the same member; through the broker the ID token's `sub` is the built-in connector's and
 * refresh works (LinkedIn's programmatic refresh); a member sharing no email is refused.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as client from 'openid-client';
import { Strategy as PassportLinkedIn, type StrategyOption } from 'passport-linkedin-oauth2';
import type { VerifyCallback } from 'passport-oauth2';
import type { Identity } from '../../../lib/identity.js';
import { configSchema, linkedin, LinkedInStrategy, type LinkedInConfig } from '../../../strategies/linkedin/index.js';
import { FakeLinkedIn } from '../../fakes/linkedin/index.js';
import type { TestBroker } from '../../helpers/broker.js';
import { login, startLogin, verifyIdToken } from '../../helpers/rp.js';
import { builtInAndHandedOver, expectForgedStateRefused, type HandoverApp, handoverLogin, identityClaims, startHandoverApp, userClaims } from '../passport-handover-app.js';

const rosa = { userId: 'aBcDeF1234', username: 'Rosa Parks', email: 'rosa@example.org', emailVerified: true, groups: [] };

let fake: FakeLinkedIn;
let config: LinkedInConfig;
let app: HandoverApp;

/**
 * passport-linkedin-oauth2 at the fake's endpoints, with the OpenID scopes, state in the session,
 * and no profile call (its `/v2/me` URL is hard-coded, and an OpenID-only token cannot use it).
 * Its types know none of these passport-oauth2 options.
 */
function passportLinkedIn(callbackURL: string): PassportLinkedIn {
  const options: StrategyOption & { authorizationURL: string; tokenURL: string; state: boolean; skipUserProfile: boolean } = {
    clientID: fake.options.clientID,
    clientSecret: fake.options.clientSecret,
    callbackURL,
    authorizationURL: `${fake.url}/oauth/v2/authorization`,
    tokenURL: `${fake.url}/oauth/v2/accessToken`,
    scope: ['openid', 'profile', 'email'],
    state: true,
    skipUserProfile: true,
  };
  return new PassportLinkedIn(options, (accessToken: string, refreshToken: string, profile: unknown, done: VerifyCallback) =>
    done(null, { accessToken, refreshToken, profile }),
  );
}


async function loginAs(user: string, name: string, rewrite?: (params: URLSearchParams) => void) {
  fake.approveAs = user;
  return handoverLogin(app, name, rewrite);
}


beforeAll(async () => {
  fake = new FakeLinkedIn({ programmaticRefresh: true });
  const url = await fake.listen();
  fake.users.set('rosa', { sub: rosa.userId, name: rosa.username, given_name: 'Rosa', family_name: 'Parks', email: rosa.email, email_verified: true });
  fake.users.set('mute', { sub: 'zZz9876', name: 'Quiet Member', given_name: 'Quiet', family_name: 'Member' });
  config = configSchema.parse({ clientID: fake.options.clientID, clientSecret: fake.options.clientSecret, issuer: `${url}/oauth` });
  app = await startHandoverApp(
    {
      dexpress: (redirectURI) => new LinkedInStrategy({ ...config, redirectURI }),
      token: passportLinkedIn,
    },
    (name, user) => (name === 'dexpress' ? (user as Identity) : linkedin.fromPassportUser(user, config)),
  );
});

afterAll(async () => {
  await app?.close();
  await fake?.close();
});

describe('passport-linkedin-oauth2 handed over, in an express-session app', () => {
  test('with the access token: the Identity of the built-in connector, and the tokens kept as its refresh reads them', async () => {
    const builtIn = await loginAs('rosa', 'dexpress');
    const handed = await loginAs('rosa', 'token');
    expect(handed.status).toBe(200);
    expect(identityClaims(handed.body.identity)).toEqual(identityClaims(builtIn.body.identity));
    expect(identityClaims(handed.body.identity)).toEqual(rosa);
    const kept = (handed.body.identity as Identity).connectorData;
    expect(kept).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String), expiry: expect.any(String) });
  });

  test('a member who shares no email is refused, as by the connector', async () => {
    expect(await loginAs('mute', 'dexpress')).toMatchObject({ status: 401 });
    const handed = await loginAs('mute', 'token');
    expect(handed).toEqual({ status: 403, body: { error: 'LinkedIn did not share an email address for this member.' } });
  });

  test("a bare profile (the package's legacy /v2/me id) is refused with what to hand over instead", async () => {
    const name = { givenName: 'Rosa', familyName: 'Parks' };
    const legacy = { provider: 'linkedin', id: 'yrZCpj2Z12', displayName: 'Rosa Parks', name, emails: [{ value: rosa.email }] };
    await expect(linkedin.fromPassportUser(legacy, config)).rejects.toThrow(/legacy \/v2\/me.*skipUserProfile: true.*hand over the access token/);
  });

  test('a forged state fails in the package, before the code is redeemed', async () => {
    const grants = fake.counts.codeGrants;
    const handed = await loginAs('rosa', 'token', (params) => params.set('state', 'forged'));
    expect(handed).toEqual({ status: 401, body: { failure: 'Invalid authorization request state.' } });
    expect(fake.counts.codeGrants).toBe(grants);
  });

  test.each([
    ['not an object', 'rosa'],
    ['a profile of another provider', { accessToken: 'at', refreshToken: '', profile: { provider: 'google', id: '1' } }],
    ['a refresh token that is not a string', { accessToken: 'at', refreshToken: 7, profile: undefined }],
  ])('fails closed on %s', async (_what, user) => {
    await expect(linkedin.fromPassportUser(user, config)).rejects.toThrow(TypeError);
  });
});

describe('passport-linkedin-oauth2 handed to the broker as type linkedin', () => {
  let builtIn: TestBroker;
  let handed: TestBroker;
  let closeBrokers: () => Promise<void>;

  beforeAll(async () => {
    ({ builtIn, handedOver: handed, close: closeBrokers } = await builtInAndHandedOver({ type: 'linkedin', id: 'linkedin', name: 'LinkedIn', config }, passportLinkedIn('http://placeholder/callback')));
  });

  afterAll(async () => {
    await closeBrokers?.();
  });

  test("the ID token's sub and claims are the built-in connector's for the same member", async () => {
    fake.approveAs = 'rosa';
    const viaBuiltIn = await login(builtIn.issuer, { connectorId: 'linkedin' });
    const viaPackage = await login(handed.issuer, { connectorId: 'linkedin' });
    expect(userClaims(viaPackage.claims)).toEqual(userClaims(viaBuiltIn.claims));
    expect(viaPackage.claims).toMatchObject({ name: rosa.username, email: rosa.email });
  });

  test("refresh works: the connector's refresh renews the package's token with its refresh token, then re-reads userinfo", async () => {
    fake.approveAs = 'rosa';
    const { config: rp, tokens, claims } = await login(handed.issuer, { connectorId: 'linkedin' });
    const grants = fake.counts.refreshGrants;
    const member = fake.users.get('rosa')!;
    member.name = 'Rosa Louise Parks';
    try {
      const refreshed = await client.refreshTokenGrant(rp, tokens.refresh_token!);
      expect(fake.counts.refreshGrants).toBe(grants + 1);
      expect(await verifyIdToken(handed.issuer, refreshed.id_token!)).toMatchObject({ sub: claims.sub, name: 'Rosa Louise Parks' });
    } finally {
      member.name = rosa.username;
    }
  });

  test('a member who shares no email gets a 403 page', async () => {
    fake.approveAs = 'mute';
    const result = await startLogin(handed.issuer, { connectorId: 'linkedin' });
    expect(result.page?.status).toBe(403);
    expect(result.page?.body).toMatch(/did not share an email address/);
  });

  test('a forged state at the broker fails before the code is redeemed', async () => {
    fake.approveAs = 'rosa';
    await expectForgedStateRefused(handed.issuer, 'linkedin', () => fake.counts.codeGrants);
  });
});
