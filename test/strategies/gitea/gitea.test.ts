/** The gitea strategy against a fake Gitea: mapping, verified email, org/team rules, refresh, failures. */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { RefreshFailedError, UpstreamError } from '../../../lib/errors.js';
import type { Identity } from '../../../lib/identity.js';
import { configSchema, GiteaStrategy, type GiteaConfig } from '../../../strategies/gitea/index.js';
import { CLIENT_ID, CLIENT_SECRET, GiteaFake, type FakeGiteaUser } from '../../fakes/gitea/index.js';
import { driveLogin, type LoginOutcome } from '../../fakes/platform.js';

const fake = new GiteaFake();
const both = { offlineAccess: true, groups: true };

function strategy(config: Partial<GiteaConfig> = {}, timeoutMs = 5000): GiteaStrategy {
  return new GiteaStrategy(configSchema.parse({ baseURL: fake.oauth.url, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, ...config }), { timeoutMs });
}

async function login(as: string, config: Partial<GiteaConfig> = {}, timeoutMs = 5000): Promise<LoginOutcome> {
  fake.oauth.approveAs = as;
  return driveLogin(strategy(config, timeoutMs), both);
}

async function identityOf(as: string, config: Partial<GiteaConfig> = {}): Promise<Identity> {
  const outcome = await login(as, config);
  if (outcome.type !== 'success') throw new Error(`login ended in ${outcome.type}: ${JSON.stringify(outcome)}`);
  return outcome.user as Identity;
}

const user = (name: string, over: Parameters<typeof fake.addUser>[1] = {}) => fake.addUser(name, over);

beforeAll(async () => {
  await fake.listen();
  user('alice');
  user('bob', { teams: [{ org: 'acme', name: 'interns' }] });
  user('carol', { emails: [{ email: 'carol@example.com', verified: false, primary: true }] });
  user('dave', { fullName: '', teams: Array.from({ length: 5 }, (_, i) => ({ org: 'big', name: `t${i}` })) });
});

afterAll(() => fake.close());

beforeEach(() => {
  fake.oauth.clearFaults();
  fake.maxResponseItems = 50;
});

describe('login', () => {
  test('maps the user as Dex does, sending no scope, with no groups unless configured', async () => {
    const outcome = await login('alice');
    expect(outcome.authorizeURL?.searchParams.has('scope')).toBe(false);
    expect(outcome).toMatchObject({
      type: 'success',
      user: { userId: '70', username: 'alice Example', preferredUsername: 'alice', email: 'alice@example.com', emailVerified: true, groups: [] },
    });
  });

  test('loadAllGroups gives every org and org:team', async () => {
    expect((await identityOf('alice', { loadAllGroups: true })).groups).toEqual(['acme', 'acme:Owners', 'acme:devs', 'tools', 'tools:ci']);
  });

  test('reads /api/v1/user/teams page by page', async () => {
    fake.maxResponseItems = 2;
    expect((await identityOf('dave', { loadAllGroups: true })).groups).toHaveLength(6);
  });

  test('orgs admit members and keep the org and the listed teams', async () => {
    const id = await identityOf('alice', { orgs: [{ name: 'acme', teams: ['devs'] }, { name: 'tools' }] });
    expect(id.groups).toEqual(['acme', 'acme:devs', 'tools']);
  });

  test('refuses a user in none of the orgs', async () => {
    expect(await login('bob', { orgs: [{ name: 'tools' }] })).toMatchObject({ type: 'fail', status: 403 });
  });

  test('refuses an org member in none of the listed teams, unlike Dex', async () => {
    expect(await login('bob', { orgs: [{ name: 'acme', teams: ['devs'] }] })).toMatchObject({ type: 'fail', status: 403 });
  });

  test('useLoginAsID, and the email as display name when no full name is set', async () => {
    expect(await identityOf('dave', { useLoginAsID: true })).toMatchObject({ userId: 'dave', username: 'dave@example.com' });
  });

  test('refuses a user whose address Gitea has not verified, unlike Dex', async () => {
    expect(await login('carol')).toMatchObject({ type: 'fail', status: 403 });
  });

  test('an upstream that never answers is an upstream error within the timeout', async () => {
    fake.oauth.fail('/api/v1/user', 'hang');
    const outcome = await login('alice', {}, 300);
    expect(outcome.type).toBe('error');
    expect((outcome as { error: Error }).error.message).toMatch(/timed out/);
  });
});

describe('refresh', () => {
  async function loggedIn(config: Partial<GiteaConfig> = {}, lifetime = 3600): Promise<{ s: GiteaStrategy; id: Identity }> {
    fake.oauth.approveAs = 'alice';
    fake.oauth.accessTokenLifetime = lifetime;
    const s = strategy(config);
    const outcome = await driveLogin(s, both);
    fake.oauth.accessTokenLifetime = 3600;
    if (outcome.type !== 'success') throw new Error('login failed');
    return { s, id: outcome.user as Identity };
  }

  test('re-reads the user with the stored token while it is valid', async () => {
    const { s, id } = await loggedIn({ orgs: [{ name: 'acme' }] });
    const before = fake.oauth.counts.refreshGrants;
    expect(await s.refresh(id, { offlineAccess: true, groups: false })).toMatchObject({ userId: '70', groups: ['acme'] });
    expect(fake.oauth.counts.refreshGrants).toBe(before);
  });

  test('renews an expired access token with the refresh token first', async () => {
    const { s, id } = await loggedIn({}, 5);
    const before = fake.oauth.counts.refreshGrants;
    const again = await s.refresh(id, { offlineAccess: true, groups: false });
    expect(fake.oauth.counts.refreshGrants).toBe(before + 1);
    expect((again.connectorData as { accessToken: string }).accessToken).not.toBe((id.connectorData as { accessToken: string }).accessToken);
  });

  test('a revoked grant is a RefreshFailedError', async () => {
    const { s, id } = await loggedIn();
    fake.oauth.revoke('alice');
    await expect(s.refresh(id, { offlineAccess: true, groups: false })).rejects.toBeInstanceOf(RefreshFailedError);
  });

  test('leaving the required org is a RefreshFailedError', async () => {
    const { s, id } = await loggedIn({ orgs: [{ name: 'tools' }] });
    const alice = fake.users.get('alice')!;
    const saved = alice.teams;
    alice.teams = saved.filter((t) => t.org !== 'tools');
    try {
      await expect(s.refresh(id, { offlineAccess: true, groups: false })).rejects.toBeInstanceOf(RefreshFailedError);
    } finally {
      alice.teams = saved;
    }
  });

  test('Gitea answering 500 stays an upstream error', async () => {
    const { s, id } = await loggedIn();
    fake.oauth.fail('/api/v1/user', { status: 500, body: { message: 'internal error' } });
    const err = await s.refresh(id, { offlineAccess: true, groups: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).not.toBeInstanceOf(RefreshFailedError);
  });
});
