/**
 * ldap through the broker, end to end, against a real slapd: the password form and the password
 * grant, tokens verified with the broker's keys, refresh, and the capability row (refresh yes,
 * groups yes, preferred_username yes).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import LdapAuthStrategy from 'passport-ldapauth';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { basicAuth, leaksNothing, postForm } from '../../helpers/http.js';
import { discover, login, startLogin, verifyIdToken } from '../../helpers/rp.js';
import type { Slapd } from '../../servers/slapd.js';
import { aliceGroups, GROUPS, ldapConfig, passwords, PEOPLE, READER_DN, READER_PW, sorted, startSeededSlapd } from './directory.js';

let slapd: Slapd;
let broker: TestBroker;

beforeAll(async () => {
  slapd = await startSeededSlapd();
  broker = await startBroker({
    connectors: [{ type: 'ldap', id: 'ldap', name: 'Example LDAP', config: ldapConfig(slapd) }],
    oauth2: { skipApprovalScreen: true, passwordConnector: 'ldap' },
  });
}, 60_000);

afterEach(async () => {
  await slapd.start().catch(() => undefined);
});

afterAll(async () => {
  await broker?.close();
  await slapd?.close();
});

async function passwordGrant(username: string, password: string, scope = 'openid email profile groups offline_access') {
  return oidc.genericGrantRequest(await discover(broker.issuer), 'password', { username, password, scope });
}

async function refresh(refreshToken: string) {
  return oidc.refreshTokenGrant(await discover(broker.issuer), refreshToken);
}

/** Adds a throwaway user, so a test can change or delete it. */
async function addUser(uid: string): Promise<void> {
  await slapd.add([`dn: uid=${uid},${PEOPLE}`, 'objectClass: inetOrgPerson', `uid: ${uid}`, `cn: ${uid}`, `sn: ${uid}`, `mail: ${uid}@example.org`, `userPassword: ${uid}-pw`].join('\n'));
}

