/**
 * The test directory for the LDAP connector: a seeded slapd and Dex-style configs pointing at it.
 *
 * People (ou=people): alice (in every kind of group), bob, nomail (no `mail`), the user whose DN
 * and uid need escaping (`cn=Smith\, John (ops*)`, uid `paren(s)*`), `ba\ck` (a backslash in the
 * uid), two entries sharing one mail address, `lučić` (not ASCII), and carl one level deeper (ou=contractors).
 * Groups (ou=groups): posixGroups `staff` (memberUid alice, bob) and `specials` (memberUid
 * `paren(s)*`); groupOfNames `admins` (alice), `developers` (alice, Smith) inside `engineering`
 * inside `company`; `cycle-a` (alice, cycle-b) and `cycle-b` (cycle-a), a cycle.
 */
import type { Identity } from '../../../lib/identity.js';
import type { LdapConfigInput } from '../../../strategies/ldap/index.js';
import { startSlapd, type Slapd, type SlapdOptions } from '../../servers/slapd.js';

export const BASE = 'dc=example,dc=org';
export const PEOPLE = `ou=people,${BASE}`;
export const GROUPS = `ou=groups,${BASE}`;
export const READER_DN = `cn=reader,${BASE}`;
export const READER_PW = 'reader-secret';
export const SMITH_DN = `cn=Smith\\2C John (ops*),${PEOPLE}`;
export const SMITH_UID = 'paren(s)*';

export const passwords = {
  alice: 'alice-pw',
  bob: 'bob-pw',
  nomail: 'nomail-pw',
  smith: 'smith-pw',
  backslash: 'backslash-pw',
  carl: 'carl-pw',
  lucic: 'lucic-pw',
} as const;

/** An LDIF line; values that are not plain ASCII are written base64-encoded (`attr:: ...`), as LDIF wants. */
const ldifLine = (name: string, value: string) =>
  /^[\x20-\x7e]*$/.test(value) ? `${name}: ${value}` : `${name}:: ${Buffer.from(value).toString('base64')}`;

const person = (dn: string, attrs: Record<string, string>) =>
  [ldifLine('dn', dn), 'objectClass: inetOrgPerson', ...Object.entries(attrs).map(([k, v]) => ldifLine(k, v))].join('\n');

const groupOfNames = (cn: string, members: string[]) =>
  [`dn: cn=${cn},${GROUPS}`, 'objectClass: groupOfNames', `cn: ${cn}`, ...members.map((m) => `member: ${m}`)].join('\n');

const posixGroup = (cn: string, gid: number, memberUids: string[]) =>
  [`dn: cn=${cn},${GROUPS}`, 'objectClass: posixGroup', `cn: ${cn}`, `gidNumber: ${gid}`, ...memberUids.map((m) => `memberUid: ${m}`)].join('\n');

export const aliceDN = `uid=alice,${PEOPLE}`;
const group = (cn: string) => `cn=${cn},${GROUPS}`;

