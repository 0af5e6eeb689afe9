/**
 * GitHub App user tokens expire and come with a rotating refresh token: refresh uses it once
 * the access token has expired, keeps the rotated one, and joins concurrent refreshes.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { RefreshFailedError } from '../../../lib/errors.js';
import type { Identity } from '../../../lib/identity.js';
import { configSchema, GitHubStrategy } from '../../../strategies/github/index.js';
import { CLIENT_ID, CLIENT_SECRET, GitHubFake } from '../../fakes/github/index.js';
import { driveLogin } from '../../fakes/platform.js';

const fake = new GitHubFake({ tokens: 'github-app' });
const scopes = { offlineAccess: true, groups: true };
let strategy: GitHubStrategy;

beforeAll(async () => {
  await fake.listen();
  fake.add({
    id: 7,
    login: 'alice',
    name: 'Alice',
    email: null,
    emails: [{ email: 'alice@example.com', verified: true, primary: true, visibility: 'private' }],
    orgs: ['acme'],
    teams: [{ org: 'acme', name: 'Core', slug: 'core' }],
  });
  fake.oauth.approveAs = 'alice';
  const config = configSchema.parse({ clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, orgs: [{ name: 'acme' }] });
  strategy = new GitHubStrategy(config, { endpoints: fake.endpoints(), timeoutMs: 5000 });
});

afterAll(() => fake.close());

/** Logs in with tokens that live `lifetime` seconds (under the 10 s skew counts as expired). */
async function loginWithLifetime(lifetime: number): Promise<Identity> {
  fake.oauth.accessTokenLifetime = lifetime;
  const outcome = await driveLogin(strategy, scopes);
  if (outcome.type !== 'success') throw new Error('login failed');
  return outcome.user as Identity;
}

function data(identity: Identity): { accessToken: string; refreshToken?: string; expiry?: string } {
  return identity.connectorData as { accessToken: string; refreshToken?: string; expiry?: string };
}

test('keeps the access token, refresh token and expiry in connectorData', async () => {
  const id = await loginWithLifetime(28800);
  expect(data(id)).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String), expiry: expect.any(String) });
  expect(Date.parse(data(id).expiry!)).toBeGreaterThan(Date.now() + 28000 * 1000);
});

test('uses the stored access token while it is valid, without a refresh grant', async () => {
  const id = await loginWithLifetime(28800);
  const before = fake.oauth.counts.refreshGrants;
  const again = await strategy.refresh(id, scopes);
  expect(fake.oauth.counts.refreshGrants).toBe(before);
  expect(data(again)).toEqual(data(id));
});

test('refreshes an expired access token upstream and keeps the rotated refresh token', async () => {
  const id = await loginWithLifetime(5);
  const before = fake.oauth.counts.refreshGrants;
  const again = await strategy.refresh(id, scopes);
  expect(fake.oauth.counts.refreshGrants).toBe(before + 1);
  expect(data(again).refreshToken).not.toBe(data(id).refreshToken);
  expect(again.groups).toEqual(['acme:Core']);
});

test('joins concurrent refreshes of one upstream refresh token into one grant', async () => {
  const id = await loginWithLifetime(5);
  const before = fake.oauth.counts.refreshGrants;
  const [a, b] = await Promise.all([strategy.refresh(id, scopes), strategy.refresh(id, scopes)]);
  expect(fake.oauth.counts.refreshGrants).toBe(before + 1);
  expect(data(a)).toEqual(data(b));
});

test('a refresh token GitHub refuses (bad_refresh_token, status 200) is a RefreshFailedError', async () => {
  const id = await loginWithLifetime(5);
  fake.oauth.revoke('alice');
  await expect(strategy.refresh(id, scopes)).rejects.toBeInstanceOf(RefreshFailedError);
});
