/**
 * MicrosoftStrategy used alone, as README.md's "Using a strategy alone with Passport" shows, in
 * test/strategies/standalone-app.ts's app, against the fake of the Microsoft identity platform
 * and Graph, in an organisation tenant (so groups are read). State and the PKCE verifier live in
 * the session; refusals are Passport failures, not errors. The checks every OAuth connector
 * passes are in standalone-oauth-checks.ts; here, what Microsoft is asked for.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { configSchema, MicrosoftStrategy } from '../../../strategies/microsoft/index.js';
import { FakeMicrosoft } from '../../fakes/microsoft/index.js';
import { oauthLogin, passportFailure, startStandaloneApp, type StandaloneApp } from '../standalone-app.js';
import { testStandaloneOAuthLogin } from '../standalone-oauth-checks.js';

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
  testStandaloneOAuthLogin({
    upstream: 'Microsoft',
    app: () => app,
    fake: () => fake,
    user: jane.userId,
    identity: jane,
    identityFrom: 'Graph /me, group names',
    stateMismatch: passportFailure(400, /state did not match/),
    // The fake answers as the platform does: invalid_grant with an AADSTS70000 description.
    refusedCode: passportFailure(400, /invalid_grant/),
    tokenPath: `/${TENANT}/oauth2/v2.0/token`,
  });

  test('a login asks Microsoft for user.read and directory.read.all (the groups)', async () => {
    const { answer } = await oauthLogin(app);
    expect(answer.status).toBe(200);
    expect(fake.lastScope).toBe('user.read directory.read.all');
  });
});
