/**
 * The gitea strategy used alone, as README "Using a strategy alone with Passport" shows, in
 * test/strategies/standalone-app.ts's app: a browser with a cookie jar logs in through the fake
 * Gitea. The checks every OAuth connector passes are in standalone-oauth-checks.ts; here, what
 * Gitea asks for and how it refuses an org member in none of the listed teams.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { configSchema, GiteaStrategy } from '../../../strategies/gitea/index.js';
import { CLIENT_ID, CLIENT_SECRET, GiteaFake, type FakeGiteaUser } from '../../fakes/gitea/index.js';
import { oauthLogin, passportFailure, refusalOf, startStandaloneApp, type StandaloneApp } from '../standalone-app.js';
import { testStandaloneOAuthLogin } from '../standalone-oauth-checks.js';

const fake = new GiteaFake();
let app: StandaloneApp;

const user = (name: string, over: Parameters<typeof fake.addUser>[1] = {}) => fake.addUser(name, over);

beforeAll(async () => {
  await fake.listen();
  user('alice');
  user('bob', { teams: [{ org: 'acme', name: 'interns' }] });
  // Without `orgs` (or `loadAllGroups`) Gitea gives no groups: admit acme's devs and tools' members.
  const orgs = [{ name: 'acme', teams: ['devs'] }, { name: 'tools' }];
  app = await startStandaloneApp('gitea', (redirectURI) =>
    new GiteaStrategy(configSchema.parse({ baseURL: fake.oauth.url, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectURI, orgs })),
  );
});
afterAll(async () => {
  await app.close();
  await fake.close();
});
beforeEach(() => {
  fake.oauth.approveAs = 'alice';
});

describe('GiteaStrategy alone with Passport', () => {
  testStandaloneOAuthLogin({
    upstream: 'Gitea',
    app: () => app,
    fake: () => fake.oauth,
    user: 'alice',
    // Alone, no upstream tokens are kept in the identity (no connectorData).
    identity: { userId: '70', username: 'alice Example', preferredUsername: 'alice', email: 'alice@example.com', emailVerified: true, groups: ['acme', 'acme:devs', 'tools'] },
    identityFrom: 'orgs and listed teams',
    stateMismatch: passportFailure(400, /state did not match/),
    refusedCode: passportFailure(400, /invalid_grant/),
    tokenPath: '/login/oauth/access_token',
  });

  test('a login asks Gitea for no scope, as Dex does', async () => {
    const { answer } = await oauthLogin(app);
    expect(answer.status).toBe(200);
    expect(fake.oauth.lastScope).toBe('');
  });

  test('an org member in none of the listed teams is a 403 failure', async () => {
    fake.oauth.approveAs = 'bob';
    const { browser, answer } = await oauthLogin(app);
    expect(await refusalOf(app, browser, answer)).toEqual(passportFailure(403, /does not belong to any of the approved organizations or teams/));
  });
});
