/**
 * The keystone connector against a real Keystone (Debian's python3-keystone on a throwaway
 * PostgreSQL). The fixtures are made through Keystone's own API: a domain `acme` with users and
 * groups, a service account holding the system `reader` role, and a user of another domain with
 * the same name as one in `acme`.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import passport from 'passport';
import request from 'supertest';
import { RefreshFailedError, UpstreamError } from '../../../lib/errors.js';
import type { Identity, Scopes } from '../../../lib/identity.js';
import { configSchema, createKeystone, KeystoneStrategy, type KeystoneConfig } from '../../../strategies/keystone/index.js';
import { freePort } from '../../servers/postgres.js';
import { startKeystone, type Keystone } from '../../servers/keystone.js';

const withGroups: Scopes = { offlineAccess: true, groups: true };
const noGroups: Scopes = { offlineAccess: true, groups: false };

let keystone: Keystone;
let acmeId: string;
const ids: Record<string, string> = {};
const groupIds: Record<string, string> = {};

const config = (overrides: Partial<KeystoneConfig> = {}): KeystoneConfig => ({
  keystoneHost: keystone.url,
  domain: 'acme',
  keystoneUsername: 'dexpress-svc',
  keystonePassword: 'svc-secret',
  ...overrides,
});

/** A user created for one test, so tests that delete or change users do not touch the others. */
async function freshUser(name: string, groups: string[] = []): Promise<string> {
  const id = await keystone.createUser({ name, domainId: acmeId, password: `${name}-pw` });
  for (const g of groups) await keystone.addUserToGroup(groupIds[g]!, id);
  return id;
}

async function loggedIn(name: string, scopes: Scopes = withGroups): Promise<Identity> {
  const identity = await createKeystone(config()).login(name, `${name}-pw`, scopes);
  if (!identity) throw new Error(`${name} could not log in`);
  return identity;
}

beforeAll(async () => {
  keystone = await startKeystone();
  acmeId = await keystone.createDomain('acme');
  const otherId = await keystone.createDomain('other');
  for (const g of ['devs', 'ops', 'auditors']) groupIds[g] = await keystone.createGroup(g, acmeId);
  ids.alice = await keystone.createUser({ name: 'alice', domainId: acmeId, password: 'alice-pw', email: 'alice@acme.test' });
  ids.bob = await keystone.createUser({ name: 'bob', domainId: acmeId, password: 'bob-pw' });
  ids.otherAlice = await keystone.createUser({ name: 'alice', domainId: otherId, password: 'other-alice-pw' });
  ids.svc = await keystone.createUser({ name: 'dexpress-svc', domainId: acmeId, password: 'svc-secret' });
  ids.noRole = await keystone.createUser({ name: 'no-role-svc', domainId: acmeId, password: 'no-role-secret' });
  await keystone.grantSystemRole(ids.svc, 'reader');
  await keystone.addUserToGroup(groupIds.devs!, ids.alice);
  await keystone.addUserToGroup(groupIds.ops!, ids.alice);
}, 120_000);

afterAll(async () => {
  await keystone?.stop();
});

describe('login', () => {
  it('logs a user in with the right password: id, name, verified email and groups', async () => {
    const identity = await createKeystone(config()).login('alice', 'alice-pw', withGroups);
    expect(identity).toEqual({
      userId: ids.alice,
      username: 'alice',
      email: 'alice@acme.test',
      emailVerified: true,
      groups: expect.arrayContaining(['devs', 'ops']),
    });
    expect(identity?.groups).toHaveLength(2);
  });

  it('reads groups only when the groups scope was asked for', async () => {
    const identity = await createKeystone(config()).login('alice', 'alice-pw', noGroups);
    expect(identity?.groups).toEqual([]);
  });

  it('gives a user without an email no email and no verified flag', async () => {
    const identity = await createKeystone(config()).login('bob', 'bob-pw', withGroups);
    expect(identity).toEqual({ userId: ids.bob, username: 'bob', emailVerified: false, groups: [] });
  });

  it('returns null for a wrong password (a failed login, not an error)', async () => {
    await expect(createKeystone(config()).login('alice', 'not-her-password', withGroups)).resolves.toBeNull();
  });

  it('returns null for an unknown user', async () => {
    await expect(createKeystone(config()).login('mallory', 'whatever', withGroups)).resolves.toBeNull();
  });

  it('refuses an empty password or username without asking Keystone', async () => {
    // Nothing listens on this port: any call upstream would be an UpstreamError, not null.
    const unreachable = createKeystone(config({ keystoneHost: `http://127.0.0.1:${await freePort()}` }));
    await expect(unreachable.login('alice', '', withGroups)).resolves.toBeNull();
    await expect(unreachable.login('', 'alice-pw', withGroups)).resolves.toBeNull();
  });

  it('returns null for a username with a NUL character (Keystone itself would answer 500)', async () => {
    await expect(createKeystone(config()).login('ali\u0000ce', 'alice-pw', withGroups)).resolves.toBeNull();
  });

  it('returns null for a password with a NUL character (Keystone itself would answer 500, read as an outage)', async () => {
    for (const password of ['alice-pw\u0000', '\u0000', 'al\u0000ice-pw']) {
      await expect(createKeystone(config()).login('alice', password, withGroups)).resolves.toBeNull();
    }
  });

  it('authenticates in the configured domain only', async () => {
    await expect(createKeystone(config()).login('alice', 'other-alice-pw', withGroups)).resolves.toBeNull();
    const other = await createKeystone(config({ domain: 'other' })).login('alice', 'other-alice-pw', withGroups);
    expect(other?.userId).toBe(ids.otherAlice);
  });

  it('takes a domain id (a UUID without dashes, as Keystone makes them) as an id', async () => {
    const identity = await createKeystone(config({ domain: acmeId })).login('alice', 'alice-pw', noGroups);
    expect(identity?.userId).toBe(ids.alice);
  });

  it('treats a disabled user as a failed login', async () => {
    await keystone.updateUser(await freshUser('frank'), { enabled: false });
    await expect(createKeystone(config()).login('frank', 'frank-pw', withGroups)).resolves.toBeNull();
  });
});

