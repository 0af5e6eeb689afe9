/**
 * MicrosoftStrategy used alone, as README.md's "Using a strategy alone with Passport" shows: an
 * express-session app whose `/login` and `/callback` run `passport.authenticate('microsoft')`,
 * against the fake of the Microsoft identity platform and Graph, in an organisation tenant (so
 * groups are read). State and the PKCE verifier live in the session; refusals are Passport
 * failures, not errors.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { configSchema, MicrosoftStrategy } from '../../../strategies/microsoft/index.js';
import { FakeMicrosoft } from '../../fakes/microsoft/index.js';
import { cookieBrowser } from '../../helpers/http.js';
import { oauthLogin, refusalOf, startStandaloneApp, whoAmI, type StandaloneApp } from '../standalone-app.js';

const TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const jane = {
  userId: 'u-jane',
  username: 'Jane Doe',
  email: 'Jane.Doe@Contoso.onmicrosoft.com',
  emailVerified: true,
  groups: ['Engineering', 'All Company', 'Kubernetes Admins'],
};

let fake: FakeMicrosoft;
let app: StandaloneApp;

beforeAll(async () => {
  fake = new FakeMicrosoft();
  const url = await fake.listen();
  fake.addUser({
    id: jane.userId,
    displayName: jane.username,
    userPrincipalName: jane.email,
    groups: jane.groups.map((displayName, i) => ({ id: `g-${i}`, displayName, securityEnabled: true })),
  });
  app = await startStandaloneApp('microsoft', (redirectURI) =>
    new MicrosoftStrategy(configSchema.parse({ clientID: 'ms-client', clientSecret: 'ms-secret', redirectURI, tenant: TENANT, apiURL: url, graphURL: url })),
  );
});
afterAll(async () => {
  await app.close();
  await fake.close();
});
beforeEach(() => {
  fake.approveAs = jane.userId;
});

describe('MicrosoftStrategy alone with Passport', () => {
  test('a login ends with req.user the Identity (Graph /me, group names), kept in the session', async () => {
    const { browser, answer } = await oauthLogin(app);
    expect(fake.lastScope).toBe('user.read directory.read.all');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual(jane);
    expect(await whoAmI(app, browser)).toEqual({ status: 200, body: jane });
  });

  test('a callback with another state fails before the code is redeemed, and uses up the login it came back for', async () => {
    const redeemed = fake.counts.codeGrants;
    const { browser, callback, answer } = await oauthLogin(app, (p) => p.set('state', 'forged'));
    expect(await refusalOf(app, browser, answer)).toEqual({ status: 400, stackFree: true, loggedIn: false, messages: [expect.stringMatching(/state did not match/)] });
    expect(fake.counts.codeGrants).toBe(redeemed);
    const genuine = await browser.send(callback.toString());
    expect(genuine.status).toBe(400);
    expect((await whoAmI(app, browser)).status).toBe(401);
  });

  test('a callback without state fails', async () => {
    const { browser, answer } = await oauthLogin(app, (p) => p.delete('state'));
    expect(await refusalOf(app, browser, answer)).toEqual({ status: 400, stackFree: true, loggedIn: false, messages: [expect.stringMatching(/state did not match/)] });
  });

  test('the callback opened in a browser that did not start the login fails', async () => {
    const { callback } = await oauthLogin(app, (p) => p.set('code', 'left-unused'));
    const other = cookieBrowser();
    const answer = await other.send(callback.toString());
    expect(await refusalOf(app, other, answer)).toEqual({ status: 400, stackFree: true, loggedIn: false, messages: [expect.stringMatching(/expired/)] });
  });

  test('the user refusing consent (error=access_denied) is a failure, not an error', async () => {
    fake.approveAs = undefined;
    const { browser, callback, answer } = await oauthLogin(app);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(await refusalOf(app, browser, answer)).toEqual({ status: 403, stackFree: true, loggedIn: false, messages: [expect.stringMatching(/cancelled or refused/)] });
  });

  test('a code the token endpoint refuses (invalid_grant, AADSTS70000) is a failure without a stack trace', async () => {
    const { browser, answer } = await oauthLogin(app, (p) => p.set('code', 'forged'));
    expect(await refusalOf(app, browser, answer)).toEqual({ status: 400, stackFree: true, loggedIn: false, messages: [expect.stringMatching(/invalid_grant/)] });
  });
});
