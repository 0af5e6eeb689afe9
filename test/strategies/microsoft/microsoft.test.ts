/**
 * The `microsoft` connector against a fake of the Microsoft identity platform and Graph:
 * tenants, Graph `/me`, group lookups with `@odata.nextLink` paging, required groups, refresh.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { RefreshFailedError, UpstreamError } from '../../../lib/errors.js';
import type { Identity } from '../../../lib/identity.js';
import { microsoft, MicrosoftStrategy, type MicrosoftConfig } from '../../../strategies/microsoft/index.js';
import { GraphClient } from '../../../strategies/microsoft/graph.js';
import { FakeMicrosoft, type GraphGroup } from '../../fakes/microsoft/index.js';
import { CALLBACK_URL, driveLogin, type LoginOutcome } from '../../fakes/platform.js';

const TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const groups: GraphGroup[] = [
  { id: 'g-1', displayName: 'Engineering', securityEnabled: true },
  { id: 'g-2', displayName: 'All Company', securityEnabled: false },
  { id: 'g-3', displayName: 'Kubernetes Admins', securityEnabled: true },
  { id: 'g-4', displayName: 'Lunch Club', securityEnabled: false },
  { id: 'g-5', displayName: 'On Call', securityEnabled: true },
];

let fake: FakeMicrosoft;
let base: MicrosoftConfig;

beforeAll(async () => {
  fake = new FakeMicrosoft();
  const url = await fake.listen();
  base = { clientID: 'ms-client', clientSecret: 'ms-secret', apiURL: url, graphURL: url };
  fake.addUser({ id: 'u-jane', displayName: 'Jane Doe', userPrincipalName: 'Jane.Doe@Contoso.onmicrosoft.com', mailNickname: 'jane', groups });
  fake.addUser({ id: 'u-joe', displayName: 'Joe Guest', userPrincipalName: 'joe@contoso.onmicrosoft.com', groups: [groups[3]!] });
  fake.addUser({
    id: 'u-many',
    displayName: 'Many Groups',
    userPrincipalName: 'many@contoso.onmicrosoft.com',
    groups: Array.from({ length: 1001 }, (_, i) => ({ id: `m-${i}`, displayName: `Team ${i}`, securityEnabled: true })),
  });
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.approveAs = 'u-jane';
  fake.pageSize = 2;
  fake.clearFaults();
  fake.tenants.length = 0;
  fake.posted.length = 0;
});

const strategyFor = (config: Partial<MicrosoftConfig> = {}) => new MicrosoftStrategy({ ...base, ...config }, 'microsoft', CALLBACK_URL);

async function login(config: Partial<MicrosoftConfig> = {}, scopes = { offlineAccess: false, groups: false }): Promise<LoginOutcome> {
  return driveLogin(strategyFor(config), scopes);
}

function identityOf(outcome: LoginOutcome): Identity {
  if (outcome.type !== 'success') throw new Error(`expected success, got ${JSON.stringify(outcome)}`);
  return outcome.user as Identity;
}

describe('login', () => {
  test('the common tenant: the user from Graph /me, email verified, no groups', async () => {
    const outcome = await login({}, { offlineAccess: false, groups: true });
    expect(identityOf(outcome)).toEqual({
      userId: 'u-jane',
      username: 'Jane Doe',
      email: 'Jane.Doe@Contoso.onmicrosoft.com',
      emailVerified: true,
      groups: [],
    });
    expect(fake.tenants).toEqual(['common', 'common']);
    expect(outcome.authorizeURL?.searchParams.get('scope')).toBe('user.read');
    expect(fake.posted).toEqual([]);
  });

  test('an organisation tenant with the groups scope: names of all groups, across pages', async () => {
    const outcome = await login({ tenant: TENANT }, { offlineAccess: false, groups: true });
    expect(identityOf(outcome).groups).toEqual(groups.map((g) => g.displayName));
    expect(fake.tenants[0]).toBe(TENANT);
    expect(outcome.authorizeURL?.searchParams.get('scope')).toBe('user.read directory.read.all');
  });

  test('groupNameFormat id gives the group object ids', async () => {
    const outcome = await login({ tenant: TENANT, groupNameFormat: 'id' }, { offlineAccess: false, groups: true });
    expect(identityOf(outcome).groups).toEqual(groups.map((g) => g.id));
    expect(fake.posted.map((p) => p.path)).not.toContain('/v1.0/directoryObjects/getByIds');
  });

  test('onlySecurityGroups asks Graph for security groups only', async () => {
    const outcome = await login({ tenant: TENANT, onlySecurityGroups: true }, { offlineAccess: false, groups: true });
    expect(identityOf(outcome).groups).toEqual(['Engineering', 'Kubernetes Admins', 'On Call']);
    expect(fake.posted[0]?.body).toEqual({ securityEnabledOnly: true });
  });

  test('required groups are looked up even without the groups scope', async () => {
    const outcome = await login({ tenant: TENANT, groups: ['On Call'] });
    expect(identityOf(outcome).groups).toEqual(groups.map((g) => g.displayName));
  });

  test('useGroupsAsWhitelist keeps only the required groups', async () => {
    const outcome = await login({ tenant: TENANT, groups: ['On Call', 'Engineering'], useGroupsAsWhitelist: true });
    expect(identityOf(outcome).groups).toEqual(['Engineering', 'On Call']);
  });

  test('a user in none of the required groups gets a 403', async () => {
    fake.approveAs = 'u-joe';
    const outcome = await login({ tenant: TENANT, groups: ['Engineering'] });
    expect(outcome).toMatchObject({ type: 'fail', status: 403 });
  });

  test('more than 1000 groups need batchGroupLookups', async () => {
    fake.approveAs = 'u-many';
    fake.pageSize = 5000;
    const single = await login({ tenant: TENANT }, { offlineAccess: false, groups: true });
    expect(single.type).toBe('error');
    const batched = await login({ tenant: TENANT, batchGroupLookups: true }, { offlineAccess: false, groups: true });
    expect(identityOf(batched).groups).toHaveLength(1001);
  });

  test('emailToLowercase and preferredUsernameField', async () => {
    const identity = identityOf(await login({ emailToLowercase: true, preferredUsernameField: 'mailNickname' }));
    expect(identity.email).toBe('jane.doe@contoso.onmicrosoft.com');
    expect(identity.preferredUsername).toBe('jane');
  });

  test('promptType and domainHint go on the authorization request', async () => {
    const outcome = await login({ promptType: 'select_account', domainHint: 'contoso.com' });
    expect(outcome.authorizeURL?.searchParams.get('prompt')).toBe('select_account');
    expect(outcome.authorizeURL?.searchParams.get('domain_hint')).toBe('contoso.com');
  });

  test('a user who declines consent is refused, not an error', async () => {
    fake.approveAs = undefined;
    expect(await login()).toMatchObject({ type: 'fail' });
  });

  test('a Graph outage is an UpstreamError naming Graph\'s error code', async () => {
    fake.fail('/v1.0/me', { status: 503, body: { error: { code: 'serviceNotAvailable', message: 'Service unavailable' } } });
    const outcome = await login();
    expect(outcome.type).toBe('error');
    const error = (outcome as { error: unknown }).error;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(String(error)).toMatch(/serviceNotAvailable/);
  });

  test('a wrong client secret is an UpstreamError carrying the AADSTS description', async () => {
    const outcome = await login({ clientSecret: 'wrong' });
    expect(outcome.type).toBe('error');
    expect(String((outcome as { error: unknown }).error)).toMatch(/AADSTS7000215/);
  });
});

describe('refresh', () => {
  const scopes = { offlineAccess: true, groups: true };

  async function offlineLogin(config: Partial<MicrosoftConfig> = { tenant: TENANT }): Promise<Identity> {
    const outcome = await login(config, scopes);
    expect(outcome.authorizeURL?.searchParams.get('scope')).toContain('offline_access');
    return identityOf(outcome);
  }

  test('keeps the upstream tokens only for offline access', async () => {
    expect(identityOf(await login()).connectorData).toBeUndefined();
    expect((await offlineLogin()).connectorData).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
  });

  test('re-reads the user with the stored access token while it is valid', async () => {
    const identity = await offlineLogin();
    const grants = fake.counts.refreshGrants;
    fake.users.get('u-jane')!.displayName = 'Jane Smith';
    try {
      const refreshed = await strategyFor({ tenant: TENANT }).refresh(identity, scopes);
      expect(refreshed).toMatchObject({ userId: 'u-jane', username: 'Jane Smith', groups: groups.map((g) => g.displayName) });
      expect(fake.counts.refreshGrants).toBe(grants);
    } finally {
      fake.users.get('u-jane')!.displayName = 'Jane Doe';
    }
  });

  /** The same login, its stored access token past its expiry. */
  const expired = (identity: Identity): Identity => ({
    ...identity,
    connectorData: { ...(identity.connectorData as Record<string, string>), expiry: new Date(Date.now() - 60_000).toISOString() },
  });

  test('an expired access token is renewed with the refresh token, which rotates', async () => {
    const identity = expired(await offlineLogin());
    const grants = fake.counts.refreshGrants;
    const refreshed = await strategyFor({ tenant: TENANT }).refresh(identity, scopes);
    expect(fake.counts.refreshGrants).toBe(grants + 1);
    const before = identity.connectorData as { refreshToken: string };
    const after = refreshed.connectorData as { refreshToken: string };
    expect(after.refreshToken).not.toBe(before.refreshToken);
  });

  test('a revoked grant is a RefreshFailedError', async () => {
    const identity = expired(await offlineLogin());
    fake.revoke('u-jane');
    await expect(strategyFor({ tenant: TENANT }).refresh(identity, scopes)).rejects.toBeInstanceOf(RefreshFailedError);
  });

  test('a user who left the required groups can no longer refresh', async () => {
    const identity = await offlineLogin({ tenant: TENANT, groups: ['Engineering', 'Lunch Club'] });
    const jane = fake.users.get('u-jane')!;
    const kept = jane.groups;
    jane.groups = [groups[1]!];
    try {
      await expect(strategyFor({ tenant: TENANT, groups: ['Engineering', 'Lunch Club'] }).refresh(identity, scopes)).rejects.toBeInstanceOf(RefreshFailedError);
    } finally {
      jane.groups = kept;
    }
  });
});

