/**
 * Interoperability probes against a real slapd for layouts real deployments use, through the
 * broker (password form, password grant, refresh) and the connector: usernames typed in another
 * case or with spaces, attribute names in another case than the directory's, an AD-like layout
 * (the UPN-style `mail` as a second username, `DN`/`member` matchers beside others), `idAttr: DN`
 * and operational `entryUUID`, a search from the naming context past a referral (AD's
 * DomainDnsZones), a disabled-account filter with a bitwise matching rule, extensible-match group
 * attributes, multi-valued group names, group scope `one`, and refresh after the user's groups or
 * entry changed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { LdapConnector, parseLdapConfig } from '../../../strategies/ldap/index.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { discover, login, verifyIdToken } from '../../helpers/rp.js';
import type { Slapd } from '../../servers/slapd.js';
import { RefreshFailedError } from '../../../lib/errors.js';
import { aliceDN, aliceGroups, allScopes, BASE, expectIdentity, GROUPS, ldapConfig, noGroups, passwords, PEOPLE, sorted, startSeededSlapd, type ConfigPatch } from './directory.js';

let slapd: Slapd;
let broker: TestBroker;

/** Dex's Active Directory example, on OpenLDAP attributes: `mail` plays `userPrincipalName`. */
const adLike: ConfigPatch = {
  userSearch: { username: ['uid', 'mail'], idAttr: 'DN', nameAttr: 'cn', preferredUsernameAttr: 'uid', filter: '(objectClass=person)' },
  groupSearch: { userMatchers: [{ userAttr: 'DN', groupAttr: 'member' }, { userAttr: 'uid', groupAttr: 'memberUid' }], filter: '' },
};

beforeAll(async () => {
  slapd = await startSeededSlapd();
  await slapd.add(
    [
      [`dn: uid=fran,${PEOPLE}`, 'objectClass: inetOrgPerson', 'uid: fran', 'cn: Fran Moved', 'sn: Fran', 'mail: fran@example.org', 'userPassword: fran-pw'].join('\n'),
      [`dn: uid=gus,${PEOPLE}`, 'objectClass: inetOrgPerson', 'uid: gus', 'cn: Gus', 'sn: Gus', 'mail: gus@example.org', 'userPassword: gus-pw'].join('\n'),
      [`dn: cn=ops,${GROUPS}`, 'objectClass: groupOfNames', 'cn: ops', 'cn: operations', `member: uid=gus,${PEOPLE}`, `member: uid=fran,${PEOPLE}`].join('\n'),
      [`dn: ou=nested,${GROUPS}`, 'objectClass: organizationalUnit', 'ou: nested'].join('\n'),
      [`dn: cn=deep,ou=nested,${GROUPS}`, 'objectClass: groupOfNames', 'cn: deep', `member: uid=gus,${PEOPLE}`].join('\n'),
      // A subtree search from the naming context answers this entry with a continuation reference, as AD does for DomainDnsZones.
      [`dn: ou=DomainDnsZones,${BASE}`, 'objectClass: referral', 'objectClass: extensibleObject', 'ou: DomainDnsZones', 'ref: ldap://dns.example.org/DC=DomainDnsZones,DC=example,DC=org'].join('\n'),
      // uidNumber plays AD's userAccountControl: bit 2 set means disabled.
      [`dn: uid=pat,${PEOPLE}`, 'objectClass: inetOrgPerson', 'objectClass: posixAccount', 'uid: pat', 'cn: Pat', 'sn: Pat', 'mail: pat@example.org',
        'userPassword: pat-pw', 'uidNumber: 512', 'gidNumber: 100', 'homeDirectory: /home/pat'].join('\n'),
    ].join('\n\n'),
  );
  broker = await startBroker({
    connectors: [
      { type: 'ldap', id: 'ldap', name: 'Example LDAP', config: ldapConfig(slapd) },
      { type: 'ldap', id: 'ad', name: 'AD-like', config: ldapConfig(slapd, adLike) },
    ],
    oauth2: { skipApprovalScreen: true, passwordConnector: 'ldap' },
  });
}, 60_000);

afterAll(async () => {
  await broker?.close();
  await slapd?.close();
});

const connector = (patch: ConfigPatch = {}) => new LdapConnector(parseLdapConfig(ldapConfig(slapd, patch)));

async function passwordGrant(username: string, password: string) {
  return oidc.genericGrantRequest(await discover(broker.issuer), 'password', { username, password, scope: 'openid email profile groups offline_access' });
}

async function refresh(refreshToken: string) {
  return verifyIdToken(broker.issuer, (await oidc.refreshTokenGrant(await discover(broker.issuer), refreshToken)).id_token!);
}

describe('a username typed in another case or with spaces', () => {
  it('keeps the entry’s id, not the typed string, on the password grant and its refresh', async () => {
    const tokens = await passwordGrant('  ALICE ', passwords.alice);
    const claims = await verifyIdToken(broker.issuer, tokens.id_token!);
    expect(claims).toMatchObject({ sub: encodeSubject('alice', 'ldap'), preferred_username: 'alice', email: 'alice@example.org' });
    const again = await refresh(tokens.refresh_token!);
    expect(again.sub).toBe(claims.sub);
    expect(sorted(again.groups as string[])).toEqual(sorted(aliceGroups));
  });

  it('keeps the entry’s id on the password form', async () => {
    const { claims } = await login(broker.issuer, { connectorId: 'ldap', password: { username: 'Alice', password: passwords.alice } });
    expect(claims.sub).toBe(encodeSubject('alice', 'ldap'));
  });
});

