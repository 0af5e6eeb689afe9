/** LDAP refresh against a real slapd: the user is re-read by the stored username, and must still be there. */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { RefreshFailedError } from '../../../lib/errors.js';
import type { Identity } from '../../../lib/identity.js';
import { LdapConnector, parseLdapConfig } from '../../../strategies/ldap/index.js';
import type { Slapd } from '../../servers/slapd.js';
import { aliceGroups, allScopes, expectIdentity, GROUPS, ldapConfig, noGroups, PEOPLE, sorted, startSeededSlapd } from './directory.js';

let slapd: Slapd;
let connector: LdapConnector;
beforeAll(async () => {
  slapd = await startSeededSlapd();
  connector = new LdapConnector(parseLdapConfig(ldapConfig(slapd)));
});
afterAll(async () => {
  await slapd?.close();
});

/** Adds a throwaway user and logs them in, so each test can change the directory freely. */
async function loginFreshUser(uid: string): Promise<Identity> {
  await slapd.add(
    [`dn: uid=${uid},${PEOPLE}`, 'objectClass: inetOrgPerson', `uid: ${uid}`, `cn: ${uid} name`, `sn: ${uid}`, `mail: ${uid}@example.org`, `userPassword: ${uid}-pw`].join('\n'),
  );
  return expectIdentity(await connector.login(uid, `${uid}-pw`, allScopes));
}

test('refresh re-reads the user and the groups', async () => {
  const identity = expectIdentity(await connector.login('alice', 'alice-pw', allScopes));
  const refreshed = await connector.refresh(identity, allScopes);
  expect({ ...refreshed, groups: sorted(refreshed.groups) }).toEqual({ ...identity, groups: sorted(aliceGroups) });
});

test('refresh reads no groups when the groups scope was not granted', async () => {
  const identity = expectIdentity(await connector.login('alice', 'alice-pw', allScopes));
  expect((await connector.refresh(identity, noGroups)).groups).toEqual([]);
});

test('a new group membership shows at the next refresh', async () => {
  const identity = await loginFreshUser('gina');
  expect(identity.groups).toEqual([]);
  await slapd.modify(`dn: cn=admins,${GROUPS}\nchangetype: modify\nadd: member\nmember: uid=gina,${PEOPLE}\n`);
  expect((await connector.refresh(identity, allScopes)).groups).toEqual(['admins']);
});

test('a changed attribute shows at the next refresh', async () => {
  const identity = await loginFreshUser('hank');
  await slapd.modify(`dn: uid=hank,${PEOPLE}\nchangetype: modify\nreplace: mail\nmail: hank@new.example.org\n`);
  expect((await connector.refresh(identity, noGroups)).email).toBe('hank@new.example.org');
});

test('a user removed between login and refresh makes the refresh fail', async () => {
  const identity = await loginFreshUser('dora');
  await slapd.modify(`dn: uid=dora,${PEOPLE}\nchangetype: delete\n`);
  await expect(connector.refresh(identity, allScopes)).rejects.toThrow(new RefreshFailedError('ldap: user "dora" no longer exists'));
});

test('a user whose DN changed makes the refresh fail', async () => {
  const identity = await loginFreshUser('dave');
  await slapd.modify(`dn: uid=dave,${PEOPLE}\nchangetype: modrdn\nnewrdn: cn=Dave Moved\ndeleteoldrdn: 0\n`);
  const failure = connector.refresh(identity, allScopes);
  await expect(failure).rejects.toThrow(RefreshFailedError);
  await expect(failure).rejects.toThrow(`was "uid=dave,${PEOPLE}" at login and is now "cn=Dave Moved,${PEOPLE}"`);
});

test('a user who lost a mapped attribute makes the refresh fail, naming it', async () => {
  const identity = await loginFreshUser('ella');
  await slapd.modify(`dn: uid=ella,${PEOPLE}\nchangetype: modify\ndelete: mail\n`);
  const failure = connector.refresh(identity, noGroups);
  await expect(failure).rejects.toBeInstanceOf(RefreshFailedError);
  await expect(failure).rejects.toThrow(/missing required attribute\(s\): "mail"/);
});

test('a login without the stored username and DN cannot be refreshed', async () => {
  const identity = expectIdentity(await connector.login('alice', 'alice-pw', noGroups));
  await expect(connector.refresh({ ...identity, connectorData: { dn: 'uid=alice' } }, noGroups)).rejects.toBeInstanceOf(RefreshFailedError);
  const { connectorData: _dropped, ...withoutData } = identity;
  await expect(connector.refresh(withoutData, noGroups)).rejects.toBeInstanceOf(RefreshFailedError);
});