describe('the password form', () => {
  it('logs in and mints an ID token with Dex’s sub, email, groups and preferred_username, and a refresh token', async () => {
    const { claims, tokens } = await login(broker.issuer, { password: { username: 'alice', password: passwords.alice } });
    expect(claims).toMatchObject({
      sub: encodeSubject('alice', 'ldap'),
      name: 'Alice Liddell',
      preferred_username: 'alice',
      email: 'alice@example.org',
      email_verified: true,
    });
    expect(sorted(claims.groups as string[])).toEqual(sorted(aliceGroups));
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('labels the username field with Dex’s default prompt', async () => {
    const result = await startLogin(broker.issuer);
    expect(result.page?.status).toBe(200);
    expect(result.page?.body).toContain('Username');
  });

  it('puts a wrong password back on the form with a 401', async () => {
    const result = await startLogin(broker.issuer, { password: { username: 'alice', password: 'wrong' } });
    expect(result.page?.status).toBe(401);
    expect(result.page?.body).toMatch(/Invalid username or password/i);
  });

  it('refuses a filter injection like a wrong password', async () => {
    const result = await startLogin(broker.issuer, { password: { username: '*)(uid=*', password: passwords.alice } });
    expect(result.page?.status).toBe(401);
  });

  it('shows a failed login, not an outage, for a user whose entry lacks the mapped email', async () => {
    const result = await startLogin(broker.issuer, { password: { username: 'nomail', password: passwords.nomail } });
    expect(result.page?.status).toBe(502);
    expect(result.page?.body).toContain('The login with Example LDAP failed');
    expect(leaksNothing(result.page!.body)).toBe(true);
  });

  it('gives no groups claim when the groups scope was not asked for', async () => {
    const { claims } = await login(broker.issuer, { scope: 'openid profile', password: { username: 'alice', password: passwords.alice } });
    expect(claims).not.toHaveProperty('groups');
  });

  it('says the directory cannot be reached while slapd is down, without leaking internals, and works once it is back', async () => {
    await slapd.stop();
    const result = await startLogin(broker.issuer, { password: { username: 'alice', password: passwords.alice } });
    expect(result.page?.status).toBe(502);
    expect(result.page?.body).toContain('cannot be reached');
    expect(leaksNothing(result.page!.body)).toBe(true);
    await slapd.start();
    const { claims } = await login(broker.issuer, { password: { username: 'alice', password: passwords.alice } });
    expect(claims.sub).toBe(encodeSubject('alice', 'ldap'));
  });
});

describe('the password grant', () => {
  it('issues tokens for the right password', async () => {
    const tokens = await passwordGrant('alice', passwords.alice);
    const claims = await verifyIdToken(broker.issuer, tokens.id_token!);
    expect(claims).toMatchObject({ sub: encodeSubject('alice', 'ldap'), preferred_username: 'alice' });
    expect(sorted(claims.groups as string[])).toEqual(sorted(aliceGroups));
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('answers invalid_grant for a wrong password', async () => {
    await expect(passwordGrant('alice', 'wrong')).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('answers invalid_grant for a filter injection', async () => {
    await expect(passwordGrant('*', passwords.alice)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('answers 503 temporarily_unavailable while slapd is down', async () => {
    await slapd.stop();
    const res = await postForm(`${broker.issuer}/token`, { grant_type: 'password', username: 'alice', password: passwords.alice, scope: 'openid' }, basicAuth());
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'temporarily_unavailable' });
  });
});

describe('refresh', () => {
  it('re-reads the groups from the directory', async () => {
    await addUser('gwen');
    const tokens = await passwordGrant('gwen', 'gwen-pw');
    expect(await verifyIdToken(broker.issuer, tokens.id_token!)).not.toHaveProperty('groups'); // in no group: no claim (Dex's omitempty)
    await slapd.modify(`dn: cn=admins,${GROUPS}\nchangetype: modify\nadd: member\nmember: uid=gwen,${PEOPLE}\n`);
    const claims = await verifyIdToken(broker.issuer, (await refresh(tokens.refresh_token!)).id_token!);
    expect(claims.groups).toEqual(['admins']);
  });

  it('answers invalid_grant once the user is deleted from the directory', async () => {
    await addUser('dina');
    const tokens = await passwordGrant('dina', 'dina-pw');
    await slapd.modify(`dn: uid=dina,${PEOPLE}\nchangetype: delete\n`);
    await expect(refresh(tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('answers invalid_grant once the user’s DN has changed', async () => {
    await addUser('dirk');
    const tokens = await passwordGrant('dirk', 'dirk-pw');
    await slapd.modify(`dn: uid=dirk,${PEOPLE}\nchangetype: modrdn\nnewrdn: cn=Dirk Moved\ndeleteoldrdn: 0\n`);
    await expect(refresh(tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('an account reached through two username attributes (username: [uid, mail])', () => {
  let aliasBroker: TestBroker;
  beforeAll(async () => {
    await addUser('trout');
    aliasBroker = await startBroker({
      connectors: [{ type: 'ldap', id: 'ldap', name: 'Example LDAP', config: ldapConfig(slapd, { userSearch: { username: ['uid', 'mail'] } }) }],
      oauth2: { skipApprovalScreen: true, passwordConnector: 'ldap' },
    });
  });
  afterAll(async () => {
    await aliasBroker?.close();
  });

  it('shares its 10 attempts between its usernames: respelling buys no more guesses', async () => {
    const grant = (username: string, password: string) =>
      postForm(`${aliasBroker.issuer}/token`, { grant_type: 'password', username, password, scope: 'openid' }, basicAuth());
    // Five wrong passwords through each username: neither username reaches the limit of 10 on its own.
    for (let i = 0; i < 10; i++) {
      const res = await grant(i % 2 === 0 ? 'trout' : 'trout@example.org', 'wrong');
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_grant' });
    }
    // The account has had its 10: even the right password, through either username, is not checked now.
    const locked = await grant('trout', 'trout-pw');
    expect(locked.status).toBe(429);
    expect(locked.body).toMatchObject({ error: 'temporarily_unavailable' });
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800); // the 15-minute window that began with the first failure
    const form = await startLogin(aliasBroker.issuer, { password: { username: 'trout@example.org', password: 'trout-pw' } });
    expect(form.page?.status).toBe(429);
    // Another account is not affected.
    expect((await grant('alice@example.org', passwords.alice)).status).toBe(200);
  });
});

describe('an existing passport-ldapauth strategy handed to the broker as type ldap', () => {
  let foreignBroker: TestBroker;
  beforeAll(async () => {
    const strategy = new LdapAuthStrategy({
      server: { url: slapd.url, bindDN: READER_DN, bindCredentials: READER_PW, searchBase: PEOPLE, searchFilter: '(uid={{username}})' },
    });
    foreignBroker = await startBroker(
      { connectors: [{ type: 'ldap', id: 'corp', name: 'Corporate LDAP', config: ldapConfig(slapd) }] },
      { passportStrategies: { corp: strategy } },
    );
  });
  afterAll(async () => {
    await foreignBroker?.close();
  });

  it('logs in through the broker’s own password form, and its user is mapped with the ldap config', async () => {
    const issuer = foreignBroker.issuer;
    const refused = await startLogin(issuer, { connectorId: 'corp', password: { username: 'alice', password: 'wrong' } });
    expect(refused.page?.status).toBe(401);
    const { claims, tokens } = await login(issuer, { connectorId: 'corp', password: { username: 'alice', password: passwords.alice } });
    expect(claims).toMatchObject({ sub: encodeSubject('alice', 'corp'), name: 'Alice Liddell', email: 'alice@example.org', preferred_username: 'alice' });

    // The connector refreshes what the foreign strategy logged in, with the username it kept.
    const refreshed = await oidc.refreshTokenGrant(await discover(issuer), tokens.refresh_token!);
    const again = await verifyIdToken(issuer, refreshed.id_token!);
    expect(again.sub).toBe(claims.sub);
    expect(sorted(again.groups as string[])).toEqual(sorted(aliceGroups));
  });
});
