/**
 * An existing passport-gitlab2 strategy mapped by the gitlab type's `fromPassportUser`, without
 * the broker: the real package logs in through the fake GitLab in an express-session app
 * (test/strategies/passport-handover-app.ts), and what its verify callback hands to `done()` is
 * mapped. Compared with a login through our own GitLabStrategy in the same app, as the same user.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import type { VerifyCallback } from 'passport-oauth2';
import { Strategy as PassportGitLab2, type Profile, type StrategyOptions } from 'passport-gitlab2';
import type { Identity } from '../../../lib/identity.js';
import { configSchema, createGitLabModule, GitLabStrategy, type GitLabConfig } from '../../../strategies/gitlab/index.js';
import { CLIENT_ID, CLIENT_SECRET, GitLabFake } from '../../fakes/gitlab/index.js';
import { type HandoverApp, handoverLogin, startHandoverApp } from '../passport-handover-app.js';

const fake = new GitLabFake();
const module = createGitLabModule({ timeoutMs: 5000 });
let app: HandoverApp;
/** Only members of `platform` get in; groups with roles. */
let strict: GitLabConfig;
/** No groups needed. */
let open: GitLabConfig;

/** passport-gitlab2 pointed at the fake, with state and PKCE in the session. */
function passportGitLab2(callbackURL: string, scope: string[], handTokenOver: boolean, scopeSeparator = ' '): PassportGitLab2 {
  return new PassportGitLab2(
    // passport-gitlab2 joins scopes with ',' by default; GitLab wants them space-separated.
    // passport-oauth2 keeps the state in the session with `true`; the types only know a string.
    { clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, callbackURL, baseURL: fake.oauth.url, scope, scopeSeparator, state: true as unknown as string, pkce: true } satisfies StrategyOptions,
    (accessToken: string, refreshToken: string, profile: Profile, done: VerifyCallback) =>
      done(null, handTokenOver ? { accessToken, refreshToken, profile } : profile),
  );
}

/** Which config each passport-gitlab2 strategy of the app is mapped with. */
const mappedWith: Record<string, () => GitLabConfig> = {
  token: () => strict,
  'token-comma-scopes': () => strict,
  'token-read-user-only': () => strict,
  'profile-strict': () => strict,
  profile: () => open,
};

async function loginAs(user: string, name: string, rewrite?: (params: URLSearchParams) => void) {
  fake.oauth.approveAs = user;
  return handoverLogin(app, name, rewrite);
}

/** Our own connector's Identity for `user` (groups asked for, as a plain Passport app does). */
async function builtIn(user: string): Promise<Identity> {
  const res = await loginAs(user, 'dexpress');
  expect(res.status).toBe(200);
  return res.body.identity as Identity;
}

beforeAll(async () => {
  await fake.listen();
  const person = { name: 'Alice Example', email: 'alice@example.com', confirmedAt: '2024-01-02T03:04:05Z' };
  fake.add({ ...person, id: 42, username: 'alice', groups: [
    { id: 1, fullPath: 'platform', level: 50, direct: true },
    { id: 3, fullPath: 'tools', level: 30, direct: true },
  ] });
  fake.add({ ...person, id: 43, username: 'bob', email: 'bob@example.com', groups: [{ id: 2, fullPath: 'marketing', level: 30, direct: true }] });
  fake.add({ ...person, id: 44, username: 'carol', email: 'carol@example.com', confirmedAt: null, groups: [] });
  const base = { baseURL: fake.oauth.url, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET };
  strict = configSchema.parse({ ...base, groups: ['platform', 'platform:owner'], getGroupsPermission: true });
  open = configSchema.parse(base);
  app = await startHandoverApp(
    {
      dexpress: (callbackURL) => new GitLabStrategy(strict, { name: 'dexpress', callbackURL }),
      token: (callbackURL) => passportGitLab2(callbackURL, ['read_user', 'openid'], true),
      // The package's own separator, ',': GitLab reads "read_user,openid" as one unknown scope.
      'token-comma-scopes': (callbackURL) => passportGitLab2(callbackURL, ['read_user', 'openid'], true, ','),
      // passport-gitlab2's default scope: no openid, so GitLab will not show the groups.
      'token-read-user-only': (callbackURL) => passportGitLab2(callbackURL, ['read_user'], true),
      'profile-strict': (callbackURL) => passportGitLab2(callbackURL, ['read_user'], false),
      profile: (callbackURL) => passportGitLab2(callbackURL, ['read_user'], false),
    },
    (name, user) => (name === 'dexpress' ? (user as Identity) : module.fromPassportUser(user, mappedWith[name]!())),
  );
});

afterAll(async () => {
  await app?.close();
  await fake.close();
});

beforeEach(() => {
  fake.oauth.clearFaults();
});

