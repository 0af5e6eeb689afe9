/**
 * The `linkedin` connector against a fake of Sign In with LinkedIn using OpenID Connect: the
 * authorization request, ID token and userinfo checks, the identity, refresh.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import * as jose from 'jose';
import { RefreshFailedError } from '../../../lib/errors.js';
import type { Identity, Scopes } from '../../../lib/identity.js';
import { linkedin, LinkedInStrategy, type LinkedInConfig } from '../../../strategies/linkedin/index.js';
import { FakeLinkedIn } from '../../fakes/linkedin/index.js';
import { CALLBACK_URL, driveLogin, type LoginOutcome } from '../../fakes/platform.js';

let fake: FakeLinkedIn;
let config: LinkedInConfig;
const offline: Scopes = { offlineAccess: true, groups: false };
const online: Scopes = { offlineAccess: false, groups: true };

beforeAll(async () => {
  fake = new FakeLinkedIn({ programmaticRefresh: true });
  const url = await fake.listen();
  config = { clientID: fake.options.clientID, clientSecret: fake.options.clientSecret, issuer: `${url}/oauth` };
  const member = { sub: 'aBcDeF1234', name: 'Rosa Parks', given_name: 'Rosa', family_name: 'Parks', picture: 'https://media.licdn.com/x.jpg', locale: { country: 'US', language: 'en' } };
  fake.users.set('rosa', { ...member, email: 'rosa@example.org', email_verified: true });
  fake.users.set('nameless', { sub: 'zZ9', given_name: '', family_name: '', email: 'nameless@example.org', email_verified: true });
  fake.users.set('unverified', { sub: 'uU1', name: 'Una Verified', email: 'una@example.org', email_verified: false });
  fake.users.set('noemail', { sub: 'nN2', name: 'No Email' });
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.approveAs = 'rosa';
  fake.tamper = {};
  fake.signWith = undefined;
  fake.options.refreshTokens = true;
});

const login = (scopes: Scopes = online): Promise<LoginOutcome> => driveLogin(new LinkedInStrategy(config), scopes);

function identityOf(outcome: LoginOutcome): Identity {
  if (outcome.type !== 'success') throw new Error(`expected success, got ${JSON.stringify(outcome)}`);
  return outcome.user as Identity;
}

describe('login', () => {
  test('asks openid profile email, with state and neither nonce nor PKCE', async () => {
    const { authorizeURL } = await login();
    expect(`${authorizeURL!.origin}${authorizeURL!.pathname}`).toBe(`${fake.url}/oauth/v2/authorization`);
    const p = Object.fromEntries(authorizeURL!.searchParams);
    expect(p).toMatchObject({ scope: 'openid profile email', state: 'auth-request-1', redirect_uri: CALLBACK_URL, response_type: 'code' });
    expect(p.nonce).toBeUndefined();
    expect(p.code_challenge).toBeUndefined();
  });

  test('maps the member: id, full name, email with its verified flag, no groups', async () => {
    expect(identityOf(await login())).toEqual({
      userId: 'aBcDeF1234',
      username: 'Rosa Parks',
      email: 'rosa@example.org',
      emailVerified: true,
      groups: [],
    });
  });

  test('a member without a name is named by the email, as Dex does', async () => {
    fake.approveAs = 'nameless';
    expect(identityOf(await login()).username).toBe('nameless@example.org');
  });

  test('an unverified email is passed on as unverified', async () => {
    fake.approveAs = 'unverified';
    expect(identityOf(await login())).toMatchObject({ email: 'una@example.org', emailVerified: false });
  });

  test('a member who shares no email is refused with a 403', async () => {
    fake.approveAs = 'noemail';
    expect(await login()).toMatchObject({ type: 'fail', status: 403 });
  });

  test('an ID token not signed by LinkedIn is refused', async () => {
    fake.signWith = (await jose.generateKeyPair('RS256')).privateKey;
    expect(await login()).toMatchObject({ type: 'fail', status: 401 });
  });

  test('an ID token from another issuer is refused', async () => {
    fake.tamper = { iss: 'https://evil.example/oauth' };
    expect(await login()).toMatchObject({ type: 'fail', status: 401 });
  });

  test('a member who cancels is refused, not an error', async () => {
    fake.approveAs = undefined;
    expect(await login()).toMatchObject({ type: 'fail' });
  });

  test('a wrong client secret is an upstream error with LinkedIn\'s message, not a refused user', async () => {
    const outcome = await driveLogin(new LinkedInStrategy({ ...config, clientSecret: 'wrong' }), online);
    expect(outcome.type).toBe('error');
    expect(String((outcome as { error: unknown }).error)).toMatch(/Client authentication failed/);
  });
});

describe('refresh', () => {
  async function offlineIdentity(): Promise<Identity> {
    const identity = identityOf(await login(offline));
    expect(identity.connectorData).toMatchObject({ accessToken: expect.any(String) });
    return identity;
  }

  const expired = (identity: Identity): Identity => ({
    ...identity,
    connectorData: { ...(identity.connectorData as Record<string, string>), expiry: new Date(Date.now() - 1000).toISOString() },
  });

  test('keeps the access token only for offline access', async () => {
    expect(identityOf(await login(online)).connectorData).toBeUndefined();
  });

  test('re-reads the member with the stored access token', async () => {
    const identity = await offlineIdentity();
    const grants = fake.counts.refreshGrants;
    fake.users.get('rosa')!.name = 'Rosa L. Parks';
    try {
      expect((await new LinkedInStrategy(config).refresh(identity)).username).toBe('Rosa L. Parks');
      expect(fake.counts.refreshGrants).toBe(grants);
    } finally {
      fake.users.get('rosa')!.name = 'Rosa Parks';
    }
  });

  test('an expired access token is renewed with the programmatic refresh token', async () => {
    const identity = expired(await offlineIdentity());
    const grants = fake.counts.refreshGrants;
    const refreshed = await new LinkedInStrategy(config).refresh(identity);
    expect(fake.counts.refreshGrants).toBe(grants + 1);
    expect((refreshed.connectorData as { accessToken: string }).accessToken).not.toBe((identity.connectorData as { accessToken: string }).accessToken);
  });

  test('without a refresh token, a revoked access token ends the session', async () => {
    fake.options.refreshTokens = false;
    const identity = await offlineIdentity();
    expect((identity.connectorData as { refreshToken?: string }).refreshToken).toBeUndefined();
    fake.revoke('rosa');
    await expect(new LinkedInStrategy(config).refresh(identity)).rejects.toBeInstanceOf(RefreshFailedError);
  });

  test('a refused refresh token is a RefreshFailedError', async () => {
    const identity = expired(await offlineIdentity());
    fake.revoke('rosa');
    await expect(new LinkedInStrategy(config).refresh(identity)).rejects.toBeInstanceOf(RefreshFailedError);
  });
});

describe('config', () => {
  test("Dex's keys are accepted, unknown ones are errors", () => {
    expect(linkedin.configSchema.safeParse({ clientID: 'a', clientSecret: 'b', redirectURI: CALLBACK_URL }).success).toBe(true);
    expect(linkedin.configSchema.safeParse({ clientID: 'a', clientSecret: 'b', scopes: ['r_liteprofile'] }).success).toBe(false);
  });
});
