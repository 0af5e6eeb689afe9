/**
 * GoogleStrategy used alone, as README.md's "Using a strategy alone with Passport" shows: an
 * express-session app whose `/login` and `/callback` run `passport.authenticate('google')`,
 * against the fake of Google's OpenID endpoints and Admin Directory. The login state (state,
 * nonce, PKCE verifier) lives in the session; refusals are Passport failures, not errors.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { configSchema, directoryFor, GoogleStrategy } from '../../../strategies/google/index.js';
import { FakeGoogle } from '../../fakes/google/index.js';
import { cookieBrowser } from '../../helpers/http.js';
import { oauthLogin, refusalOf, startStandaloneApp, whoAmI, type StandaloneApp } from '../standalone-app.js';

const alice = {
  userId: '110169484474386276334',
  username: 'Alice Admin',
  email: 'alice@acme.example',
  emailVerified: true,
  groups: ['eng@acme.example', 'all@acme.example', 'k8s-admins@acme.example'],
};

let fake: FakeGoogle;
let app: StandaloneApp;

beforeAll(async () => {
  fake = new FakeGoogle();
  const url = await fake.listen();
  fake.users.set('alice', { sub: alice.userId, name: alice.username, email: alice.email, email_verified: true, hd: 'acme.example' });
  fake.superAdmins.add('admin@acme.example');
  fake.memberships.set(alice.email, alice.groups.map((email) => ({ email, name: email.split('@')[0]! })));
  const serviceAccountFilePath = fake.writeServiceAccountFile();
  app = await startStandaloneApp('google', async (redirectURI) => {
    const config = configSchema.parse({
      clientID: fake.options.clientID,
      clientSecret: fake.options.clientSecret,
      redirectURI,
      issuer: url,
      serviceAccountFilePath,
      domainToAdminEmail: { 'acme.example': 'admin@acme.example' },
      adminDirectoryURL: url,
    });
    return new GoogleStrategy(config, await directoryFor(config));
  });
});
afterAll(async () => {
  await app.close();
  await fake.close();
});
beforeEach(() => {
  fake.approveAs = 'alice';
});

describe('GoogleStrategy alone with Passport', () => {
  test('a login ends with req.user the Identity (ID token claims, Directory groups), kept in the session', async () => {
    const { browser, answer } = await oauthLogin(app);
    expect(fake.lastAuthorize).toMatchObject({ state: expect.any(String), nonce: expect.any(String), code_challenge_method: 'S256' });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual(alice);
    expect(await whoAmI(app, browser)).toEqual({ status: 200, body: alice });
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

  test('the user refusing at Google (error=access_denied) is a failure, not an error', async () => {
    fake.approveAs = undefined;
    const { browser, callback, answer } = await oauthLogin(app);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(await refusalOf(app, browser, answer)).toEqual({ status: 403, stackFree: true, loggedIn: false, messages: [expect.stringMatching(/cancelled or refused/)] });
  });

  test('a code Google refuses at the token endpoint (invalid_grant) is a failure without a stack trace', async () => {
    const { browser, answer } = await oauthLogin(app, (p) => p.set('code', 'forged'));
    expect(await refusalOf(app, browser, answer)).toEqual({ status: 401, stackFree: true, loggedIn: false, messages: [expect.stringMatching(/invalid_grant/)] });
  });
});
