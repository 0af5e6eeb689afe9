/** LDAP login against a real slapd over plain LDAP: credentials, mapping, groups, filter escaping. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { UpstreamError } from '../../../lib/errors.js';
import { LdapConnector, parseLdapConfig } from '../../../strategies/ldap/index.js';
import { DirectoryDataError, MissingAttributeError, NotUtf8AttributeError } from '../../../strategies/ldap/entry.js';
import type { Slapd } from '../../servers/slapd.js';
import { freePort } from '../../servers/slapd.js';
import {
  aliceDN,
  aliceGroups,
  allScopes,
  expectIdentity,
  ldapConfig,
  noGroups,
  passwords,
  PEOPLE,
  BASE,
  SMITH_DN,
  SMITH_UID,
  sorted,
  startSeededSlapd,
  type ConfigPatch,
} from './directory.js';

let slapd: Slapd;
beforeAll(async () => {
  slapd = await startSeededSlapd();
});
afterAll(async () => {
  await slapd?.close();
});

const connector = (patch: ConfigPatch = {}) => new LdapConnector(parseLdapConfig(ldapConfig(slapd, patch)));

describe('credentials', () => {
  test('a right password logs the user in with the mapped attributes', async () => {
    const identity = expectIdentity(await connector().login('alice', passwords.alice, noGroups));
    expect(identity).toEqual({
      userId: 'alice',
      username: 'Alice Liddell',
      preferredUsername: 'alice',
      email: 'alice@example.org',
      emailVerified: true,
      groups: [],
      connectorData: { username: 'alice', dn: aliceDN },
    });
  });

  test('a wrong password is a failed login, not an error', async () => {
    await expect(connector().login('alice', 'not-her-password', allScopes)).resolves.toBeNull();
  });

  test('an unknown user is a failed login', async () => {
    await expect(connector().login('mallory', 'whatever', allScopes)).resolves.toBeNull();
  });

  test('an empty password is refused before the directory is contacted', async () => {
    const nowhere = new LdapConnector(parseLdapConfig(ldapConfig({ host: '127.0.0.1', port: await freePort() })));
    await expect(nowhere.login('alice', '', allScopes)).resolves.toBeNull();
    await expect(nowhere.login('alice', 'x', allScopes)).rejects.toThrow(UpstreamError);
  });

  test('another user’s password does not log in as alice', async () => {
    await expect(connector().login('alice', passwords.bob, allScopes)).resolves.toBeNull();
  });

  test('an anonymous search bind works when bindDN and bindPW are both empty', async () => {
    const identity = await connector({ top: { bindDN: '', bindPW: '' } }).login('bob', passwords.bob, noGroups);
    expect(expectIdentity(identity).userId).toBe('bob');
  });

  test('a wrong service account password is an upstream error that does not show the password', async () => {
    const failure = connector({ top: { bindPW: 'wrong-reader-password' } }).login('alice', passwords.alice, allScopes);
    await expect(failure).rejects.toThrow(UpstreamError);
    await expect(failure).rejects.toThrow(
      /^LDAP bind as service account "cn=reader,dc=example,dc=org" failed at 127\.0\.0\.1:\d+: InvalidCredentialsError \(result code 49\)$/,
    );
    await failure.catch((err: Error) => expect(err.message).not.toContain('wrong-reader-password'));
  });

  test('a user base DN that does not exist is an upstream error', async () => {
    const failure = connector({ userSearch: { baseDN: `ou=nobody,${BASE}` } }).login('alice', passwords.alice, allScopes);
    await expect(failure).rejects.toThrow(UpstreamError);
    await expect(failure).rejects.toThrow(/^LDAP search under "ou=nobody,dc=example,dc=org" .* NoSuchObjectError \(result code 32\)$/);
  });
});

describe('prompt', () => {
  test('is usernamePrompt, or Dex’s "Username" when it is not set', () => {
    expect(connector().prompt).toBe('Username');
    expect(connector({ top: { usernamePrompt: 'Email or uid' } }).prompt).toBe('Email or uid');
  });
});

describe('user search', () => {
  test('several username attributes are ORed', async () => {
    const c = connector({ userSearch: { username: ['uid', 'mail'] } });
    expect(expectIdentity(await c.login('alice@example.org', passwords.alice, noGroups)).userId).toBe('alice');
    expect(expectIdentity(await c.login('alice', passwords.alice, noGroups)).userId).toBe('alice');
  });

  test('the throttle is asked about the entry between the search and the bind: one DN whatever username found it, and a no is a failed login', async () => {
    const c = connector({ userSearch: { username: ['uid', 'mail'] } });
    const asked: string[] = [];
    const admit = async (account: string) => {
      asked.push(account);
      return asked.length < 3;
    };
    expect(expectIdentity(await c.login('alice', passwords.alice, noGroups, admit)).userId).toBe('alice');
    expect(await c.login('alice@example.org', 'wrong', noGroups, admit)).toBeNull();
    // The throttle says no: the right password does not log in.
    expect(await c.login('ALICE@example.org', passwords.alice, noGroups, admit)).toBeNull();
    expect(asked).toEqual([aliceDN.toLowerCase(), aliceDN.toLowerCase(), aliceDN.toLowerCase()]);
    // No entry, no account to ask about.
    expect(await c.login('nobody', 'wrong', noGroups, admit)).toBeNull();
    expect(asked).toHaveLength(3);
  });

  test('a username matching two entries is an error, not a login', async () => {
    const c = connector({ userSearch: { username: ['uid', 'mail'] } });
    const failure = c.login('twins@example.org', 'twin-pw', allScopes);
    await expect(failure).rejects.toBeInstanceOf(DirectoryDataError);
    await expect(failure).rejects.toThrow(/returned 2 entries; it must match at most one/);
  });

  test('scope one does not find a user one level deeper; sub does', async () => {
    const one = connector({ userSearch: { scope: 'one' } });
    await expect(one.login('carl', passwords.carl, noGroups)).resolves.toBeNull();
    expect(expectIdentity(await connector({ userSearch: { scope: 'sub' } }).login('carl', passwords.carl, noGroups)).userId).toBe('carl');
  });

  test('the configured filter is ANDed with the username match', async () => {
    const c = connector({ userSearch: { filter: '(objectClass=posixAccount)' } });
    await expect(c.login('alice', passwords.alice, noGroups)).resolves.toBeNull();
  });

  test.each([
    ['*'],
    ['*)(uid=*'],
    ['admin)(|(a=*'],
    ['alice)(|(uid=*'],
    ['al*'],
    ['*)(|(objectClass=*'],
    ['alice\0'],
    ['alice)(objectClass=*'],
  ])('filter injection %j with alice’s password logs nobody in', async (username) => {
    await expect(connector({ userSearch: { username: ['uid', 'mail'] } }).login(username, passwords.alice, allScopes)).resolves.toBeNull();
  });

  test('a uid made of filter characters matches itself exactly', async () => {
    const identity = expectIdentity(await connector().login(SMITH_UID, passwords.smith, noGroups));
    expect(identity.userId).toBe(SMITH_UID);
    expect(identity.username).toBe('Smith, John (ops*)');
    expect(identity.connectorData).toEqual({ username: SMITH_UID, dn: SMITH_DN });
  });

  test('a uid that is not ASCII matches itself', async () => {
    const identity = expectIdentity(await connector().login('lučić', passwords.lucic, noGroups));
    expect(identity).toMatchObject({ userId: 'lučić', username: 'Ana Lučić' });
  });

  test('a uid with a backslash matches itself exactly', async () => {
    expect(expectIdentity(await connector().login('ba\\ck', passwords.backslash, noGroups)).email).toBe('backslash@example.org');
  });
});

describe('mapping', () => {
  test('idAttr DN makes the entry’s DN the user id', async () => {
    const identity = expectIdentity(await connector({ userSearch: { idAttr: 'DN' } }).login('alice', passwords.alice, noGroups));
    expect(identity.userId).toBe(aliceDN);
  });

  test('an entry without the email attribute is an error naming it', async () => {
    const failure = connector().login('nomail', passwords.nomail, noGroups);
    await expect(failure).rejects.toThrow(MissingAttributeError);
    await expect(failure).rejects.not.toBeInstanceOf(UpstreamError);
    await expect(failure).rejects.toThrow(`LDAP entry "uid=nomail,${PEOPLE}" is missing required attribute(s): "mail"`);
  });

  test('emailSuffix builds the email from the name, as Dex does, and does not need the mail attribute', async () => {
    const identity = expectIdentity(
      await connector({ userSearch: { nameAttr: 'uid', emailSuffix: 'users.example.net' } }).login('nomail', passwords.nomail, noGroups),
    );
    expect(identity.email).toBe('nomail@users.example.net');
    expect(identity.emailVerified).toBe(true);
  });

  test('a configured preferredUsernameAttr the entry lacks is an error naming it', async () => {
    const failure = connector({ userSearch: { preferredUsernameAttr: 'displayName' } }).login('alice', passwords.alice, noGroups);
    await expect(failure).rejects.toThrow(/missing required attribute\(s\): "displayName"/);
  });

  test('without nameAttr and preferredUsernameAttr the name is empty and there is no preferred username', async () => {
    const identity = expectIdentity(await connector({ userSearch: { nameAttr: '', preferredUsernameAttr: '' } }).login('alice', passwords.alice, noGroups));
    expect(identity.username).toBe('');
    expect(identity).not.toHaveProperty('preferredUsername');
  });
});

describe('attribute values that are not UTF-8', () => {
  // Two users whose `audio` values differ only in a byte that is not UTF-8 (as AD's objectSid/objectGUID do):
  // decoded with U+FFFD they would be one user id.
  beforeAll(async () => {
    const binaryUser = (uid: string, audio: number[]) =>
      [`dn: uid=${uid},${PEOPLE}`, 'objectClass: inetOrgPerson', `uid: ${uid}`, `cn: ${uid}`, `sn: ${uid}`, `mail: ${uid}@example.org`,
        `userPassword: ${uid}-pw`, `audio:: ${Buffer.from(audio).toString('base64')}`].join('\n');
    await slapd.add([binaryUser('binary1', [0x01, 0xff]), binaryUser('binary2', [0x01, 0xfe])].join('\n\n'));
  });

  test('a binary idAttr fails the login with an error naming the attribute, never a lossy id', async () => {
    for (const uid of ['binary1', 'binary2']) {
      const failure = connector({ userSearch: { idAttr: 'audio' } }).login(uid, `${uid}-pw`, noGroups);
      await expect(failure).rejects.toThrow(NotUtf8AttributeError);
      await expect(failure).rejects.toBeInstanceOf(DirectoryDataError);
      await expect(failure).rejects.toThrow(`LDAP entry "uid=${uid},${PEOPLE}" has a value of attribute "audio" that is not UTF-8 text`);
    }
  });

  test('a binary group matcher attribute fails the lookup instead of searching with a lossy value', async () => {
    const failure = connector({ groupSearch: { userMatchers: [{ userAttr: 'audio', groupAttr: 'memberUid' }] } }).login('binary1', 'binary1-pw', allScopes);
    await expect(failure).rejects.toThrow(NotUtf8AttributeError);
  });

  test('the same users log in with a text idAttr', async () => {
    const identity = expectIdentity(await connector({ userSearch: { idAttr: 'DN' } }).login('binary1', 'binary1-pw', noGroups));
    expect(identity.userId).toBe(`uid=binary1,${PEOPLE}`);
  });
});

describe('groups', () => {
  test('posixGroup, groupOfNames and nested groups are found, and the cycle ends', async () => {
    const identity = expectIdentity(await connector().login('alice', passwords.alice, allScopes));
    expect(sorted(identity.groups)).toEqual(sorted(aliceGroups));
    expect(new Set(identity.groups).size).toBe(identity.groups.length);
  });

  test('without recursionGroupAttr only direct groups are returned', async () => {
    const identity = expectIdentity(
      await connector({ groupSearch: { userMatchers: [{ userAttr: 'DN', groupAttr: 'member' }] } }).login('alice', passwords.alice, allScopes),
    );
    expect(sorted(identity.groups)).toEqual(['admins', 'cycle-a', 'developers']);
  });

  test('groups are not searched when the groups scope was not asked for', async () => {
    const identity = expectIdentity(await connector().login('alice', passwords.alice, noGroups));
    expect(identity.groups).toEqual([]);
  });

  test('a DN and a uid that need escaping still find their groups', async () => {
    const identity = expectIdentity(await connector().login(SMITH_UID, passwords.smith, allScopes));
    expect(sorted(identity.groups)).toEqual(['company', 'developers', 'engineering', 'specials']);
  });

  test('the deprecated userAttr/groupAttr pair still works', async () => {
    const c = connector({ groupSearch: { userMatchers: [], userAttr: 'uid', groupAttr: 'memberUid' } });
    expect(expectIdentity(await c.login('bob', passwords.bob, allScopes)).groups).toEqual(['staff']);
  });

  test('a group without the name attribute is an error naming it', async () => {
    const failure = connector({ groupSearch: { nameAttr: 'description' } }).login('bob', passwords.bob, allScopes);
    await expect(failure).rejects.toThrow(/LDAP group "cn=staff,ou=groups,dc=example,dc=org" is missing required attribute "description"/);
  });

  test('a group base DN that does not exist yields no groups, as in Dex', async () => {
    const identity = expectIdentity(await connector({ groupSearch: { baseDN: `ou=nogroups,${BASE}` } }).login('alice', passwords.alice, allScopes));
    expect(identity.groups).toEqual([]);
  });

  test('without groupSearch the identity has no groups', async () => {
    const config = ldapConfig(slapd);
    delete config.groupSearch;
    const identity = expectIdentity(await new LdapConnector(parseLdapConfig(config)).login('alice', passwords.alice, allScopes));
    expect(identity.groups).toEqual([]);
  });
});
