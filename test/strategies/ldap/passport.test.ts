/**
 * The LDAP connector as plain Passport: `LdapStrategy` in an Express app, and an existing
 * `passport-ldapauth` strategy whose user `fromPassportUser` maps with the same config.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import express, { type NextFunction, type Request, type Response } from 'express';
import passport from 'passport';
import LdapAuthStrategy from 'passport-ldapauth';
import request from 'supertest';
import type { Identity } from '../../../lib/identity.js';
import { fromPassportUser, LdapConnector, LdapStrategy, parseLdapConfig } from '../../../strategies/ldap/index.js';
import { freePort, type Slapd } from '../../servers/slapd.js';
import { aliceDN, aliceGroups, allScopes, expectIdentity, GROUPS, ldapConfig, passwords, PEOPLE, READER_DN, READER_PW, sorted, startSeededSlapd } from './directory.js';

let slapd: Slapd;
beforeAll(async () => {
  slapd = await startSeededSlapd();
});
afterAll(async () => {
  await slapd?.close();
});

/** An Express app whose POST /login runs `strategy` and answers with req.user as JSON. */
function appWith(strategy: passport.Strategy, mapUser: (user: unknown) => unknown = (u) => u) {
  const authenticator = new passport.Passport();
  authenticator.use('ldap', strategy);
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(authenticator.initialize());
  app.post('/login', authenticator.authenticate('ldap', { session: false, failWithError: true }), (req, res) => {
    res.json(mapUser(req.user));
  });
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ error: err.message });
  });
  return app;
}

/** POSTs the login form to an app built by `appWith`. */
function postLogin(app: express.Express, form: Record<string, string>) {
  return request(app).post('/login').type('form').send(form);
}

describe('LdapStrategy used alone', () => {
  test('a right username and password log in with groups', async () => {
    const res = await postLogin(appWith(new LdapStrategy(ldapConfig(slapd))), { username: 'alice', password: passwords.alice });
    expect(res.status).toBe(200);
    const identity = res.body as Identity;
    expect(identity).toMatchObject({ userId: 'alice', username: 'Alice Liddell', email: 'alice@example.org', emailVerified: true });
    expect(sorted(identity.groups)).toEqual(sorted(aliceGroups));
  });

  test('a wrong password is a 401 failure', async () => {
    const res = await postLogin(appWith(new LdapStrategy(ldapConfig(slapd))), { username: 'alice', password: 'nope' });
    expect(res.status).toBe(401);
  });

  test('a missing password is a 400 failure', async () => {
    const res = await postLogin(appWith(new LdapStrategy(ldapConfig(slapd))), { username: 'alice' });
    expect(res.status).toBe(400);
  });

  test('an unreachable directory is a 502 error with a clear message', async () => {
    const port = await freePort();
    const res = await postLogin(appWith(new LdapStrategy(ldapConfig({ host: '127.0.0.1', port }))), { username: 'alice', password: passwords.alice });
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: expect.stringContaining(`The LDAP server at 127.0.0.1:${port} cannot be reached`) });
  });

  test('an invalid config is refused when the strategy is built', () => {
    expect(() => new LdapStrategy({ host: '127.0.0.1', userSearch: { baseDN: PEOPLE, username: [] } })).toThrow(/userSearch\.username/);
  });
});

describe('passport-ldapauth handed to the broker', () => {
  const config = () => parseLdapConfig(ldapConfig(slapd));
  const ldapauth = (groups: boolean) =>
    new LdapAuthStrategy({
      server: {
        url: slapd.url,
        bindDN: READER_DN,
        bindCredentials: READER_PW,
        searchBase: PEOPLE,
        searchFilter: '(uid={{username}})',
        ...(groups ? { groupSearchBase: GROUPS, groupSearchFilter: '(member={{dn}})', groupSearchAttributes: ['cn'] } : {}),
      },
    });

  test('its user maps to the same identity the connector produces', async () => {
    const res = await postLogin(appWith(ldapauth(false), (user) => fromPassportUser(user, config())), { username: 'alice', password: passwords.alice });
    expect(res.status).toBe(200);
    const own = expectIdentity(await new LdapConnector(config()).login('alice', passwords.alice, { offlineAccess: true, groups: false }));
    expect(res.body).toEqual(own);
  });

  test('its _groups are named with groupSearch.nameAttr', async () => {
    const res = await postLogin(appWith(ldapauth(true), (user) => fromPassportUser(user, config())), { username: 'alice', password: passwords.alice });
    expect(sorted((res.body as Identity).groups)).toEqual(['admins', 'cycle-a', 'developers']);
  });

  test('the mapped identity can be refreshed by the connector', async () => {
    const res = await postLogin(appWith(ldapauth(false), (user) => fromPassportUser(user, config())), { username: 'alice', password: passwords.alice });
    const refreshed = await new LdapConnector(config()).refresh(res.body as Identity, allScopes);
    expect(refreshed.connectorData).toEqual({ username: 'alice', dn: aliceDN });
    expect(sorted(refreshed.groups)).toEqual(sorted(aliceGroups));
  });

  test('a user without a mapped attribute fails closed', async () => {
    const res = await postLogin(appWith(ldapauth(false), (user) => fromPassportUser(user, config())), { username: 'nomail', password: passwords.nomail });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: expect.stringContaining('missing required attribute(s): "mail"') });
  });

  test('groups it cannot name fail closed', () => {
    const alice = { dn: aliceDN, uid: 'alice', mail: 'alice@example.org', cn: 'Alice Liddell' };
    const withoutGroupSearch = parseLdapConfig({ ...ldapConfig(slapd), groupSearch: {} });
    expect(() => fromPassportUser({ ...alice, _groups: [{ dn: `cn=admins,${GROUPS}`, cn: 'admins' }] }, withoutGroupSearch)).toThrow(/groupSearch\.nameAttr must be set/);
    expect(() => fromPassportUser({ ...alice, _groups: [{ dn: `cn=admins,${GROUPS}` }] }, config())).toThrow(/missing required attribute "cn"/);
    expect(() => fromPassportUser({ ...alice, _groups: 'admins' }, config())).toThrow(TypeError);
  });

  test('something that is not an LDAP entry is refused', () => {
    expect(() => fromPassportUser({ id: 'alice' }, config())).toThrow(TypeError);
    expect(() => fromPassportUser({ dn: aliceDN, uid: 'alice', mail: 'a@x', cn: 'A', photo: { nested: true } }, config())).toThrow(TypeError);
  });
});
