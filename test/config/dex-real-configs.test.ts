/** Dex config files as real deployments write them (Dex's examples, its Helm chart's rendered values). */
import { describe, expect, test } from '@jest/globals';
import { loadConfig } from '../../lib/config/load.js';
import { parseDuration } from '../../lib/config/duration.js';
import { parseDexYaml } from '../../lib/config/yaml.js';
import { ConfigError } from '../../lib/errors.js';
import { connectors } from '../../strategies/index.js';

const HEAD = `issuer: http://127.0.0.1:5556/dex
storage:
  type: memory
web:
  http: 127.0.0.1:5556
`;

function load(yaml: string, env: NodeJS.ProcessEnv = {}, head = HEAD) {
  return loadConfig(parseDexYaml(head + yaml), { connectors, env, requireListenAddress: true });
}

function issuesOf(yaml: string, env: NodeJS.ProcessEnv = {}, head = HEAD): string[] {
  try {
    load(yaml, env, head);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

const LDAP = (bindPW: string) => `connectors:
- type: ldap
  id: ldap
  name: LDAP
  config:
    host: ldap.example.com:636
    bindDN: cn=admin,dc=example,dc=org
    bindPW: '${bindPW}'
    userSearch:
      baseDN: ou=People,dc=example,dc=org
      username: uid
      idAttr: uid
      emailAttr: mail
      nameAttr: cn
`;
const bindPW = (yaml: string, env: NodeJS.ProcessEnv) => (load(yaml, env).settings.connectors[0]!.config as { bindPW: string }).bindPW;

describe('durations as Go time.ParseDuration reads them', () => {
  test.each([
    ['90s', 90_000],
    ['24h', 86_400_000],
    ['1h30m', 5_400_000],
    ['.5h', 1_800_000],
    ['1.h', 3_600_000],
    ['+10m', 600_000],
    ['1500us', 2],
    ['1500µs', 2],
    ['1500\u03bcs', 2],
    ['2000000ns', 2],
    ['+0', 0],
  ])('%s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each(['.h', '1', '1d', '1H', '- 1h', '1h 30m'])('%s is refused, as Go refuses it', (text) => {
    expect(() => parseDuration(text)).toThrow();
  });
});

test('a negative duration, which Go reads, is refused naming the key (Dex would expire everything at once)', () => {
  expect(parseDuration('-1h30m')).toBe(-5_400_000);
  expect(parseDuration('-0')).toBe(0);
  expect(issuesOf('expiry:\n  idTokens: -1h\n  refreshTokens:\n    validIfNotUsedFor: -5m\n')).toEqual([
    'expiry.idTokens: "-1h" is negative: a lifetime or period must be 0 or more',
    'expiry.refreshTokens.validIfNotUsedFor: "-5m" is negative: a lifetime or period must be 0 or more',
  ]);
  expect(issuesOf('expiry:\n  idTokens: 1 day\n')).toEqual(['expiry.idTokens: must be a duration such as 24h, 10m or 1h30m']);
});

describe('listen addresses', () => {
  test.each(['0.0.0.0:5556', ':5556', '[::]:5556', 'localhost:5556'])('web.http %s', (addr) => {
    expect(issuesOf('', {}, `issuer: http://127.0.0.1:5556/dex\nstorage:\n  type: memory\nweb:\n  http: "${addr}"\n`)).toEqual([]);
  });
});

describe('$VAR expansion', () => {
  test('$VAR and ${VAR}; an unset variable is empty', () => {
    expect(bindPW(LDAP('$A-${B}-$C'), { A: 'a', B: 'b' })).toBe('a-b-');
  });

  test('DEX_EXPAND_ENV=false turns expansion off, as in Dex (a $ in an LDAP password)', () => {
    expect(bindPW(LDAP('pa$$word$x'), { DEX_EXPAND_ENV: 'false', x: 'y' })).toBe('pa$$word$x');
    expect(bindPW(LDAP('pa$word'), { DEX_EXPAND_ENV: '0', word: 'ss' })).toBe('pa$word');
    expect(bindPW(LDAP('pa$word'), { DEX_EXPAND_ENV: 'true', word: 'ss' })).toBe('pass');
    expect(bindPW(LDAP('pa$word'), { DEX_EXPAND_ENV: 'nonsense', word: 'ss' })).toBe('pass');
  });

  test("shell special variables as Go's os.ExpandEnv: $1, $#, $$ are one-character names", () => {
    expect(bindPW(LDAP('a$12'), { '1': 'x' })).toBe('ax2');
    expect(bindPW(LDAP('a$#b'), {})).toBe('ab');
    expect(bindPW(LDAP('a$ b$'), {})).toBe('a$ b$');
    expect(bindPW(LDAP('pa$$word$x'), { x: 'y' })).toBe('pawordy');
    expect(bindPW(LDAP('a${}b${c'), {})).toBe('abc');
  });
});

describe('shapes of real configs', () => {
  test('issuer with a trailing slash', () => {
    const { settings } = load('', {}, `issuer: https://dex.example.com/\nstorage:\n  type: memory\nweb:\n  http: 0.0.0.0:5556\n`);
    expect(settings.issuer).toBe('https://dex.example.com/');
    expect(settings.issuerPath).toBe('');
  });

  test('a public client without redirectURIs', () => {
    const { settings } = load(`staticClients:\n- id: kubectl\n  name: kubectl\n  public: true\n`);
    expect(settings.clients[0]).toMatchObject({ id: 'kubectl', public: true, redirectURIs: [] });
  });

  test('anchors and aliases as Helm renders them', () => {
    const { settings } = load(`staticClients:
- &base
  id: a
  secret: s
  redirectURIs: &uris ['https://a.example.com/cb']
- <<: *base
  id: b
  redirectURIs: *uris
`);
    expect(settings.clients.map((c) => [c.id, c.secret, c.redirectURIs])).toEqual([
      ['a', 's', ['https://a.example.com/cb']],
      ['b', 's', ['https://a.example.com/cb']],
    ]);
  });

  test('expiry and logger as in Dex examples', () => {
    const { settings } = load(`expiry:
  deviceRequests: "5m"
  signingKeys: "6h"
  idTokens: "24h"
  refreshTokens:
    reuseInterval: "3s"
    validIfNotUsedFor: "2160h"
    absoluteLifetime: "3960h"
logger:
  level: "DEBUG"
  format: "JSON"
frontend:
  theme: tectonic
`);
    expect(settings.expiry.refreshTokens).toMatchObject({ reuseIntervalMs: 3000, validIfNotUsedForMs: 2160 * 3_600_000, absoluteLifetimeMs: 3960 * 3_600_000 });
    expect(settings.logger).toEqual({ level: 'debug', format: 'json' });
  });
});

test('a key in another letter case (Dex matches keys in any case) is refused naming the key to write', () => {
  const hint = (key: string) => `unknown key: write it "${key}" (Dex matches keys in any letter case, dexpress as written)`;
  expect(
    issuesOf(`enablePasswordDb: true
expiry:
  idtokens: 1h
staticClients:
- id: a
  secret: b
  redirectUris: ['http://127.0.0.1:8000/cb']
connectors:
- type: github
  id: gh
  name: GitHub
  config:
    clientId: a
    clientSecret: b
    redirectURI: http://127.0.0.1:5556/dex/callback
    orgs:
    - name: acme
      Teams: [dev]
- type: ldap
  id: ldap
  name: LDAP
  config:
    host: ldap.example.com:636
    userSearch:
      baseDn: ou=People,dc=example,dc=org
      username: uid
`).sort(),
  ).toEqual(
    [
      `enablePasswordDb: ${hint('enablePasswordDB')}`,
      `expiry.idtokens: ${hint('idTokens')}`,
      `staticClients[0].redirectUris: ${hint('redirectURIs')}`,
      'connectors[0].config.clientID: is required',
      `connectors[0].config.clientId: ${hint('clientID')}`,
      `connectors[0].config.orgs[0].Teams: ${hint('teams')}`,
      'connectors[1].config.userSearch.baseDN: is required',
      `connectors[1].config.userSearch.baseDn: ${hint('baseDN')}`,
    ].sort(),
  );
  expect(issuesOf('frontend:\n  Nonsense: x\n')).toEqual(['frontend.Nonsense: unknown key']);
});
