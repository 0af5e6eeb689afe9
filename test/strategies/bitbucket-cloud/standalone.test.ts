/**
 * The bitbucket-cloud strategy used alone, as README "Using a strategy alone with Passport"
 * shows, in test/strategies/standalone-app.ts's app: a browser with a cookie jar logs in through
 * the fake Bitbucket Cloud (the strategy's `endpoints` option points it there instead of
 * bitbucket.org). The checks every OAuth connector passes are in standalone-oauth-checks.ts;
 * here, what Bitbucket asks for and how it refuses a user without a confirmed primary email.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { BitbucketCloudStrategy, configSchema } from '../../../strategies/bitbucket-cloud/index.js';
import { BitbucketFake, CLIENT_ID, CLIENT_SECRET, type FakeBitbucketUser } from '../../fakes/bitbucket-cloud/index.js';
import { oauthLogin, passportFailure, refusalOf, startStandaloneApp, type StandaloneApp } from '../standalone-app.js';
import { testStandaloneOAuthLogin } from '../standalone-oauth-checks.js';

const fake = new BitbucketFake();
let app: StandaloneApp;

const user = (name: string, over: Parameters<typeof fake.addUser>[1] = {}) => fake.addUser(name, over);

beforeAll(async () => {
  await fake.listen();
  user('alice');
  user('carol', { emails: [{ email: 'carol@example.com', is_primary: true, is_confirmed: false }] });
  app = await startStandaloneApp('bitbucket-cloud', (redirectURI) =>
    new BitbucketCloudStrategy(configSchema.parse({ clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectURI }), { endpoints: fake.endpoints() }),
  );
});
afterAll(async () => {
  await app.close();
  await fake.close();
});
beforeEach(() => {
  fake.oauth.approveAs = 'alice';
});

describe('BitbucketCloudStrategy alone with Passport', () => {
  testStandaloneOAuthLogin({
    upstream: 'Bitbucket',
    app: () => app,
    fake: () => fake.oauth,
    user: 'alice',
    // Alone, no upstream tokens are kept in the identity (no connectorData); Bitbucket has no username to prefer.
    identity: { userId: '{alice-0000-1111}', username: 'alice Example', email: 'alice@example.com', emailVerified: true, groups: ['acme', 'tools'] },
    identityFrom: 'UUID, primary confirmed email, workspaces',
    stateMismatch: passportFailure(400, /state did not match/),
    refusedCode: passportFailure(400, /invalid_grant/),
    tokenPath: '/site/oauth2/access_token',
  });

  test('a login asks Bitbucket for groups (the workspaces): scope account email', async () => {
    const { answer } = await oauthLogin(app);
    expect(answer.status).toBe(200);
    expect(fake.oauth.lastScope).toBe('account email');
  });

  test('a user without a confirmed primary email is a 403 failure', async () => {
    fake.oauth.approveAs = 'carol';
    const { browser, answer } = await oauthLogin(app);
    expect(await refusalOf(app, browser, answer)).toEqual(passportFailure(403, /no confirmed primary email/));
  });
});
