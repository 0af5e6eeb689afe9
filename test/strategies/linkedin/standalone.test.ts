/**
 * LinkedInStrategy used alone, as README.md's "Using a strategy alone with Passport" shows: an
 * express-session app whose `/login` and `/callback` run `passport.authenticate('linkedin')`,
 * against the fake of Sign In with LinkedIn using OpenID Connect. LinkedIn takes neither a nonce
 * nor PKCE from web apps, so `state`, kept in the session, is all that binds the code to the
 * browser that started the login.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { configSchema, LinkedInStrategy } from '../../../strategies/linkedin/index.js';
import { FakeLinkedIn } from '../../fakes/linkedin/index.js';
import { cookieBrowser } from '../../helpers/http.js';
import { oauthLogin, refusalOf, startStandaloneApp, whoAmI, type StandaloneApp } from '../standalone-app.js';

const rosa = { userId: 'aBcDeF1234', username: 'Rosa Parks', email: 'rosa@example.org', emailVerified: true, groups: [] };

let fake: FakeLinkedIn;
let app: StandaloneApp;

beforeAll(async () => {
  fake = new FakeLinkedIn({ programmaticRefresh: false });
  const url = await fake.listen();
  fake.users.set('rosa', { sub: rosa.userId, name: rosa.username, given_name: 'Rosa', family_name: 'Parks', email: rosa.email, email_verified: true });
  app = await startStandaloneApp('linkedin', (redirectURI) =>
    new LinkedInStrategy(configSchema.parse({ clientID: fake.options.clientID, clientSecret: fake.options.clientSecret, redirectURI, issuer: `${url}/oauth` })),
  );
});
afterAll(async () => {
  await app.close();
  await fake.close();
});
beforeEach(() => {
  fake.approveAs = 'rosa';
});

describe('LinkedInStrategy alone with Passport', () => {
  test('a login ends with req.user the Identity (member id, full name, verified email, no groups), kept in the session', async () => {
    const { browser, answer } = await oauthLogin(app);
    expect(fake.lastAuthorize).toMatchObject({ state: expect.any(String), scope: 'openid profile email' });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual(rosa);
    expect(await whoAmI(app, browser)).toEqual({ status: 200, body: rosa });
  });

  test('a callback with another state fails before the code is redeemed, and uses up the login it came back for', async () => {
    const redeemed = fake.counts.codeGrants;
    const { browser, callback, answer } = await oauthLogin(app, (p) => p.set('state', 'forged'));
    expect(await refusalOf(app, browser, answer)).toEqual({ status: 401, stackFree: true, loggedIn: false, messages: [expect.stringMatching(/state/)] });
    expect(fake.counts.codeGrants).toBe(redeemed);
    const genuine = await browser.send(callback.toString());
    expect(genuine.status).toBe(400);
    expect((await whoAmI(app, browser)).status).toBe(401);
  });

  test('a callback without state fails', async () => {
    const { browser, answer } = await oauthLogin(app, (p) => p.delete('state'));
    expect(await refusalOf(app, browser, answer)).toEqual({ status: 401, stackFree: true, loggedIn: false, messages: [expect.stringMatching(/state/)] });
  });

  test('the callback opened in a browser that did not start the login fails', async () => {
    const { callback } = await oauthLogin(app, (p) => p.set('code', 'left-unused'));
    const other = cookieBrowser();
    const answer = await other.send(callback.toString());
    expect(await refusalOf(app, other, answer)).toEqual({ status: 400, stackFree: true, loggedIn: false, messages: [expect.stringMatching(/expired/)] });
  });

  test('the member cancelling at LinkedIn (error=access_denied) is a failure, not an error', async () => {
    fake.approveAs = undefined;
    const { browser, callback, answer } = await oauthLogin(app);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(await refusalOf(app, browser, answer)).toEqual({ status: 403, stackFree: true, loggedIn: false, messages: [expect.stringMatching(/cancelled or refused/)] });
  });

  test("a code LinkedIn's token endpoint refuses (its invalid_request) is a failure without a stack trace", async () => {
    const { browser, answer } = await oauthLogin(app, (p) => p.set('code', 'forged'));
    expect(await refusalOf(app, browser, answer)).toEqual({ status: 401, stackFree: true, loggedIn: false, messages: [expect.stringMatching(/invalid_request/)] });
  });
});
