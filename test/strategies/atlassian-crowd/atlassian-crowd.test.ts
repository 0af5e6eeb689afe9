/**
 * The atlassian-crowd connector against a fake Crowd REST API (test/fakes/atlassian-crowd) that
 * answers with Crowd's status codes and error bodies.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import express from 'express';
import passport from 'passport';
import request from 'supertest';
import { AccessDeniedError, RefreshFailedError, UpstreamError } from '../../../lib/errors.js';
import type { Identity, Scopes } from '../../../lib/identity.js';
import {
  AtlassianCrowdStrategy,
  configSchema,
  createAtlassianCrowd,
  type AtlassianCrowdConfig,
} from '../../../strategies/atlassian-crowd/index.js';
import { startFakeCrowd, type FakeCrowd } from '../../fakes/atlassian-crowd/server.js';
import { freePort } from '../../servers/postgres.js';

const withGroups: Scopes = { offlineAccess: true, groups: true };
const noGroups: Scopes = { offlineAccess: true, groups: false };

let crowd: FakeCrowd;

const config = (overrides: Partial<AtlassianCrowdConfig> = {}): AtlassianCrowdConfig => ({
  baseURL: crowd.baseURL,
  clientID: crowd.application.name,
  clientSecret: crowd.application.password,
  ...overrides,
});
const connector = (overrides: Partial<AtlassianCrowdConfig> = {}) => createAtlassianCrowd(config(overrides), { timeoutMs: 500 });

async function loggedIn(name: string, overrides: Partial<AtlassianCrowdConfig> = {}): Promise<Identity> {
  const identity = await connector(overrides).login(name, `${name}-pw`, withGroups);
  if (!identity) throw new Error(`${name} could not log in`);
  return identity;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  );
}

beforeAll(async () => {
  crowd = await startFakeCrowd();
  crowd.addUser({ name: 'alice', password: 'alice-pw', key: '32769:alice-key', email: 'alice@example.com' });
  crowd.addUser({ name: 'bob', password: 'bob-pw', key: '32769:bob-key' });
  crowd.addMembership('developers', { user: 'alice' });
  crowd.addMembership('engineering', { group: 'developers' });
  crowd.addMembership('staff', { group: 'engineering' });
  crowd.addMembership('sales', { user: 'bob' });
});

beforeEach(() => {
  crowd.fault = undefined;
  crowd.allowedUsers = undefined;
  crowd.unknownUserReason = 'INVALID_USER_AUTHENTICATION';
  crowd.requests.length = 0;
});

afterAll(async () => {
  await crowd?.close();
});

describe('login', () => {
  it('logs a user in: key as id, name, verified email, direct and nested groups', async () => {
    const identity = await connector().login('alice', 'alice-pw', withGroups);
    expect(identity).toEqual({
      userId: '32769:alice-key',
      username: 'alice',
      email: 'alice@example.com',
      emailVerified: true,
      groups: ['developers', 'engineering', 'staff'],
      connectorData: { username: 'alice' },
    });
  });

  it('calls Crowd as the application, asking for JSON', async () => {
    await connector().login('alice', 'alice-pw', withGroups);
    expect(crowd.requests.map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual([
      'POST /crowd/rest/usermanagement/1/session',
      'GET /crowd/rest/usermanagement/1/user',
      'GET /crowd/rest/usermanagement/1/user/group/nested',
    ]);
    expect(crowd.requests.every((r) => r.applicationName === 'dexpress' && r.accept === 'application/json')).toBe(true);
  });

  it('reads no groups when neither the scope nor a required group asks for them', async () => {
    const identity = await connector().login('alice', 'alice-pw', noGroups);
    expect(identity?.groups).toEqual([]);
    expect(crowd.requests.some((r) => r.url.includes('/group/'))).toBe(false);
  });

  it('gives a user without an email no email and no verified flag', async () => {
    const identity = await connector().login('bob', 'bob-pw', noGroups);
    expect(identity).toMatchObject({ username: 'bob', emailVerified: false });
    expect(identity).not.toHaveProperty('email');
  });

  it('returns null for a wrong password (INVALID_USER_AUTHENTICATION)', async () => {
    await expect(connector().login('alice', 'wrong', withGroups)).resolves.toBeNull();
  });

  it('returns null for an unknown user', async () => {
    await expect(connector().login('mallory', 'whatever', withGroups)).resolves.toBeNull();
  });

  it('returns null for an unknown user reported as USER_NOT_FOUND', async () => {
    crowd.unknownUserReason = 'USER_NOT_FOUND';
    await expect(connector().login('mallory', 'whatever', withGroups)).resolves.toBeNull();
  });

  it('refuses an empty password or username without calling Crowd', async () => {
    await expect(connector().login('alice', '', withGroups)).resolves.toBeNull();
    await expect(connector().login('', 'alice-pw', withGroups)).resolves.toBeNull();
    expect(crowd.requests).toEqual([]);
  });

  it('matches usernames as Crowd does (case-insensitively) and reports Crowd’s spelling', async () => {
    const identity = await connector().login('ALICE', 'alice-pw', noGroups);
    expect(identity).toMatchObject({ userId: '32769:alice-key', username: 'alice', connectorData: { username: 'alice' } });
  });

  it('passes usernames with reserved characters intact', async () => {
    crowd.addUser({ name: "o'brien&x=1 #2", password: "o'brien&x=1 #2-pw" });
    const identity = await connector().login("o'brien&x=1 #2", "o'brien&x=1 #2-pw", withGroups);
    expect(identity?.username).toBe("o'brien&x=1 #2");
  });

  it('reads every page of a long group list', async () => {
    crowd.addUser({ name: 'hoarder', password: 'hoarder-pw' });
    for (let i = 0; i < 1500; i++) crowd.addMembership(`g${i}`, { user: 'hoarder' });
    const identity = await connector().login('hoarder', 'hoarder-pw', withGroups);
    expect(identity?.groups).toHaveLength(1500);
    expect(crowd.requests.filter((r) => r.url.includes('/group/nested'))).toHaveLength(2);
  });
});

describe('refused users (a 403 page, not an error)', () => {
  it('refuses an inactive account', async () => {
    crowd.addUser({ name: 'carol', password: 'carol-pw', active: false });
    const err = await failure(connector().login('carol', 'carol-pw', withGroups));
    expect(err).toBeInstanceOf(AccessDeniedError);
    expect(String(err)).toMatch(/inactive/);
  });

  it('refuses an expired password', async () => {
    crowd.addUser({ name: 'dave', password: 'dave-pw', passwordExpired: true });
    await expect(connector().login('dave', 'dave-pw', withGroups)).rejects.toThrow(/expired/);
  });

  it('refuses a user Crowd does not let into the application (APPLICATION_ACCESS_DENIED)', async () => {
    crowd.allowedUsers = new Set(['bob']);
    await expect(connector().login('alice', 'alice-pw', withGroups)).rejects.toBeInstanceOf(AccessDeniedError);
  });

  it('refuses a user outside the required groups', async () => {
    const err = await failure(connector({ groups: ['staff', 'admins'] }).login('bob', 'bob-pw', withGroups));
    expect(err).toBeInstanceOf(AccessDeniedError);
    expect((err as AccessDeniedError).status).toBe(403);
  });

  it('checks the required groups even when the groups scope was not asked for (Dex does not)', async () => {
    await expect(connector({ groups: ['staff'] }).login('bob', 'bob-pw', noGroups)).rejects.toBeInstanceOf(AccessDeniedError);
  });

  it('lets in a member through a nested group, and lists only the required groups', async () => {
    const identity = await connector({ groups: ['staff', 'admins'] }).login('alice', 'alice-pw', withGroups);
    expect(identity?.groups).toEqual(['staff']);
  });
});

describe('preferred_username', () => {
  it.each([
    ['key', '32769:alice-key'],
    ['name', 'alice'],
    ['email', 'alice@example.com'],
  ] as const)('takes the %s field when preferredUsernameField says so', async (field, expected) => {
    const identity = await connector({ preferredUsernameField: field }).login('alice', 'alice-pw', noGroups);
    expect(identity?.preferredUsername).toBe(expected);
  });

  it('is absent when preferredUsernameField is not configured', async () => {
    expect(await connector().login('alice', 'alice-pw', noGroups)).not.toHaveProperty('preferredUsername');
  });

  it('is absent when the chosen field is empty', async () => {
    expect(await connector({ preferredUsernameField: 'email' }).login('bob', 'bob-pw', noGroups)).not.toHaveProperty('preferredUsername');
  });
});

describe('Crowd failing', () => {
  it('reports wrong application credentials as an upstream error naming the clientID, not the secret', async () => {
    const err = await failure(connector({ clientSecret: 'not-the-secret' }).login('alice', 'alice-pw', withGroups));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(String(err)).toContain('"dexpress"');
    expect(String(err)).not.toContain('not-the-secret');
  });

  it('reports a 500 as an upstream error', async () => {
    crowd.fault = 'server-error';
    await expect(connector().login('alice', 'alice-pw', withGroups)).rejects.toThrow(/answered 500/);
  });

  it('reports Crowd refusing the broker’s address as an upstream error', async () => {
    crowd.fault = 'address-forbidden';
    await expect(connector().login('alice', 'alice-pw', withGroups)).rejects.toThrow(/refuses requests from this address/);
  });

  it('times out instead of hanging', async () => {
    crowd.fault = 'hang';
    const started = Date.now();
    const err = await failure(connector().login('alice', 'alice-pw', withGroups));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).cause).toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reports Crowd down as an upstream error', async () => {
    const down = connector({ baseURL: `http://127.0.0.1:${await freePort()}/crowd` });
    await expect(down.login('alice', 'alice-pw', withGroups)).rejects.toThrow(/could not be reached/);
  });
});

describe('refresh', () => {
  it('re-reads the user and the groups, and prolongs the Crowd session without a password', async () => {
    crowd.addUser({ name: 'erin', password: 'erin-pw' });
    crowd.addMembership('developers', { user: 'erin' });
    const identity = await loggedIn('erin');
    crowd.addMembership('sales', { user: 'erin' });
    crowd.requests.length = 0;
    const refreshed = await connector().refresh(identity, withGroups);
    expect(refreshed).toEqual({ ...identity, groups: ['developers', 'sales', 'engineering', 'staff'] });
    expect(crowd.requests.map((r) => r.url)).toContain('/crowd/rest/usermanagement/1/session?validate-password=false');
  });

  it('fails with RefreshFailedError when the user was removed', async () => {
    crowd.addUser({ name: 'frank', password: 'frank-pw' });
    const identity = await loggedIn('frank');
    crowd.removeUser('frank');
    await expect(connector().refresh(identity, withGroups)).rejects.toBeInstanceOf(RefreshFailedError);
  });

  it('fails when the user was deactivated', async () => {
    crowd.addUser({ name: 'grace', password: 'grace-pw' });
    const identity = await loggedIn('grace');
    crowd.setActive('grace', false);
    await expect(connector().refresh(identity, withGroups)).rejects.toThrow(/inactive/);
  });

  it('fails when a new account took the name of the one that logged in', async () => {
    crowd.addUser({ name: 'heidi', password: 'heidi-pw' });
    const identity = await loggedIn('heidi');
    crowd.removeUser('heidi');
    crowd.addUser({ name: 'heidi', password: 'heidi-pw' });
    await expect(connector().refresh(identity, withGroups)).rejects.toBeInstanceOf(RefreshFailedError);
  });

  it('fails when the user left the required groups', async () => {
    crowd.addUser({ name: 'ivan', password: 'ivan-pw' });
    crowd.addMembership('developers', { user: 'ivan' });
    const identity = await loggedIn('ivan', { groups: ['developers'] });
    crowd.removeMembership('developers', { user: 'ivan' });
    await expect(connector({ groups: ['developers'] }).refresh(identity, withGroups)).rejects.toBeInstanceOf(RefreshFailedError);
  });

  it('fails when Crowd no longer lets the user into the application', async () => {
    const identity = await loggedIn('alice');
    crowd.allowedUsers = new Set(['bob']);
    await expect(connector().refresh(identity, withGroups)).rejects.toThrow(/denied/);
  });

  it('fails when the login carries no Crowd username', async () => {
    const { connectorData: _dropped, ...identity } = await loggedIn('alice');
    await expect(connector().refresh(identity, withGroups)).rejects.toBeInstanceOf(RefreshFailedError);
  });

  it('reports Crowd failing as an upstream error, not as a refused user', async () => {
    const identity = await loggedIn('alice');
    crowd.fault = 'server-error';
    await expect(connector().refresh(identity, withGroups)).rejects.toBeInstanceOf(UpstreamError);
  });
});

describe('as a plain Passport strategy', () => {
  const app = (overrides: Partial<AtlassianCrowdConfig> = {}) => {
    passport.use('crowd', new AtlassianCrowdStrategy(config(overrides), 'crowd', { timeoutMs: 500 }));
    const a = express();
    a.use(express.urlencoded({ extended: false }));
    a.post('/login', passport.authenticate('crowd', { session: false, failWithError: true }), (req, res) => {
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
    expect(res.body).toMatchObject({ userId: '32769:alice-key', groups: ['developers', 'engineering', 'staff'] });
  });

  it('answers 401 for a wrong password and 403 outside the required groups', async () => {
    const wrong = await request(app()).post('/login').type('form').send({ username: 'alice', password: 'nope' });
    expect(wrong.status).toBe(401);
    const outside = await request(app({ groups: ['staff'] })).post('/login').type('form').send({ username: 'bob', password: 'bob-pw' });
    expect(outside.status).toBe(403);
  });
});

describe('config', () => {
  it('takes Dex’s keys and rejects unknown ones', () => {
    const full = { ...config(), groups: ['staff'], preferredUsernameField: 'name', usernamePrompt: 'Crowd login' };
    expect(configSchema.safeParse(full).success).toBe(true);
    expect(configSchema.safeParse({ ...config(), group: ['staff'] }).success).toBe(false);
  });

  it('rejects a preferredUsernameField other than key, name or email', () => {
    expect(configSchema.safeParse({ ...config(), preferredUsernameField: 'displayName' }).success).toBe(false);
  });

  it('requires baseURL and the application credentials', () => {
    const { baseURL: _b, ...noBase } = config();
    expect(configSchema.safeParse(noBase).success).toBe(false);
    expect(configSchema.safeParse({ ...config(), clientSecret: '' }).success).toBe(false);
  });

  it('labels the username field with usernamePrompt, "Username" by default', () => {
    expect(connector().prompt).toBe('Username');
    expect(connector({ usernamePrompt: 'Crowd login' }).prompt).toBe('Crowd login');
  });
});
