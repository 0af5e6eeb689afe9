/**
 * LinkedInStrategy used alone, as README.md's "Using a strategy alone with Passport" shows, in
 * test/strategies/standalone-app.ts's app, against the fake of Sign In with LinkedIn using
 * OpenID Connect. LinkedIn takes neither a nonce nor PKCE from web apps, so `state`, kept in the
 * session, is all that binds the code to the browser that started the login. The checks every
 * OAuth connector passes are in standalone-oauth-checks.ts; here, what LinkedIn is asked for.
 * (The OIDC fake cannot fail its token endpoint, so the UpstreamError check is not run.)
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { configSchema, LinkedInStrategy } from '../../../strategies/linkedin/index.js';
import { FakeLinkedIn } from '../../fakes/linkedin/index.js';
import { oauthLogin, passportFailure, startStandaloneApp, type StandaloneApp } from '../standalone-app.js';
import { testStandaloneOAuthLogin } from '../standalone-oauth-checks.js';

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
  testStandaloneOAuthLogin({
    upstream: 'LinkedIn',
    app: () => app,
    fake: () => fake,
    user: 'rosa',
    identity: rosa,
    identityFrom: 'member id, full name, verified email, no groups',
    stateMismatch: passportFailure(401, /state/),
    // LinkedIn answers a bad code with its own invalid_request.
    refusedCode: passportFailure(401, /invalid_request/),
  });

  test('a login sends LinkedIn a state and asks for openid profile email', async () => {
    const { answer } = await oauthLogin(app);
    expect(answer.status).toBe(200);
    expect(fake.lastAuthorize).toMatchObject({ state: expect.any(String), scope: 'openid profile email' });
  });
});
