/**
 * GoogleStrategy used alone, as README.md's "Using a strategy alone with Passport" shows, in
 * test/strategies/standalone-app.ts's app, against the fake of Google's OpenID endpoints and
 * Admin Directory. The login state (state, nonce, PKCE verifier) lives in the session; refusals
 * are Passport failures, not errors. The checks every OAuth connector passes are in
 * standalone-oauth-checks.ts; here, what Google is asked for. (The OIDC fake cannot fail its
 * token endpoint, so the UpstreamError check is not run.)
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { configSchema, directoryFor, GoogleStrategy } from '../../../strategies/google/index.js';
import { FakeGoogle } from '../../fakes/google/index.js';
import { oauthLogin, passportFailure, startStandaloneApp, type StandaloneApp } from '../standalone-app.js';
import { testStandaloneOAuthLogin } from '../standalone-oauth-checks.js';

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
  testStandaloneOAuthLogin({
    upstream: 'Google',
    app: () => app,
    fake: () => fake,
    user: 'alice',
    identity: alice,
    identityFrom: 'ID token claims, Directory groups',
    // Google's identity always keeps the upstream refresh token (none issued without access_type=offline).
    connectorData: { refreshToken: '' },
    stateMismatch: passportFailure(401, /state/),
    refusedCode: passportFailure(401, /invalid_grant/),
  });

  test('a login sends Google a state, a nonce and a S256 PKCE challenge', async () => {
    const { answer } = await oauthLogin(app);
    expect(answer.status).toBe(200);
    expect(fake.lastAuthorize).toMatchObject({ state: expect.any(String), nonce: expect.any(String), code_challenge_method: 'S256' });
  });
});
