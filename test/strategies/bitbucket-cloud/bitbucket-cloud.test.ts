/** The bitbucket-cloud strategy against a fake Bitbucket Cloud: mapping, workspaces, refresh, failures. */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { RefreshFailedError, UpstreamError } from '../../../lib/errors.js';
import type { Identity } from '../../../lib/identity.js';
import { BitbucketCloudStrategy, configSchema, type BitbucketConfig } from '../../../strategies/bitbucket-cloud/index.js';
import { BitbucketFake, CLIENT_ID, CLIENT_SECRET, type FakeBitbucketUser } from '../../fakes/bitbucket-cloud/index.js';
import { driveLogin, type LoginOutcome } from '../../fakes/platform.js';

const fake = new BitbucketFake();
const both = { offlineAccess: true, groups: true };

function strategy(config: Partial<BitbucketConfig> = {}, timeoutMs = 5000): BitbucketCloudStrategy {
  const parsed = configSchema.parse({ clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, ...config });
  return new BitbucketCloudStrategy(parsed, { endpoints: fake.endpoints(), timeoutMs });
}

async function login(as: string, config: Partial<BitbucketConfig> = {}, scopes = both, timeoutMs = 5000): Promise<LoginOutcome> {
  fake.oauth.approveAs = as;
  return driveLogin(strategy(config, timeoutMs), scopes);
}

async function identityOf(as: string, config: Partial<BitbucketConfig> = {}, scopes = both): Promise<Identity> {
  const outcome = await login(as, config, scopes);
  if (outcome.type !== 'success') throw new Error(`login ended in ${outcome.type}: ${JSON.stringify(outcome)}`);
  return outcome.user as Identity;
}

const user = (name: string, over: Parameters<typeof fake.addUser>[1] = {}) => fake.addUser(name, over);

beforeAll(async () => {
  await fake.listen();
  user('alice');
  user('bob', { workspaces: [{ slug: 'elsewhere', permission: 'member' }] });
  user('carol', { emails: [{ email: 'carol@example.com', is_primary: true, is_confirmed: false }] });
  user('dave', { workspaces: Array.from({ length: 5 }, (_, i) => ({ slug: `ws${i}`, permission: 'collaborator' as const })) });
});

afterAll(() => fake.close());

beforeEach(() => {
  fake.oauth.clearFaults();
  fake.maxPageLen = 100;
});

describe('login', () => {
  test('maps the UUID, display name and primary confirmed email; no preferred username', async () => {
    const id = await identityOf('alice', {}, { offlineAccess: false, groups: false });
    expect(fake.oauth.lastScope).toBe('account email');
    expect(id).toEqual({ userId: '{alice-0000-1111}', username: 'alice Example', email: 'alice@example.com', emailVerified: true, groups: [] });
  });

  test('workspaces are groups when the client asks for groups', async () => {
    expect((await identityOf('alice')).groups).toEqual(['acme', 'tools']);
  });

  test('follows the next links of paged collections', async () => {
    fake.maxPageLen = 2;
    expect((await identityOf('dave')).groups).toEqual(['ws0', 'ws1', 'ws2', 'ws3', 'ws4']);
    expect((await identityOf('alice')).email).toBe('alice@example.com');
  });

  test('teams filters the workspaces and refuses users in none of them', async () => {
    expect((await identityOf('alice', { teams: ['tools', 'other'] })).groups).toEqual(['tools']);
    expect(await login('bob', { teams: ['acme'] })).toMatchObject({ type: 'fail', status: 403 });
  });

  test('getWorkspacePermissions adds workspace:permission entries', async () => {
    expect((await identityOf('alice', { getWorkspacePermissions: true })).groups).toEqual(['acme', 'tools', 'acme:owner', 'tools:member']);
  });

  test('refuses a user without a confirmed primary address', async () => {
    expect(await login('carol')).toMatchObject({ type: 'fail', status: 403 });
  });

  test('an upstream that never answers is an upstream error within the timeout', async () => {
    fake.oauth.fail('/2.0/user/workspaces', 'hang');
    const outcome = await login('alice', {}, both, 300);
    expect(outcome.type).toBe('error');
    expect((outcome as { error: Error }).error.message).toMatch(/timed out/);
  });
});

describe('refresh', () => {
  async function loggedIn(config: Partial<BitbucketConfig> = {}, lifetime = 7200): Promise<{ s: BitbucketCloudStrategy; id: Identity }> {
    fake.oauth.accessTokenLifetime = lifetime;
    try {
      fake.oauth.approveAs = 'alice';
      const s = strategy(config);
      const outcome = await driveLogin(s, both);
      if (outcome.type !== 'success') throw new Error('login failed');
      return { s, id: outcome.user as Identity };
    } finally {
      fake.oauth.accessTokenLifetime = 7200;
    }
  }

  test('renews an expired access token, then re-reads the user and workspaces', async () => {
    const { s, id } = await loggedIn({ teams: ['acme'] }, 5);
    const before = fake.oauth.counts.refreshGrants;
    expect(await s.refresh(id, both)).toMatchObject({ userId: '{alice-0000-1111}', groups: ['acme'] });
    expect(fake.oauth.counts.refreshGrants).toBe(before + 1);
  });

  test('leaving the required workspace is a RefreshFailedError', async () => {
    const { s, id } = await loggedIn({ teams: ['tools'] });
    const alice = fake.users.get('alice')!;
    const saved = alice.workspaces;
    alice.workspaces = saved.filter((w) => w.slug !== 'tools');
    try {
      await expect(s.refresh(id, both)).rejects.toBeInstanceOf(RefreshFailedError);
    } finally {
      alice.workspaces = saved;
    }
  });

  test('a revoked grant is a RefreshFailedError', async () => {
    const { s, id } = await loggedIn({}, 5);
    fake.oauth.revoke('alice');
    await expect(s.refresh(id, both)).rejects.toBeInstanceOf(RefreshFailedError);
  });

  test('Bitbucket answering 500 stays an upstream error', async () => {
    const { s, id } = await loggedIn();
    fake.oauth.fail('/2.0/user', { status: 500, body: { type: 'error', error: { message: 'Something went wrong' } } });
    const err = await s.refresh(id, both).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).not.toBeInstanceOf(RefreshFailedError);
  });
});
