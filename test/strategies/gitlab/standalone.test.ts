/**
 * The gitlab strategy used alone, as README "Using a strategy alone with Passport" shows, in
 * test/strategies/standalone-app.ts's app: a browser with a cookie jar logs in through the fake
 * GitLab. The checks every OAuth connector passes are in standalone-oauth-checks.ts; here, what
 * GitLab asks for and how it refuses a user whose email was never confirmed.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { configSchema, GitLabStrategy } from '../../../strategies/gitlab/index.js';
import { CLIENT_ID, CLIENT_SECRET, GitLabFake } from '../../fakes/gitlab/index.js';
import { oauthLogin, passportFailure, refusalOf, startStandaloneApp, type StandaloneApp } from '../standalone-app.js';
import { testStandaloneOAuthLogin } from '../standalone-oauth-checks.js';

const fake = new GitLabFake();
let app: StandaloneApp;

beforeAll(async () => {
  await fake.listen();
  const confirmed = '2024-01-02T03:04:05Z';
  fake.add({ id: 42, username: 'alice', name: 'Alice Example', email: 'alice@example.com', confirmedAt: confirmed, groups: [
    { id: 1, fullPath: 'acme', level: 50, direct: true },
    { id: 2, fullPath: 'acme/platform', level: 50, direct: false },
    { id: 3, fullPath: 'tools', level: 30, direct: true },
  ] });
  fake.add({ id: 44, username: 'carol', name: 'Carol Example', email: 'carol@example.com', confirmedAt: null, groups: [] });
  app = await startStandaloneApp('gitlab', (redirectURI) =>
    new GitLabStrategy(configSchema.parse({ baseURL: fake.oauth.url, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectURI })),
  );
});
afterAll(async () => {
  await app.close();
  await fake.close();
});
beforeEach(() => {
  fake.oauth.approveAs = 'alice';
});

describe('GitLabStrategy alone with Passport', () => {
  testStandaloneOAuthLogin({
    upstream: 'GitLab',
    app: () => app,
    fake: () => fake.oauth,
    user: 'alice',
    // Alone, no upstream tokens are kept in the identity (no connectorData).
    identity: { userId: '42', username: 'Alice Example', preferredUsername: 'alice', email: 'alice@example.com', emailVerified: true, groups: ['acme', 'tools'] },
    identityFrom: 'direct groups',
    stateMismatch: passportFailure(400, /state did not match/),
    refusedCode: passportFailure(400, /invalid_grant/),
    tokenPath: '/oauth/token',
  });

  test('a login asks GitLab for groups: scope read_user openid (groups come from /oauth/userinfo)', async () => {
    const { answer } = await oauthLogin(app);
    expect(answer.status).toBe(200);
    expect(fake.oauth.lastScope).toBe('read_user openid');
  });

  test('a user whose GitLab email was never confirmed is a 403 failure', async () => {
    fake.oauth.approveAs = 'carol';
    const { browser, answer } = await oauthLogin(app);
    expect(await refusalOf(app, browser, answer)).toEqual(passportFailure(403, /confirm/));
  });
});