describe('passport-gitlab2 handing over { accessToken, refreshToken, profile }', () => {
  test("maps to the connector's own Identity for the same user: numeric id, names, confirmed email, filtered groups with roles", async () => {
    const expected = await builtIn('alice');
    expect(expected).toEqual({
      userId: '42',
      username: 'Alice Example',
      preferredUsername: 'alice',
      email: 'alice@example.com',
      emailVerified: true,
      groups: ['platform', 'platform:owner'],
    });
    const res = await loginAs('alice', 'token');
    expect(res.status).toBe(200);
    const { connectorData, ...identity } = res.body.identity as Identity;
    expect(identity).toEqual(expected);
    // Kept as the connector's refresh reads it: the GitLab tokens.
    expect(connectorData).toMatchObject({ accessToken: expect.stringMatching(/^at_/), refreshToken: expect.stringMatching(/^rt_/) });
  });

  test('a user in none of the required groups is refused as by the connector (AccessDeniedError)', async () => {
    const res = await loginAs('bob', 'token');
    expect(res.status).toBe(403);
    expect(res.body.error).toMatch(/not in any of the required groups/);
  });

  test('a token GitLab will not show the groups to (no openid scope) fails with the scopes to ask for', async () => {
    const res = await loginAs('alice', 'token-read-user-only');
    expect(res.status).toBe(500);
    expect(res.body.error).toMatch(/insufficient scope.*scope: \['read_user', 'openid'\] and scopeSeparator: ' '/);
  });

  test("scopes joined with the package's default ',' are refused by GitLab at its authorization endpoint, before any code", async () => {
    const codeGrants = fake.oauth.counts.codeGrants;
    const res = await loginAs('alice', 'token-comma-scopes');
    expect(fake.oauth.lastScope).toBe('read_user,openid');
    expect(res.status).toBe(500);
    expect(res.body.error).toBe('The requested scope is invalid, unknown, or malformed.');
    expect(fake.oauth.counts.codeGrants).toBe(codeGrants);
  });

  test("a token of another user than the profile's is refused, never mapped", async () => {
    const bobToken = String(fake.oauth.issue('bob', 'read_user openid').access_token);
    const aliceProfile = { provider: 'gitlab', id: '42', username: 'alice', _json: { id: 42, username: 'alice' } };
    await expect(module.fromPassportUser({ accessToken: bobToken, refreshToken: '', profile: aliceProfile }, open)).rejects.toThrow(
      /belongs to another user than the profile/,
    );
  });
});

describe('passport-gitlab2 handing over the bare profile', () => {
  test("a config that needs no groups: the connector's ids, names and confirmed email, no groups", async () => {
    const { groups: _, ...expected } = await builtIn('alice');
    const res = await loginAs('alice', 'profile');
    expect(res.status).toBe(200);
    expect(res.body.identity).toEqual({ ...expected, groups: [] });
  });

  test('an address GitLab never confirmed is refused as by the connector', async () => {
    const res = await loginAs('carol', 'profile');
    expect(res.status).toBe(403);
    expect(res.body.error).toMatch(/not confirmed/);
  });

  test('a config that needs groups fails with an error asking for the access token', async () => {
    const res = await loginAs('alice', 'profile-strict');
    expect(res.status).toBe(500);
    expect(res.body.error).toMatch(/needs groups; hand over the access token/);
  });

  test.each([
    ['getGroupsPermission', { getGroupsPermission: true }],
    ['inheritedGroups', { inheritedGroups: true }],
  ])('%s alone also needs the access token', async (_key, extra) => {
    const profile = { provider: 'gitlab', id: '42', username: 'alice', _json: { id: 42, username: 'alice', email: 'alice@example.com', confirmed_at: '2024-01-02T03:04:05Z' } };
    await expect(module.fromPassportUser(profile, { ...open, ...extra })).rejects.toThrow(/needs groups/);
  });
});

describe('what passport-gitlab2 is not allowed to get past', () => {
  test('a forged state fails in Passport before the code is redeemed', async () => {
    const before = fake.oauth.counts.codeGrants;
    const res = await loginAs('alice', 'token', (params) => params.set('state', 'forged'));
    expect(res.status).toBe(401);
    expect(res.body.failure).toMatch(/Invalid authorization request state/);
    expect(fake.oauth.counts.codeGrants).toBe(before);
  });

  const aliceProfile = { provider: 'gitlab', id: '42', username: 'alice', _json: { id: 42, username: 'alice', email: 'alice@example.com', confirmed_at: '2024-01-02T03:04:05Z' } };
  test.each<[string, unknown, RegExp]>([
    ['a string', 'alice', /expected \{ accessToken, refreshToken, profile \} or a profile object/],
    ['a token without the profile', { accessToken: 'at_x', refreshToken: 'rt_x' }, /without the profile/],
    ['a token that is not a string', { accessToken: 42, profile: aliceProfile }, /"accessToken" is not a string/],
    ['a refresh token without the access token', { refreshToken: 'rt_x', profile: aliceProfile }, /without the access token/],
    ['params that are not an object', { accessToken: 'at_x', params: 'x', profile: aliceProfile }, /"params" is not/],
    ['another provider\'s profile', { ...aliceProfile, provider: 'github' }, /expected a GitLab profile/],
    ['a profile without id', { ...aliceProfile, id: '' }, /has no id/],
    ['a profile without _json', { provider: 'gitlab', id: '42', username: 'alice' }, /has no _json/],
    ['a profile whose _json is another user', { ...aliceProfile, _json: { ...aliceProfile._json, id: 43 } }, /id and _json.id differ/],
  ])('%s is refused', async (_what, user, message) => {
    await expect(module.fromPassportUser(user, open)).rejects.toThrow(message);
  });
});
