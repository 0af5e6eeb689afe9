/** The LDAP config: Dex's keys and defaults, errors naming the dotted path, and the endpoint rules. */
import { describe, expect, test } from '@jest/globals';
import { ConfigError } from '../../../lib/errors.js';
import { endpointOf, parseLdapConfig, userMatchersOf, type LdapConfigInput } from '../../../strategies/ldap/config.js';

const minimal = { host: 'ldap.example.org', userSearch: { baseDN: 'ou=people,dc=example,dc=org', username: 'uid' } } satisfies LdapConfigInput;

/** The dotted paths and messages a bad config is refused with. */
function issuesOf(input: unknown): string[] {
  try {
    parseLdapConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  throw new Error('the config was accepted');
}

describe('defaults', () => {
  test('a minimal Dex config gets Dex’s defaults', () => {
    const config = parseLdapConfig(minimal);
    expect(config).toMatchObject({
      insecureNoSSL: false,
      insecureSkipVerify: false,
      startTLS: false,
      bindDN: '',
      bindPW: '',
      usernamePrompt: '',
      userSearch: { username: ['uid'], scope: 'sub', idAttr: 'uid', emailAttr: 'mail', nameAttr: '', preferredUsernameAttr: '', emailSuffix: '', filter: '' },
      groupSearch: { baseDN: '', scope: 'sub', userMatchers: [], nameAttr: '' },
    });
  });

  test('Dex’s empty scope means sub', () => {
    expect(parseLdapConfig({ ...minimal, userSearch: { ...minimal.userSearch, scope: '' } }).userSearch.scope).toBe('sub');
  });

  test('username may be a list of attributes', () => {
    expect(parseLdapConfig({ ...minimal, userSearch: { ...minimal.userSearch, username: ['uid', 'mail'] } }).userSearch.username).toEqual(['uid', 'mail']);
  });

  test('a disabled kerberos block from a Dex file is accepted', () => {
    expect(parseLdapConfig({ ...minimal, kerberos: { enabled: false, keytabPath: '/etc/krb5.keytab' } }).kerberos?.enabled).toBe(false);
  });
});

describe('errors name the dotted path', () => {
  test.each([
    ['an unknown key', { ...minimal, hots: 'x' }, /^: Unrecognized key: "hots"/],
    ['an unknown nested key', { ...minimal, userSearch: { ...minimal.userSearch, baseDn: 'x' } }, /^userSearch: Unrecognized key: "baseDn"/],
    ['a missing host', { userSearch: minimal.userSearch }, /^host: /],
    ['a host with a scheme', { ...minimal, host: 'ldaps://ldap.example.org' }, /^host: is not host or host:port/],
    ['a missing baseDN', { ...minimal, userSearch: { username: 'uid' } }, /^userSearch\.baseDN: /],
    ['an empty username', { ...minimal, userSearch: { ...minimal.userSearch, username: '' } }, /^userSearch\.username: missing required field/],
    ['an unknown scope', { ...minimal, userSearch: { ...minimal.userSearch, scope: 'base' } }, /^userSearch\.scope: /],
    ['bindDN without bindPW', { ...minimal, bindDN: 'cn=reader' }, /^bindPW: bindDN and bindPW are set together/],
    ['bindPW without bindDN', { ...minimal, bindPW: 'secret' }, /^bindDN: bindDN and bindPW are set together/],
    ['clientCert without clientKey', { ...minimal, clientCert: '/c.pem' }, /^clientKey: /],
    ['rootCA and rootCAData', { ...minimal, rootCA: '/ca.pem', rootCAData: 'eA==' }, /^rootCAData: set rootCA or rootCAData/],
    ['Kerberos enabled', { ...minimal, kerberos: { enabled: true, keytabPath: '/k' } }, /^kerberos\.enabled: Kerberos \(SPNEGO\) login is not supported/],
    ['emailSuffix without nameAttr', { ...minimal, userSearch: { ...minimal.userSearch, emailSuffix: 'example.org' } }, /^userSearch\.nameAttr: /],
    ['a group baseDN without nameAttr', { ...minimal, groupSearch: { baseDN: 'ou=groups' } }, /^groupSearch\.nameAttr: missing required field/],
    ['an unbalanced user filter', { ...minimal, userSearch: { ...minimal.userSearch, filter: '(objectClass=person' } }, /^userSearch\.filter: not a valid LDAP filter/],
    ['a user filter without parentheses', { ...minimal, userSearch: { ...minimal.userSearch, filter: 'objectClass=person' } }, /^userSearch\.filter: /],
    ['a broken group filter', { ...minimal, groupSearch: { baseDN: 'ou=g', nameAttr: 'cn', filter: '(|(a=b)' } }, /^groupSearch\.filter: not a valid LDAP filter/],
    ['a matcher without groupAttr', { ...minimal, groupSearch: { userMatchers: [{ userAttr: 'uid' }] } }, /^groupSearch\.userMatchers\.0\.groupAttr: /],
  ])('%s', (_name, input, expected) => {
    expect(issuesOf(input).join('\n')).toMatch(expected);
  });
});

describe('user matchers', () => {
  const groupSearch = (g: LdapConfigInput['groupSearch']) => parseLdapConfig({ ...minimal, groupSearch: g }).groupSearch;

  test('userMatchers are used as given', () => {
    expect(userMatchersOf(groupSearch({ baseDN: 'ou=g', nameAttr: 'cn', userMatchers: [{ userAttr: 'DN', groupAttr: 'member' }] }))).toEqual([
      { userAttr: 'DN', groupAttr: 'member', recursionGroupAttr: '' },
    ]);
  });

  test('the deprecated userAttr/groupAttr/recursionGroupAttr become one matcher', () => {
    expect(
      userMatchersOf(groupSearch({ baseDN: 'ou=g', nameAttr: 'cn', userAttr: 'DN', groupAttr: 'member', recursionGroupAttr: 'member' })),
    ).toEqual([{ userAttr: 'DN', groupAttr: 'member', recursionGroupAttr: 'member' }]);
  });

  test('with neither there is no matcher', () => {
    expect(userMatchersOf(groupSearch({ baseDN: 'ou=g', nameAttr: 'cn' }))).toEqual([]);
  });
});

describe('endpoint', () => {
  const endpoint = (top: Partial<LdapConfigInput>) => endpointOf(parseLdapConfig({ ...minimal, ...top }));

  test.each([
    ['LDAPS on 636 by default', {}, 'ldaps://ldap.example.org:636'],
    ['plain LDAP on 389 with insecureNoSSL', { insecureNoSSL: true }, 'ldap://ldap.example.org:389'],
    ['plain LDAP on 389 before StartTLS', { startTLS: true }, 'ldap://ldap.example.org:389'],
    ['an explicit port', { host: 'ldap.example.org:3269' }, 'ldaps://ldap.example.org:3269'],
    ['an IPv6 address with a port', { host: '[::1]:10389', insecureNoSSL: true }, 'ldap://[::1]:10389'],
    ['an IPv6 address without a port', { host: '[::1]' }, 'ldaps://[::1]:636'],
  ])('%s', (_name, top, url) => {
    expect(endpoint(top).url).toBe(url);
  });

});
