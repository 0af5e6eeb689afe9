/**
 * The `google` connector against a fake of Google's OpenID endpoints and Admin Directory: the
 * authorization request, ID token checks, hosted domains, groups, refresh.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import * as jose from 'jose';
import { RefreshFailedError, UpstreamError } from '../../../lib/errors.js';
import type { Identity, Scopes } from '../../../lib/identity.js';
import { directoryFor, google, GoogleStrategy, type GoogleConfig } from '../../../strategies/google/index.js';
import { FakeGoogle } from '../../fakes/google/index.js';
import { CALLBACK_URL, driveLogin, type LoginOutcome } from '../../fakes/platform.js';

let fake: FakeGoogle;
let base: GoogleConfig;
let withDirectory: GoogleConfig;
const context = { id: 'google', name: 'Google', issuer: 'http://127.0.0.1:5556/dex', callbackURL: CALLBACK_URL, logger: console };

beforeAll(async () => {
  fake = new FakeGoogle();
  const url = await fake.listen();
  base = { clientID: fake.options.clientID, clientSecret: fake.options.clientSecret, issuer: url };
  withDirectory = {
    ...base,
    serviceAccountFilePath: fake.writeServiceAccountFile(),
    domainToAdminEmail: { 'acme.example': 'admin@acme.example' },
    adminDirectoryURL: url,
  };
  fake.users.set('alice', { sub: '110169484474386276334', name: 'Alice Admin', email: 'alice@acme.example', email_verified: true, hd: 'acme.example' });
  fake.users.set('gus', { sub: '220169484474386276334', name: 'Gus Gmail', email: 'gus@gmail.com', email_verified: true });
  fake.users.set('olga', { sub: '330169484474386276334', name: 'Olga Other', email: 'olga@other.example', email_verified: true, hd: 'other.example' });
  fake.superAdmins.add('admin@acme.example');
  const group = (email: string) => ({ email, name: email.split('@')[0]! });
  fake.memberships.set('alice@acme.example', ['eng@acme.example', 'all@acme.example', 'k8s-admins@acme.example'].map(group));
  fake.memberships.set('eng@acme.example', ['tech@acme.example'].map(group));
  fake.memberships.set('tech@acme.example', ['eng@acme.example', 'staff@acme.example'].map(group));
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.approveAs = 'alice';
  fake.tamper = {};
  fake.signWith = undefined;
  fake.directoryCalls.length = 0;
});

const noScopes: Scopes = { offlineAccess: false, groups: false };

async function strategyFor(config: Partial<GoogleConfig> = {}): Promise<GoogleStrategy> {
  const full = { ...base, ...config };
  return new GoogleStrategy(full, await directoryFor(full), 'google');
}

async function login(config: Partial<GoogleConfig> = {}, scopes: Scopes = noScopes): Promise<LoginOutcome> {
  return driveLogin(await strategyFor(config), scopes);
}

function identityOf(outcome: LoginOutcome): Identity {
  if (outcome.type !== 'success') throw new Error(`expected success, got ${JSON.stringify(outcome)}`);
  return outcome.user as Identity;
}

describe('the authorization request', () => {
  test('asks openid profile email with state, nonce and PKCE S256', async () => {
    const { authorizeURL } = await login();
    expect(`${authorizeURL!.origin}${authorizeURL!.pathname}`).toBe(`${fake.url}/o/oauth2/v2/auth`);
    const p = Object.fromEntries(authorizeURL!.searchParams);
    expect(p).toMatchObject({ scope: 'openid profile email', state: 'auth-request-1', code_challenge_method: 'S256', redirect_uri: CALLBACK_URL });
    expect(p.nonce).toEqual(expect.any(String));
    expect(p.hd).toBeUndefined();
    expect(p.access_type).toBeUndefined();
  });

  test('one hosted domain is sent as hd, several as hd=*', async () => {
    expect((await login({ hostedDomains: ['acme.example'] })).authorizeURL!.searchParams.get('hd')).toBe('acme.example');
    expect((await login({ hostedDomains: ['acme.example', 'acme.test'] })).authorizeURL!.searchParams.get('hd')).toBe('*');
  });

  test('offline access asks access_type=offline and prompt (consent unless promptType)', async () => {
    const offline = { offlineAccess: true, groups: false };
    expect(Object.fromEntries((await login({}, offline)).authorizeURL!.searchParams)).toMatchObject({ access_type: 'offline', prompt: 'consent' });
    expect((await login({ promptType: 'select_account' }, offline)).authorizeURL!.searchParams.get('prompt')).toBe('select_account');
  });
});

describe('login', () => {
  test('maps the verified ID token', async () => {
    expect(identityOf(await login())).toEqual({
      userId: '110169484474386276334',
      username: 'Alice Admin',
      email: 'alice@acme.example',
      emailVerified: true,
      groups: [],
      connectorData: { refreshToken: '' },
    });
  });

  test('a user of an allowed hosted domain logs in', async () => {
    expect(identityOf(await login({ hostedDomains: ['acme.example'] })).userId).toBe('110169484474386276334');
  });

  test('a user of another hosted domain gets a 403', async () => {
    fake.approveAs = 'olga';
    expect(await login({ hostedDomains: ['acme.example'] })).toMatchObject({ type: 'fail', status: 403, message: expect.stringMatching(/other\.example/) });
  });

  test('a consumer account (no hd claim) gets a 403 when hosted domains are set', async () => {
    fake.approveAs = 'gus';
    expect(await login({ hostedDomains: ['acme.example'] })).toMatchObject({ type: 'fail', status: 403 });
  });

  test('an ID token signed by another key is refused', async () => {
    fake.signWith = (await jose.generateKeyPair('RS256')).privateKey;
    expect(await login()).toMatchObject({ type: 'fail', status: 401 });
  });

  test('an ID token for another client is refused', async () => {
    fake.tamper = { aud: 'someone-else.apps.googleusercontent.com' };
    expect(await login()).toMatchObject({ type: 'fail', status: 401 });
  });

  test('an ID token with another nonce is refused', async () => {
    fake.tamper = { nonce: 'replayed' };
    expect(await login()).toMatchObject({ type: 'fail', status: 401, message: expect.stringMatching(/nonce/) });
  });

  test('a code Google does not know is refused naming invalid_grant', async () => {
    const outcome = await driveLogin(await strategyFor(), noScopes, { rewriteCallback: (p) => p.set('code', 'forged') });
    expect(outcome.type).toBe('fail');
    expect(String((outcome as { message: string }).message)).toMatch(/invalid_grant/);
  });
});

describe('groups from the Admin Directory', () => {
  const groupsScope: Scopes = { offlineAccess: false, groups: true };

  test('are read only when the groups scope is asked', async () => {
    expect(identityOf(await login(withDirectory)).groups).toEqual([]);
    expect(fake.directoryCalls).toEqual([]);
  });

  test('all pages of direct groups', async () => {
    expect(identityOf(await login(withDirectory, groupsScope)).groups).toEqual(['eng@acme.example', 'all@acme.example', 'k8s-admins@acme.example']);
  });

  test('transitive membership lists each group once', async () => {
    const identity = identityOf(await login({ ...withDirectory, fetchTransitiveGroupMembership: true }, groupsScope));
    expect(identity.groups).toEqual(['eng@acme.example', 'tech@acme.example', 'staff@acme.example', 'all@acme.example', 'k8s-admins@acme.example']);
  });

  test('required groups filter the list, even without the groups scope', async () => {
    expect(identityOf(await login({ ...withDirectory, groups: ['k8s-admins@acme.example', 'ops@acme.example'] })).groups).toEqual([
      'k8s-admins@acme.example',
    ]);
  });

  test('a user in none of the required groups gets a 403', async () => {
    expect(await login({ ...withDirectory, groups: ['ops@acme.example'] })).toMatchObject({ type: 'fail', status: 403 });
  });

  test('an impersonated admin without rights is an UpstreamError naming Google\'s message', async () => {
    const outcome = await login({ ...withDirectory, domainToAdminEmail: { '*': 'intern@acme.example' } }, groupsScope);
    expect(outcome.type).toBe('error');
    const error = (outcome as { error: unknown }).error;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(String(error)).toMatch(/Not Authorized to access this resource/);
  });
});

describe('refresh', () => {
  const offline: Scopes = { offlineAccess: true, groups: false };

  async function offlineIdentity(config: Partial<GoogleConfig> = {}): Promise<Identity> {
    const identity = identityOf(await login(config, offline));
    expect((identity.connectorData as { refreshToken: string }).refreshToken).not.toBe('');
    return identity;
  }

  test('maps the new ID token and keeps the refresh token Google did not rotate', async () => {
    const identity = await offlineIdentity();
    const refreshed = await (await strategyFor()).refresh(identity, offline);
    expect(refreshed).toEqual(identity);
  });

  test('concurrent refreshes of one login share one upstream grant', async () => {
    const identity = await offlineIdentity();
    const strategy = await strategyFor();
    const grants = fake.counts.refreshGrants;
    const [a, b] = await Promise.all([strategy.refresh(identity, offline), strategy.refresh(identity, offline)]);
    expect(a).toEqual(b);
    expect(fake.counts.refreshGrants).toBe(grants + 1);
  });

  test('keeps the previous name when Google leaves it out', async () => {
    const identity = await offlineIdentity();
    fake.tamper = { name: '' };
    expect((await (await strategyFor()).refresh(identity, offline)).username).toBe('Alice Admin');
  });

  test('a revoked refresh token is a RefreshFailedError', async () => {
    const identity = await offlineIdentity();
    fake.revoke('alice');
    await expect((await strategyFor()).refresh(identity, offline)).rejects.toBeInstanceOf(RefreshFailedError);
  });

  test('the hosted domain is checked again on refresh', async () => {
    const identity = await offlineIdentity({ hostedDomains: ['acme.example'] });
    const alice = fake.users.get('alice')!;
    fake.users.set('alice', { ...alice, hd: 'spinoff.example' });
    try {
      await expect((await strategyFor({ hostedDomains: ['acme.example'] })).refresh(identity, offline)).rejects.toBeInstanceOf(RefreshFailedError);
    } finally {
      fake.users.set('alice', alice);
    }
  });

  test('a user who left the required groups can no longer refresh', async () => {
    const config = { ...withDirectory, groups: ['k8s-admins@acme.example'] };
    const identity = await offlineIdentity(config);
    const kept = fake.memberships.get('alice@acme.example')!;
    fake.memberships.set('alice@acme.example', kept.filter((g) => g.email !== 'k8s-admins@acme.example'));
    try {
      await expect((await strategyFor(config)).refresh(identity, offline)).rejects.toBeInstanceOf(RefreshFailedError);
    } finally {
      fake.memberships.set('alice@acme.example', kept);
    }
  });
});

describe('config', () => {
  test('required groups without the directory are an error at start-up', async () => {
    await expect(google.create({ ...base, groups: ['ops@acme.example'] }, context)).rejects.toThrow(/groups/);
  });

  test('a service account without domainToAdminEmail is an error at start-up', async () => {
    await expect(google.create({ ...base, serviceAccountFilePath: withDirectory.serviceAccountFilePath! }, context)).rejects.toThrow(/domainToAdminEmail/);
  });

  test('the deprecated adminEmail stands for every domain', async () => {
    const connector = await google.create({ ...withDirectory, domainToAdminEmail: undefined, adminEmail: 'admin@acme.example' } as GoogleConfig, context);
    const outcome = await driveLogin(connector.strategy as GoogleStrategy, { offlineAccess: false, groups: true });
    expect(identityOf(outcome).groups).toHaveLength(3);
  });

  test('unknown keys are errors', () => {
    expect(google.configSchema.safeParse({ ...base, hostedDomain: 'acme.example' }).success).toBe(false);
  });
});