export const SEED = [
  [`dn: ${READER_DN}`, 'objectClass: organizationalRole', 'objectClass: simpleSecurityObject', 'cn: reader', `userPassword: ${READER_PW}`].join('\n'),
  `dn: ${PEOPLE}\nobjectClass: organizationalUnit\nou: people`,
  `dn: ${GROUPS}\nobjectClass: organizationalUnit\nou: groups`,
  `dn: ou=contractors,${PEOPLE}\nobjectClass: organizationalUnit\nou: contractors`,
  person(aliceDN, { uid: 'alice', cn: 'Alice Liddell', sn: 'Liddell', mail: 'alice@example.org', userPassword: passwords.alice }),
  person(`uid=bob,${PEOPLE}`, { uid: 'bob', cn: 'Bob Builder', sn: 'Builder', mail: 'bob@example.org', userPassword: passwords.bob }),
  person(`uid=nomail,${PEOPLE}`, { uid: 'nomail', cn: 'No Mail', sn: 'Mail', userPassword: passwords.nomail }),
  person(SMITH_DN, { uid: SMITH_UID, cn: 'Smith, John (ops*)', sn: 'Smith', mail: 'smith@example.org', userPassword: passwords.smith }),
  person(`uid=ba\\5Cck,${PEOPLE}`, { uid: 'ba\\ck', cn: 'Back Slash', sn: 'Slash', mail: 'backslash@example.org', userPassword: passwords.backslash }),
  person(`uid=twin1,${PEOPLE}`, { uid: 'twin1', cn: 'Twin One', sn: 'One', mail: 'twins@example.org', userPassword: 'twin-pw' }),
  person(`uid=twin2,${PEOPLE}`, { uid: 'twin2', cn: 'Twin Two', sn: 'Two', mail: 'twins@example.org', userPassword: 'twin-pw' }),
  person(`uid=lučić,${PEOPLE}`, { uid: 'lučić', cn: 'Ana Lučić', sn: 'Lučić', mail: 'ana@example.org', userPassword: passwords.lucic }),
  person(`uid=carl,ou=contractors,${PEOPLE}`, { uid: 'carl', cn: 'Carl Contractor', sn: 'Contractor', mail: 'carl@example.org', userPassword: passwords.carl }),
  posixGroup('staff', 1000, ['alice', 'bob']),
  posixGroup('specials', 1001, [SMITH_UID]),
  groupOfNames('admins', [aliceDN]),
  groupOfNames('developers', [aliceDN, SMITH_DN]),
  groupOfNames('engineering', [group('developers')]),
  groupOfNames('company', [group('engineering')]),
  // slapd does not check that a member DN exists, so the cycle can be written in one go.
  groupOfNames('cycle-a', [aliceDN, group('cycle-b')]),
  groupOfNames('cycle-b', [group('cycle-a')]),
].join('\n\n');

export const aliceGroups = ['staff', 'admins', 'developers', 'cycle-a', 'engineering', 'cycle-b', 'company'];

export async function startSeededSlapd(options: SlapdOptions = {}): Promise<Slapd> {
  const slapd = await startSlapd(options);
  try {
    await slapd.add(SEED);
  } catch (err) {
    await slapd.close();
    throw err;
  }
  return slapd;
}

export interface ConfigPatch {
  top?: Partial<LdapConfigInput>;
  userSearch?: Partial<LdapConfigInput['userSearch']>;
  groupSearch?: Partial<NonNullable<LdapConfigInput['groupSearch']>>;
}

/** A Dex-style config for the seeded directory over plain LDAP, with patches applied. */
export function ldapConfig(slapd: Pick<Slapd, 'host' | 'port'>, patch: ConfigPatch = {}): LdapConfigInput {
  return {
    host: `${slapd.host}:${slapd.port}`,
    insecureNoSSL: true,
    bindDN: READER_DN,
    bindPW: READER_PW,
    ...patch.top,
    userSearch: {
      baseDN: PEOPLE,
      filter: '(objectClass=inetOrgPerson)',
      username: 'uid',
      idAttr: 'uid',
      emailAttr: 'mail',
      nameAttr: 'cn',
      preferredUsernameAttr: 'uid',
      ...patch.userSearch,
    },
    groupSearch: {
      baseDN: GROUPS,
      filter: '(|(objectClass=posixGroup)(objectClass=groupOfNames))',
      userMatchers: [
        { userAttr: 'uid', groupAttr: 'memberUid' },
        { userAttr: 'DN', groupAttr: 'member', recursionGroupAttr: 'member' },
      ],
      nameAttr: 'cn',
      ...patch.groupSearch,
    },
  };
}

export const allScopes = { offlineAccess: true, groups: true } as const;
export const noGroups = { offlineAccess: true, groups: false } as const;

/** Sorted copy, for comparing group lists whose order the directory decides. */
export const sorted = (groups: readonly string[]) => [...groups].sort();

export function expectIdentity(identity: Identity | null): Identity {
  if (identity === null) throw new Error('expected a login, got wrong credentials');
  return identity;
}
