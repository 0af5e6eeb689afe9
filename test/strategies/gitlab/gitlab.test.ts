/** The gitlab strategy against a fake GitLab: mapping, group rules, refresh with rotation, failures. */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { RefreshFailedError, UpstreamError } from '../../../lib/errors.js';
import type { Identity } from '../../../lib/identity.js';
import { configSchema, GitLabStrategy, type GitLabConfig } from '../../../strategies/gitlab/index.js';
import { CLIENT_ID, CLIENT_SECRET, GitLabFake, type FakeGitLabMembership } from '../../fakes/gitlab/index.js';
import { driveLogin, type LoginOutcome } from '../../fakes/platform.js';

const fake = new GitLabFake();
const both = { offlineAccess: true, groups: true };

function strategy(config: Partial<GitLabConfig> = {}, timeoutMs = 5000): GitLabStrategy {
  const parsed = configSchema.parse({ baseURL: fake.oauth.url, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, ...config });
  return new GitLabStrategy(parsed, { timeoutMs });
}

async function login(as: string, config: Partial<GitLabConfig> = {}, scopes = both, timeoutMs = 5000): Promise<LoginOutcome> {
  fake.oauth.approveAs = as;
  return driveLogin(strategy(config, timeoutMs), scopes);
}

async function identityOf(as: string, config: Partial<GitLabConfig> = {}, scopes = both): Promise<Identity> {
  const outcome = await login(as, config, scopes);
  if (outcome.type !== 'success') throw new Error(`login ended in ${outcome.type}: ${JSON.stringify(outcome)}`);
  return outcome.user as Identity;
}

function group(id: number, fullPath: string, level: number, direct = true): FakeGitLabMembership {
  return { id, fullPath, level, direct };
}

beforeAll(async () => {
  await fake.listen();
  const person = { name: 'Alice Example', email: 'alice@example.com', confirmedAt: '2024-01-02T03:04:05Z' };
  fake.add({ ...person, id: 42, username: 'alice', groups: [group(1, 'acme', 50), group(2, 'acme/platform', 50, false), group(3, 'tools', 30)] });
  fake.add({ ...person, id: 43, username: 'bob', email: 'bob@example.com', groups: [group(3, 'tools', 10)] });
  fake.add({ ...person, id: 44, username: 'carol', email: 'carol@example.com', confirmedAt: null, groups: [group(1, 'acme', 30)] });
  const many = Array.from({ length: 130 }, (_, i) => group(100 + i, `big/sub-${i}`, 20, false));
  fake.add({ ...person, id: 46, username: 'erin', email: 'erin@example.com', groups: [group(5, 'docs', 20), group(6, 'docs/api', 10, false)] });
  fake.add({ ...person, id: 45, username: 'dave', email: 'dave@example.com', groups: [group(99, 'big', 40), ...many] });
});

afterAll(() => fake.close());

beforeEach(() => fake.oauth.clearFaults());

describe('login', () => {
  test('maps the user as Dex does, with a confirmed email', async () => {
    const id = await identityOf('alice', {}, { offlineAccess: false, groups: false });
    expect(id).toEqual({ userId: '42', username: 'Alice Example', preferredUsername: 'alice', email: 'alice@example.com', emailVerified: true, groups: [] });
    expect(fake.oauth.lastScope).toBe('read_user');
  });

  test('direct groups from /oauth/userinfo when the client asks for groups (scope openid)', async () => {
    const id = await identityOf('alice');
    expect(fake.oauth.lastScope).toBe('read_user openid');
    expect(id.groups).toEqual(['acme', 'tools']);
    expect(id.connectorData).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String), expiry: expect.any(String) });
  });

  test('the groups setting filters the groups and lets members in', async () => {
    expect((await identityOf('alice', { groups: ['tools', 'elsewhere'] })).groups).toEqual(['tools']);
  });

  test('refuses a user in none of the required groups with a 403', async () => {
    expect(await login('bob', { groups: ['acme'] })).toMatchObject({ type: 'fail', status: 403 });
  });

  test('getGroupsPermission adds group:owner|maintainer|developer', async () => {
    expect((await identityOf('alice', { getGroupsPermission: true })).groups).toEqual(['acme', 'tools', 'acme:owner', 'tools:developer']);
  });

  test('inheritedGroups reads every page of /api/v4/groups (scope read_api) with roles, inherited ones included', async () => {
    const id = await identityOf('dave', { inheritedGroups: true, getGroupsPermission: true });
    expect(fake.oauth.lastScope).toBe('read_user openid read_api');
    expect(id.groups.filter((g) => !g.includes(':'))).toHaveLength(131);
    expect(id.groups).toContain('big:maintainer');
    // A role on the parent group applies to its subgroups (userinfo), without one lookup each.
    expect(id.groups).toContain('big/sub-129:maintainer');
  });

  test('inheritedGroups asks GitLab for the effective role where userinfo names none', async () => {
    const id = await identityOf('erin', { inheritedGroups: true, getGroupsPermission: true });
    expect(id.groups).toEqual(['docs', 'docs/api', 'docs:reporter', 'docs/api:guest']);
  });

  test('useLoginAsID uses the username as the user id', async () => {
    expect((await identityOf('alice', { useLoginAsID: true })).userId).toBe('alice');
  });

  test('refuses a user whose email GitLab never confirmed, unlike Dex', async () => {
    const outcome = await login('carol');
    expect(outcome).toMatchObject({ type: 'fail', status: 403 });
    expect((outcome as { message: string }).message).toMatch(/not confirmed/);
  });

  test('a bad code is refused with a 400 naming invalid_grant, not shown as GitLab being down', async () => {
    fake.oauth.approveAs = 'alice';
    const outcome = await driveLogin(strategy(), both, { rewriteCallback: (p) => p.set('code', 'forged') });
    expect(outcome).toMatchObject({ type: 'fail', status: 400, message: expect.stringMatching(/invalid_grant.*Start again/) });
  });

  test('invalid_client at the code exchange (an expired client secret) stays an upstream error', async () => {
    fake.oauth.approveAs = 'alice';
    const outcome = await driveLogin(strategy({ clientSecret: 'expired' }), both);
    expect(outcome.type).toBe('error');
    expect((outcome as { error: Error }).error).toBeInstanceOf(UpstreamError);
    expect((outcome as { error: Error }).error.message).toMatch(/invalid_client/);
  });

  test('an upstream that never answers is an upstream error within the timeout', async () => {
    fake.oauth.fail('/oauth/userinfo', 'hang');
    const outcome = await login('alice', {}, both, 300);
    expect(outcome.type).toBe('error');
    expect((outcome as { error: Error }).error).toBeInstanceOf(UpstreamError);
    expect((outcome as { error: Error }).error.message).toMatch(/timed out/);
  });
});