describe('Graph paging', () => {
  /** A server answering every request with `body`, recording the Authorization headers it got. */
  async function serve(body: (self: string) => unknown): Promise<{ url: string; server: Server; seen: string[] }> {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body(url)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, server, seen };
  }

  test('an @odata.nextLink to another origin is an UpstreamError, and the token is not sent there', async () => {
    const elsewhere = await serve(() => ({ value: [] }));
    const graph = await serve(() => ({ value: ['g1'], '@odata.nextLink': `${elsewhere.url}/steal` }));
    try {
      const client = new GraphClient(graph.url, 'SECRET-ACCESS-TOKEN', fetch);
      await expect(client.memberGroupIds(false)).rejects.toThrow(UpstreamError);
      expect(elsewhere.seen).toEqual([]);
    } finally {
      elsewhere.server.close();
      graph.server.close();
    }
  });

  test('a relative or same-origin @odata.nextLink is followed', async () => {
    let calls = 0;
    const graph = await serve((self) => (++calls === 1 ? { value: ['g1'], '@odata.nextLink': `${self}/v1.0/me/getMemberGroups?$skiptoken=2` } : { value: ['g2'] }));
    try {
      expect(await new GraphClient(graph.url, 'token', fetch).memberGroupIds(false)).toEqual(['g1', 'g2']);
    } finally {
      graph.server.close();
    }
  });
});

