/**
 * The github strategy against a fake GitHub: who gets in, which email and groups they get, and
 * how refresh and upstream failures end.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { RefreshFailedError, UpstreamError } from '../../../lib/errors.js';
import type { Identity } from '../../../lib/identity.js';
import { configSchema, GitHubStrategy, type GitHubConfig } from '../../../strategies/github/index.js';
import { CLIENT_ID, CLIENT_SECRET, GitHubFake, type FakeGitHubUser } from '../../fakes/github/index.js';
import { CALLBACK_URL, authenticateOnce, driveLogin, type LoginOutcome } from '../../fakes/platform.js';

const fake = new GitHubFake();
const both = { offlineAccess: true, groups: true };

function user(login: string, over: Partial<FakeGitHubUser> = {}): FakeGitHubUser {
  return fake.add({
    id: 1000 + fake.users.size,
    login,
    name: `${login[0]!.toUpperCase()}${login.slice(1)} Example`,
    email: null,
    emails: [{ email: `${login}@example.com`, verified: true, primary: true, visibility: 'private' }],
    orgs: ['acme'],
    teams: [{ org: 'acme', name: 'Platform Team', slug: 'platform-team' }],
    ...over,
  });
}

function strategy(config: Partial<GitHubConfig> = {}, timeoutMs = 5000): GitHubStrategy {
  const parsed = configSchema.parse({ clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, ...config });
  return new GitHubStrategy(parsed, { endpoints: fake.endpoints(), timeoutMs });
}

async function login(as: string, config: Partial<GitHubConfig> = {}, scopes = both): Promise<LoginOutcome> {
  fake.oauth.approveAs = as;
  return driveLogin(strategy(config), scopes);
}

async function identityOf(as: string, config: Partial<GitHubConfig> = {}, scopes = both): Promise<Identity> {
  const outcome = await login(as, config, scopes);
  if (outcome.type !== 'success') throw new Error(`login ended in ${outcome.type}: ${JSON.stringify(outcome)}`);
  return outcome.user as Identity;
}

beforeAll(async () => {
  await fake.listen();
  user('alice', {
    teams: [
      { org: 'acme', name: 'Platform Team', slug: 'platform-team' },
      { org: 'acme', name: 'Security', slug: 'security' },
      { org: 'other', name: 'Docs', slug: 'docs' },
    ],
    orgs: ['acme', 'other'],
  });
  user('bob', { orgs: ['elsewhere'], teams: [{ org: 'elsewhere', name: 'Ops', slug: 'ops' }] });
  user('carol', { emails: [{ email: 'carol@example.com', verified: false, primary: true, visibility: 'private' }] });
  user('dave', {
    email: 'dave@public.example',
    emails: [
      { email: 'dave@example.com', verified: true, primary: true, visibility: 'private' },
      { email: 'dave@public.example', verified: false, primary: false, visibility: 'public' },
      { email: 'dave@corp.example.org', verified: true, primary: false, visibility: 'private' },
      { email: 'dave@eng.example.org', verified: false, primary: false, visibility: 'private' },
    ],
  });
  user('erin', {
    email: 'erin@public.example',
    name: null,
    emails: [
      { email: 'erin@example.com', verified: true, primary: true, visibility: 'private' },
      { email: 'erin@public.example', verified: true, primary: false, visibility: 'public' },
    ],
  });
  const many = Array.from({ length: 7 }, (_, i) => ({ org: 'acme', name: `Team ${i}`, slug: `team-${i}` }));
  user('frank', { teams: many });
});

afterAll(() => fake.close());

beforeEach(() => {
  fake.reset();
});

describe('login', () => {
  test('maps a member of a required org: numeric id, display name, login, verified primary email, org:team groups', async () => {
    const id = await identityOf('alice', { orgs: [{ name: 'acme' }] });
    expect(id).toMatchObject({
      userId: String(fake.users.get('alice')!.id),
      username: 'Alice Example',
      preferredUsername: 'alice',
      email: 'alice@example.com',
      emailVerified: true,
      groups: ['acme:Platform Team', 'acme:Security'],
    });
  });

  test('asks GitHub for user:email and read:org when orgs are configured, with PKCE', async () => {
    const outcome = await login('alice', { orgs: [{ name: 'acme' }] }, { offlineAccess: false, groups: false });
    expect(outcome.type).toBe('success');
    expect(fake.oauth.lastScope).toBe('user:email read:org');
    expect(outcome.authorizeURL?.searchParams.get('code_challenge_method')).toBe('S256');
  });

  test('asks only user:email when neither orgs nor groups are wanted, and returns no groups', async () => {
    const id = await identityOf('alice', {}, { offlineAccess: false, groups: false });
    expect(fake.oauth.lastScope).toBe('user:email');
    expect(id.groups).toEqual([]);
    expect(id.connectorData).toBeUndefined();
  });

  test('refuses a user in none of the required orgs with a 403', async () => {
    const outcome = await login('bob', { orgs: [{ name: 'acme' }] });
    expect(outcome).toMatchObject({ type: 'fail', status: 403 });
  });

  test('refuses an org member in none of the listed teams', async () => {
    const outcome = await login('alice', { orgs: [{ name: 'acme', teams: ['Release'] }] });
    expect(outcome).toMatchObject({ type: 'fail', status: 403 });
  });

  test('keeps only the listed teams of an org', async () => {
    const id = await identityOf('alice', { orgs: [{ name: 'acme', teams: ['Security'] }, { name: 'other' }] });
    expect(id.groups).toEqual(['acme:Security', 'other:Docs']);
  });

  test('reads every page of /user/teams', async () => {
    fake.maxPerPage = 2;
    const id = await identityOf('frank', { orgs: [{ name: 'acme' }] });
    expect(id.groups).toHaveLength(7);
    expect(id.groups).toContain('acme:Team 6');
  });

  test('teamNameField slug and both', async () => {
    expect((await identityOf('alice', { orgs: [{ name: 'acme', teams: ['security'] }], teamNameField: 'slug' })).groups).toEqual([
      'acme:security',
    ]);
    expect((await identityOf('alice', { orgs: [{ name: 'other' }], teamNameField: 'both' })).groups).toEqual(['other:Docs', 'other:docs']);
  });

  test('loadAllGroups gives every org and org:team when the client asks for groups', async () => {
    const id = await identityOf('alice', { loadAllGroups: true });
    expect(id.groups).toEqual(['acme', 'acme:Platform Team', 'acme:Security', 'other', 'other:Docs']);
  });

  test('legacy org gives the bare team names of that org', async () => {
    expect((await identityOf('alice', { org: 'acme' })).groups).toEqual(['Platform Team', 'Security']);
  });

  test('useLoginAsID uses the login as the user id', async () => {
    expect((await identityOf('alice', { useLoginAsID: true })).userId).toBe('alice');
  });

  test('falls back to the login when the user has no display name', async () => {
    expect((await identityOf('erin')).username).toBe('erin');
  });

  test('takes the public email only when GitHub lists it as verified', async () => {
    expect((await identityOf('erin')).email).toBe('erin@public.example');
    expect((await identityOf('dave')).email).toBe('dave@example.com');
  });

  test('preferredEmailDomain picks a verified address in that domain, never an unverified one', async () => {
    expect((await identityOf('dave', { preferredEmailDomain: '*.example.org' })).email).toBe('dave@corp.example.org');
    expect((await identityOf('dave', { preferredEmailDomain: 'eng.example.org' })).email).toBe('dave@example.com');
  });

  test('refuses a user with no verified primary email', async () => {
    const outcome = await login('carol');
    expect(outcome).toMatchObject({ type: 'fail', status: 403 });
    expect((outcome as { message: string }).message).toMatch(/no verified primary email/);
  });

  test('a user who denies the app ends in a fail, not an error', async () => {
    fake.oauth.approveAs = undefined;
    const outcome = await driveLogin(strategy(), both);
    expect(outcome.type).toBe('fail');
  });

  test('a callback with neither code nor error is refused with a 400 and leaves the pending login alone', async () => {
    fake.oauth.approveAs = 'alice';
    let saved: unknown;
    const loginState = { get: async () => saved, set: async (value: unknown) => void (saved = value) };
    const options = { broker: true, state: 'auth-request-1', scopes: both, callbackURL: CALLBACK_URL, loginState };
    const first = await authenticateOnce(strategy(), {}, options);
    expect(first.type).toBe('redirect');
    const pending = saved;
    const empty = await authenticateOnce(strategy(), { state: 'auth-request-1' }, { ...options, phase: 'callback' });
    expect(empty).toMatchObject({ type: 'fail', status: 400 });
    expect(saved).toEqual(pending);
  });

  test('a code GitHub refuses with status 200 and an error body is a 400 refusal naming it, not an outage', async () => {
    fake.oauth.approveAs = 'alice';
    const outcome = await driveLogin(strategy(), both, { rewriteCallback: (p) => p.set('code', 'not-a-code') });
    expect(outcome).toMatchObject({ type: 'fail', status: 400, message: expect.stringMatching(/bad_verification_code.*Start again/) });
  });

  test('incorrect_client_credentials (GitHub\'s invalid_client) at the code exchange is an upstream error', async () => {
    fake.oauth.approveAs = 'alice';
    const outcome = await driveLogin(strategy({ clientSecret: 'wrong' }), both);
    expect(outcome).toMatchObject({ type: 'error' });
    expect((outcome as { error: unknown }).error).toBeInstanceOf(UpstreamError);
  });

  test('an upstream 500 on /user is an upstream error', async () => {
    fake.oauth.fail('/user', { status: 500 });
    const outcome = await login('alice');
    expect(outcome.type).toBe('error');
    expect((outcome as { error: unknown }).error).toBeInstanceOf(UpstreamError);
  });

  test('an upstream that never answers is an upstream error within the timeout', async () => {
    fake.oauth.fail('/user/emails', 'hang');
    fake.oauth.approveAs = 'alice';
    const started = Date.now();
    const outcome = await driveLogin(strategy({}, 300), both);
    expect(outcome.type).toBe('error');
    expect((outcome as { error: Error }).error.message).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('refresh', () => {
  async function loggedIn(config: Partial<GitHubConfig> = {}): Promise<{ s: GitHubStrategy; id: Identity }> {
    fake.oauth.approveAs = 'alice';
    const s = strategy(config);
    const outcome = await driveLogin(s, both);
    if (outcome.type !== 'success') throw new Error('login failed');
    return { s, id: outcome.user as Identity };
  }

  test('re-reads the user and groups with the stored token', async () => {
    const { s, id } = await loggedIn({ orgs: [{ name: 'acme' }] });
    expect(id.connectorData).toMatchObject({ accessToken: expect.any(String) });
    const alice = fake.users.get('alice')!;
    alice.teams.push({ org: 'acme', name: 'New Team', slug: 'new-team' });
    try {
      const again = await s.refresh(id, both);
      expect(again.groups).toContain('acme:New Team');
      expect(again.userId).toBe(id.userId);
    } finally {
      alice.teams.pop();
    }
  });

  test('fails with RefreshFailedError once the user revoked the app', async () => {
    const { s, id } = await loggedIn();
    fake.oauth.revoke('alice');
    await expect(s.refresh(id, both)).rejects.toBeInstanceOf(RefreshFailedError);
  });

  test('fails with RefreshFailedError once the user left the required org', async () => {
    const { s, id } = await loggedIn({ orgs: [{ name: 'acme' }] });
    const alice = fake.users.get('alice')!;
    alice.orgs = ['other'];
    try {
      await expect(s.refresh(id, both)).rejects.toBeInstanceOf(RefreshFailedError);
    } finally {
      alice.orgs = ['acme', 'other'];
    }
  });

  test('an upstream 500 during refresh stays an upstream error', async () => {
    const { s, id } = await loggedIn();
    fake.oauth.fail('/user', { status: 502, body: { message: 'Server Error' } });
    const err = await s.refresh(id, both).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).not.toBeInstanceOf(RefreshFailedError);
  });

  test('a refresh with no stored token fails with RefreshFailedError', async () => {
    const { s, id } = await loggedIn();
    await expect(s.refresh({ ...id, connectorData: null }, both)).rejects.toBeInstanceOf(RefreshFailedError);
  });
});