describe('refresh', () => {
  it('re-reads the groups of a user who still exists', async () => {
    const id = await freshUser('grace', ['devs']);
    const identity = await loggedIn('grace');
    expect(identity.groups).toEqual(['devs']);
    await keystone.addUserToGroup(groupIds.auditors!, id);
    await keystone.removeUserFromGroup(groupIds.devs!, id);
    const refreshed = await createKeystone(config()).refresh(identity, withGroups);
    expect(refreshed).toEqual({ ...identity, groups: ['auditors'] });
  });

  it('keeps the groups as they were when the groups scope was not granted', async () => {
    const id = await freshUser('heidi', ['ops']);
    const identity = await loggedIn('heidi');
    await keystone.removeUserFromGroup(groupIds.ops!, id);
    await expect(createKeystone(config()).refresh(identity, noGroups)).resolves.toEqual(identity);
  });

  it('fails with RefreshFailedError when the user was deleted', async () => {
    const id = await freshUser('ivan');
    const identity = await loggedIn('ivan');
    await keystone.deleteUser(id);
    await expect(createKeystone(config()).refresh(identity, withGroups)).rejects.toBeInstanceOf(RefreshFailedError);
  });

  it('fails with RefreshFailedError when the user was disabled', async () => {
    const id = await freshUser('judy');
    const identity = await loggedIn('judy');
    await keystone.updateUser(id, { enabled: false });
    await expect(createKeystone(config()).refresh(identity, withGroups)).rejects.toThrow(/disabled/);
  });

  it('reports an admin account without a system role as an upstream problem, not the user’s', async () => {
    const identity = await loggedIn('alice');
    const connector = createKeystone(config({ keystoneUsername: 'no-role-svc', keystonePassword: 'no-role-secret' }));
    const err = await connector.refresh(identity, withGroups).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(String(err)).toMatch(/system/);
    expect(String(err)).not.toContain('no-role-secret');
  });
});

describe('as a plain Passport strategy', () => {
  const app = () => {
    passport.use('keystone', new KeystoneStrategy(config()));
    const a = express();
    a.use(express.urlencoded({ extended: false }));
    a.post('/login', passport.authenticate('keystone', { session: false, failWithError: true }), (req, res) => {
      res.json(req.user);
    });
    a.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(err.status ?? 500).json({ error: 'login failed' });
    });
    return a;
  };

  it('logs in from a form post', async () => {
    const res = await request(app()).post('/login').type('form').send({ username: 'alice', password: 'alice-pw' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ userId: ids.alice, username: 'alice', groups: expect.arrayContaining(['devs']) });
  });

  it('answers 401 for a wrong password', async () => {
    const res = await request(app()).post('/login').type('form').send({ username: 'alice', password: 'wrong' });
    expect(res.status).toBe(401);
  });
});

describe('config', () => {
  it('takes Dex’s keys and rejects unknown ones', () => {
    expect(configSchema.safeParse(config()).success).toBe(true);
    const unknown = configSchema.safeParse({ ...config(), keystoneDomain: 'acme' });
    expect(unknown.success).toBe(false);
  });

  it('requires keystoneHost as an http(s) URL and a domain', () => {
    expect(configSchema.safeParse({ ...config(), keystoneHost: 'keystone:5000' }).success).toBe(false);
    expect(configSchema.safeParse({ ...config(), domain: '' }).success).toBe(false);
  });
});

// Last in the file: after a SIGSTOP/SIGCONT, Keystone's next answer was seen to take about 4 s.
describe('Keystone unreachable', () => {
  it('fails a login with UpstreamError when nothing listens', async () => {
    const connector = createKeystone(config({ keystoneHost: `http://127.0.0.1:${await freePort()}` }));
    await expect(connector.login('alice', 'alice-pw', withGroups)).rejects.toThrow(/could not be reached/);
  });

  it('times out instead of hanging when Keystone stops answering', async () => {
    const connector = createKeystone(config(), { timeoutMs: 500 });
    keystone.freeze();
    try {
      const started = Date.now();
      const err = await connector.login('alice', 'alice-pw', withGroups).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamError);
      expect((err as UpstreamError).cause).toMatchObject({ name: 'TimeoutError' });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      keystone.thaw();
    }
  });
});