describe('client assertion (workload identity federation)', () => {
  let dir: string;
  let assertionFile: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dexpress-ms-'));
    assertionFile = join(dir, 'azure-identity-token');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const withAssertion = (): Partial<MicrosoftConfig> => ({ clientSecret: undefined, clientAssertion: assertionFile });

  test('the assertion from the file replaces the secret at the token endpoint', async () => {
    writeFileSync(assertionFile, 'eyJhbGciOiJSUzI1NiJ9.first.sig\n');
    fake.federatedAssertion = 'eyJhbGciOiJSUzI1NiJ9.first.sig';
    expect(identityOf(await login(withAssertion())).userId).toBe('u-jane');
    expect(fake.lastClientAuth).toBe('assertion');
  });

  test('a rotated assertion file is read again for the refresh', async () => {
    writeFileSync(assertionFile, 'eyJhbGciOiJSUzI1NiJ9.first.sig');
    fake.federatedAssertion = 'eyJhbGciOiJSUzI1NiJ9.first.sig';
    const identity = identityOf(await login(withAssertion(), { offlineAccess: true, groups: false }));
    writeFileSync(assertionFile, 'eyJhbGciOiJSUzI1NiJ9.second.sig');
    fake.federatedAssertion = 'eyJhbGciOiJSUzI1NiJ9.second.sig';
    const stale = { ...identity, connectorData: { ...(identity.connectorData as Record<string, string>), expiry: new Date(Date.now() - 60_000).toISOString() } };
    const refreshed = await strategyFor(withAssertion()).refresh(stale, { offlineAccess: true, groups: false });
    expect(refreshed.userId).toBe('u-jane');
    expect(fake.lastClientAuth).toBe('assertion');
  });

  test('an assertion Entra does not accept is an upstream error naming AADSTS700211', async () => {
    writeFileSync(assertionFile, 'eyJhbGciOiJSUzI1NiJ9.stale.sig');
    fake.federatedAssertion = 'eyJhbGciOiJSUzI1NiJ9.current.sig';
    const outcome = await login(withAssertion());
    expect(outcome.type).toBe('error');
    expect(String((outcome as { error: unknown }).error)).toMatch(/AADSTS700211/);
  });
});

describe('config', () => {
  const context = { id: 'ms', name: 'Microsoft', issuer: 'http://127.0.0.1:5556/dex', callbackURL: CALLBACK_URL, logger: console };

  test('groupNameFormat other than name or id is an error', () => {
    expect(microsoft.configSchema.safeParse({ ...base, groupNameFormat: 'upn' }).success).toBe(false);
  });

  test('clientSecret or clientAssertion is required', () => {
    const { clientSecret: _s, ...noSecret } = base;
    expect(microsoft.configSchema.safeParse(noSecret).success).toBe(false);
    expect(microsoft.configSchema.safeParse({ ...noSecret, clientAssertion: '/var/run/secrets/azure/tokens/azure-identity-token' }).success).toBe(true);
  });

  test('a redirectURI other than the broker callback is refused at start-up', () => {
    expect(() => microsoft.create({ ...base, redirectURI: 'https://elsewhere.example/callback' }, context)).toThrow(/redirectURI/);
  });
});