describe('attribute names in another letter case than the directory’s', () => {
  it('map the same identity and groups', async () => {
    const shouting = connector({
      userSearch: { username: 'UID', idAttr: 'UID', emailAttr: 'MAIL', nameAttr: 'CN', preferredUsernameAttr: 'Uid' },
      groupSearch: { userMatchers: [{ userAttr: 'UID', groupAttr: 'MEMBERUID' }, { userAttr: 'dn', groupAttr: 'Member', recursionGroupAttr: 'MEMBER' }], nameAttr: 'CN' },
    });
    const identity = expectIdentity(await shouting.login('alice', passwords.alice, allScopes));
    expect(identity).toMatchObject({ userId: 'alice', username: 'Alice Liddell', preferredUsername: 'alice', email: 'alice@example.org' });
    expect(sorted(identity.groups)).toEqual(sorted(aliceGroups));
  });
});

describe('an AD-like layout (DN as id, a second username attribute, several matchers)', () => {
  it('logs in by the UPN-style username with the DN as sub, and refreshes', async () => {
    const { claims, tokens } = await login(broker.issuer, { connectorId: 'ad', password: { username: 'Alice@Example.org', password: passwords.alice } });
    expect(claims).toMatchObject({ sub: encodeSubject(aliceDN, 'ad'), preferred_username: 'alice', name: 'Alice Liddell' });
    expect(sorted(claims.groups as string[])).toEqual(sorted(['staff', 'admins', 'developers', 'cycle-a']));
    const again = await refresh(tokens.refresh_token!);
    expect(again.sub).toBe(claims.sub);
  });

  it('searches users and groups from the naming context past a continuation reference', async () => {
    const identity = expectIdentity(await connector({ userSearch: { baseDN: BASE }, groupSearch: { baseDN: BASE } }).login('alice', passwords.alice, allScopes));
    expect(sorted(identity.groups)).toEqual(sorted(aliceGroups));
  });

  it('a disabled-account filter with a bitwise matching rule refuses the login and fails the refresh once the bit is set', async () => {
    const enabledOnly = connector({ userSearch: { filter: '(&(objectClass=person)(!(uidNumber:1.2.840.113556.1.4.803:=2)))' } });
    const identity = expectIdentity(await enabledOnly.login('pat', 'pat-pw', noGroups));
    await slapd.modify(`dn: uid=pat,${PEOPLE}\nchangetype: modify\nreplace: uidNumber\nuidNumber: 514\n`);
    expect(await enabledOnly.login('pat', 'pat-pw', noGroups)).toBeNull();
    await expect(enabledOnly.refresh(identity, noGroups)).rejects.toThrow(new RefreshFailedError('ldap: user "pat" no longer exists'));
  });

  it('a groupAttr with an extensible matching rule (as AD’s member:1.2.840.113556.1.4.1941:) is used as written', async () => {
    const matcher = { userAttr: 'DN', groupAttr: 'member:2.5.13.1:', recursionGroupAttr: 'member:distinguishedNameMatch:' };
    const identity = expectIdentity(await connector({ groupSearch: { userMatchers: [matcher] } }).login('alice', passwords.alice, allScopes));
    expect(sorted(identity.groups)).toEqual(sorted(['admins', 'developers', 'engineering', 'company', 'cycle-a', 'cycle-b']));
  });

  it('an operational attribute (entryUUID) can be the id', async () => {
    const identity = expectIdentity(await connector({ userSearch: { idAttr: 'entryUUID' } }).login('alice', passwords.alice, noGroups));
    expect(identity.userId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
});

describe('groups', () => {
  it('a group with several names is named by its first, as Dex’s getAttr does', async () => {
    const identity = expectIdentity(await connector().login('gus', 'gus-pw', allScopes));
    expect(sorted(identity.groups)).toEqual(['deep', 'ops']);
  });

  it('groupSearch.scope one does not find a group one level deeper', async () => {
    const identity = expectIdentity(await connector({ groupSearch: { scope: 'one' } }).login('gus', 'gus-pw', allScopes));
    expect(identity.groups).toEqual(['ops']);
  });

  it('insecureNoSSL with startTLS connects in plain LDAP without StartTLS, as Dex does', async () => {
    expect(expectIdentity(await connector({ top: { startTLS: true } }).login('alice', passwords.alice, noGroups)).userId).toBe('alice');
  });

  it('a membership removed shows at the next refresh through the broker', async () => {
    const tokens = await passwordGrant('fran', 'fran-pw');
    expect((await verifyIdToken(broker.issuer, tokens.id_token!)).groups).toEqual(['ops']);
    await slapd.modify(`dn: cn=ops,${GROUPS}\nchangetype: modify\ndelete: member\nmember: uid=fran,${PEOPLE}\n`);
    expect(await refresh(tokens.refresh_token!)).not.toHaveProperty('groups');
  });
});