describe('refresh', () => {
  async function loggedIn(config: Partial<GitLabConfig> = {}): Promise<{ s: GitLabStrategy; id: Identity }> {
    fake.oauth.approveAs = 'alice';
    const s = strategy(config);
    const outcome = await driveLogin(s, both);
    if (outcome.type !== 'success') throw new Error('login failed');
    return { s, id: outcome.user as Identity };
  }

  const refreshTokenOf = (id: Identity) => (id.connectorData as { refreshToken: string }).refreshToken;

  test('uses the rotating refresh token and returns the new one', async () => {
    const { s, id } = await loggedIn();
    const before = fake.oauth.counts.refreshGrants;
    const once = await s.refresh(id, both);
    expect(fake.oauth.counts.refreshGrants).toBe(before + 1);
    expect(refreshTokenOf(once)).not.toBe(refreshTokenOf(id));
    const twice = await s.refresh(once, both);
    expect(refreshTokenOf(twice)).not.toBe(refreshTokenOf(once));
    expect(twice).toMatchObject({ userId: '42', groups: ['acme', 'tools'] });
  });

  test('concurrent refreshes of one token make one grant and all get the rotated token', async () => {
    const { s, id } = await loggedIn();
    const before = fake.oauth.counts.refreshGrants;
    const results = await Promise.all([s.refresh(id, both), s.refresh(id, both), s.refresh(id, both)]);
    expect(fake.oauth.counts.refreshGrants).toBe(before + 1);
    expect(new Set(results.map(refreshTokenOf)).size).toBe(1);
  });

  test('a revoked refresh token is a RefreshFailedError', async () => {
    const { s, id } = await loggedIn();
    fake.oauth.revoke('alice');
    await expect(s.refresh(id, both)).rejects.toBeInstanceOf(RefreshFailedError);
  });

  test('a user who left the required groups is a RefreshFailedError', async () => {
    const { s, id } = await loggedIn({ groups: ['tools'] });
    const alice = fake.users.get('alice')!;
    const saved = alice.groups;
    alice.groups = saved.filter((g) => g.fullPath !== 'tools');
    try {
      await expect(s.refresh(id, both)).rejects.toBeInstanceOf(RefreshFailedError);
    } finally {
      alice.groups = saved;
    }
  });

  test('a token endpoint answering 500 is an upstream error, not a refusal', async () => {
    const { s, id } = await loggedIn();
    fake.oauth.fail('/oauth/token', { status: 500, body: { message: '500 Internal Server Error' } });
    const err = await s.refresh(id, both).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).not.toBeInstanceOf(RefreshFailedError);
  });

  // Only a refusal of the token itself ends it; the rest keeps it for a retry (the broker's 503).
  test.each([
    ['a 429 rate limit', 429, { message: 'Retry later' }],
    ['a 408', 408, { message: 'Request Timeout' }],
    ["a proxy's 404 page", 404, '<html><body>Not Found</body></html>'],
    ['a 400 without an OAuth error', 400, { message: 'Bad Request' }],
    ['invalid_client (an expired client secret)', 401, { error: 'invalid_client', error_description: 'Client authentication failed' }],
    ['unauthorized_client', 400, { error: 'unauthorized_client' }],
    ['a 503 saying invalid_grant', 503, { error: 'invalid_grant' }],
  ])('%s from the token endpoint is an UpstreamError, not a refusal', async (_label, status, body) => {
    const { s, id } = await loggedIn();
    fake.oauth.fail('/oauth/token', { status, body });
    const err = await s.refresh(id, both).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
  });

  test.each([
    ['invalid_grant', 400, { error: 'invalid_grant' }],
    ['invalid_grant with a 403', 403, { error: 'invalid_grant' }],
    ['another OAuth error with a 400', 400, { error: 'invalid_request' }],
  ])('%s from the token endpoint is a RefreshFailedError', async (_label, status, body) => {
    const { s, id } = await loggedIn();
    fake.oauth.fail('/oauth/token', { status, body });
    await expect(s.refresh(id, both)).rejects.toBeInstanceOf(RefreshFailedError);
  });
});

describe('token exchange', () => {
  test('maps a GitLab access token the client holds', async () => {
    const { access_token } = fake.oauth.issue('alice', 'read_user openid') as { access_token: string };
    const id = await strategy().tokenIdentity('urn:ietf:params:oauth:token-type:access_token', access_token);
    expect(id).toMatchObject({ userId: '42', groups: ['acme', 'tools'] });
  });

  test('refuses an unknown token', async () => {
    await expect(strategy().tokenIdentity('urn:ietf:params:oauth:token-type:access_token', 'nope')).rejects.toBeInstanceOf(UpstreamError);
  });
});
