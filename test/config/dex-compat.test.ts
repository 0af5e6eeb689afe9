/** Dex's own config files load as Dex reads them: YAML 1.1, `null` as "not set", Dex's values. */
import { describe, expect, test } from '@jest/globals';
import { redirectUriAllowed } from '../../lib/clients.js';
import { loadConfig } from '../../lib/config/load.js';
import { withoutNulls } from '../../lib/config/yaml.js';
import { parseDexYaml } from '../../lib/config/yaml.js';
import { ConfigError } from '../../lib/errors.js';
import { connectors } from '../../strategies/index.js';

const HEAD = `issuer: http://127.0.0.1:5556/dex
storage:
  type: memory
web:
  http: 127.0.0.1:5556
`;

function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  return loadConfig(parseDexYaml(HEAD + yaml), { connectors, env });
}

function issuesOf(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    load(yaml, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

describe('YAML null is "not set", as in Dex (encoding/json)', () => {
  test('an empty list and a block whose sub-keys are all commented out', () => {
    const { settings } = load(`connectors:
staticClients:
enablePasswordDB: true
`);
    expect(settings.connectors).toEqual([]);
    expect(settings.clients).toEqual([]);
    const oidc = load(`connectors:
- type: oidc
  id: up
  name: Up
  config:
    issuer: https://op.example
    clientID: c
    clientSecret: s
    claimMapping:
      # email: mail
    providerDiscoveryOverrides:
`);
    expect(oidc.settings.connectors.map((c) => c.id)).toEqual(['up']);
  });

  test('null keys are dropped at any depth, list entries are kept', () => {
    expect(withoutNulls({ a: null, b: { c: null, d: 1 }, e: [{ f: null, g: 2 }, 3] })).toEqual({ b: { d: 1 }, e: [{ g: 2 }, 3] });
  });

  test('a required key left null is "required", not "expected object, received null"', () => {
    expect(issuesOf('connectors:\n- type: oidc\n  id: up\n  name:\n')).toEqual(['connectors[0].name: is required']);
  });
});

describe('YAML 1.1, as yaml.v2', () => {
  test('yes / on / no / off (and y / n) are booleans', () => {
    expect(parseDexYaml('a: yes\nb: on\nc: no\nd: off\ne: On\nf: y\ng: true')).toEqual({ a: true, b: true, c: false, d: false, e: true, f: true, g: true });
    const { settings } = load('enablePasswordDB: yes\noauth2:\n  skipApprovalScreen: on\n  alwaysShowLoginScreen: off\n');
    expect(settings.passwordDB.enabled).toBe(true);
    expect(settings.oauth2.skipApprovalScreen).toBe(true);
    expect(settings.oauth2.alwaysShowLoginScreen).toBe(false);
  });

  test('quoted values stay strings; unquoted 0123 and on are not strings, so a secret must be quoted (Dex refuses them too)', () => {
    const client = (secret: string) => `staticClients:\n- id: app\n  secret: ${secret}\n  redirectURIs: ['http://127.0.0.1:5555/callback']\n`;
    expect(load(client("'0123'")).settings.clients[0]!.secret).toBe('0123');
    expect(load(client('"on"')).settings.clients[0]!.secret).toBe('on');
    expect(parseDexYaml('s: 0123')).toEqual({ s: 83 });
    expect(issuesOf(client('0123'))).toEqual([expect.stringMatching(/^staticClients\[0\]\.secret: .*expected string, received number/)]);
    expect(issuesOf(client('on'))).toEqual([expect.stringMatching(/^staticClients\[0\]\.secret: .*expected string, received boolean/)]);
  });

  test('$VAR, bcrypt hashes, dates, times and addresses stay strings', () => {
    expect(parseDexYaml('a: $VAR\nb: $2a$10$abc\nc: 2024-01-01\nd: 2001-12-14t21:59:43.10-05:00\ne: 12:30\nf: 0.0.0.0:5556\ng: :5558\nh: 1.5')).toEqual({
      a: '$VAR',
      b: '$2a$10$abc',
      c: '2024-01-01',
      d: '2001-12-14t21:59:43.10-05:00',
      e: '12:30',
      f: '0.0.0.0:5556',
      g: ':5558',
      h: 1.5,
    });
  });

  test('merge keys work as in yaml.v2', () => {
    expect(parseDexYaml('base: &b {x: 1}\nm:\n  <<: *b\n  z: 2')).toEqual({ base: { x: 1 }, m: { x: 1, z: 2 } });
  });
});

const HASH = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';

describe("Dex's other values are accepted, with a warning when dexpress does not act on them", () => {
  test('response types of the implicit and hybrid flows are enabled, as in Dex (test/conformance/implicit-hybrid.test.ts)', () => {
    const { settings, warnings } = load("oauth2:\n  responseTypes: [code, token, id_token, 'code id_token', 'id_token token', 'code token', 'code id_token token']\n");
    expect(settings.oauth2.responseTypes).toEqual(['code', 'code id_token', 'code id_token token', 'code token', 'id_token', 'id_token token']);
    expect(warnings).toEqual([]);
    expect(issuesOf('oauth2:\n  responseTypes: [code, bogus]\n')[0]).toMatch(/^oauth2\.responseTypes\[1\]: must be one of/);
    expect(load('oauth2:\n  responseTypes: [id_token]\n').settings.oauth2.responseTypes).toEqual(['id_token']);
  });

  test('grant types: implicit is kept where a response type gives out a token; unknown ones are dropped with a warning', () => {
    const { settings, warnings } = load('oauth2:\n  grantTypes: [authorization_code, implicit, refresh_token, made_up]\n');
    expect(settings.oauth2.grantTypes).toEqual(['authorization_code', 'refresh_token']);
    expect(warnings).toEqual([
      'oauth2.grantTypes "implicit" is left out of discovery: no oauth2.responseTypes value gives out a token (as in Dex)',
      'oauth2.grantTypes "made_up" is not a grant type dexpress or Dex knows and is ignored (Dex drops it silently)',
    ]);
    expect(load('oauth2:\n  responseTypes: [code, token]\n  grantTypes: [authorization_code, implicit]\n').settings.oauth2.grantTypes).toEqual(['authorization_code', 'implicit']);
  });

  test("Dex master's client keys and top-level mfa are warnings naming each entry", () => {
    const { warnings } = load(`mfa:
  authenticators: []
staticClients:
- id: a
  secret: s
  redirectURIs: ['http://127.0.0.1:5555/callback']
- id: b
  secret: s
  redirectURIs: ['http://127.0.0.1:5555/callback']
  backchannelLogoutURI: http://127.0.0.1:5555/bcl
  refreshTokenLifetime: 1h
  mfaChain: [totp]
  ssoSharedWith: [a]
  clientCredentialsClaims: {}
`);
    expect(warnings).toEqual([
      'mfa is not supported by dexpress and is ignored',
      ...['backchannelLogoutURI', 'refreshTokenLifetime', 'mfaChain', 'ssoSharedWith', 'clientCredentialsClaims'].map(
        (k) => `staticClients[1].${k} is not supported by dexpress and is ignored`,
      ),
    ]);
  });

  test('logger.level and logger.format are case-insensitive; an empty format is text (Dex newLogger)', () => {
    expect(load('logger:\n  level: Debug\n  format: JSON\n').settings.logger).toEqual({ level: 'debug', format: 'json' });
    expect(load("logger:\n  level: WARN\n  format: ''\n").settings.logger).toEqual({ level: 'warn', format: 'text' });
    expect(issuesOf('logger:\n  format: xml\n')).toEqual(['logger.format: must be one of "", "text", "json" (any case)']);
    expect(issuesOf('logger:\n  level: loud\n')).toEqual(['logger.level: must be one of "debug", "info", "warn", "error" (any case)']);
  });

  test('$VAR is expanded in signer.config, as Dex Signer.UnmarshalJSON does', () => {
    const { settings } = load('signer:\n  type: local\n  config:\n    keysRotationPeriod: $ROTATE\n    algorithm: ${ALG}\n', { ROTATE: '1h', ALG: 'ES256' });
    expect(settings.signer).toEqual({ algorithm: 'ES256', rotationMs: 3_600_000 });
  });

  test('an unquoted YAML 1.1 boolean or number where a string belongs says to quote it', () => {
    expect(issuesOf("staticClients:\n- id: no\n  secret: s\n  redirectURIs: ['http://127.0.0.1:5555/cb']\n")).toEqual([
      'staticClients[0].id: Invalid input: expected string, received boolean: quote the value (unquoted yes, no, on, off and numbers are not strings in YAML)',
    ]);
    expect(load("staticClients:\n- id: 'no'\n  secret: s\n  redirectURIs: ['http://127.0.0.1:5555/cb']\n").settings.clients[0]!.id).toBe('no');
  });

  test('redirect URI /device/callback (or under the issuer path) is accepted for the device flow, never as a redirect target of /auth', () => {
    for (const uri of ['/device/callback', '/dex/device/callback', 'http://127.0.0.1:5556/dex/device/callback']) {
      const { settings } = load(`staticClients:\n- id: app\n  public: true\n  redirectURIs: ['${uri}']\n`);
      const client = settings.clients[0]!;
      expect(client.redirectURIs).toEqual([]);
      expect(client.listsDeviceCallback).toBe(true);
      // /auth may not send a code to the broker's own device callback, nor (a registered URI) to loopback.
      expect(redirectUriAllowed(client, 'http://127.0.0.1:5556/dex/device/callback')).toBe(false);
      expect(redirectUriAllowed(client, 'http://127.0.0.1:8000/cb')).toBe(false);
    }
    expect(issuesOf("staticClients:\n- id: app\n  public: true\n  redirectURIs: ['/elsewhere']\n")).toEqual(['staticClients[0].redirectURIs[0]: must be an absolute URL']);
  });
});

describe('staticPasswords as Dex reads them', () => {
  const user = (extra: string) => `enablePasswordDB: true\nstaticPasswords:\n- email: a@example.com\n  username: a\n${extra}`;

  test('a bcrypt hash in base64 is accepted and decoded (Dex: "for backwards compatibility")', () => {
    const { settings } = load(user(`  userID: u1\n  hash: ${Buffer.from(HASH).toString('base64')}\n`));
    expect(settings.passwordDB.users[0]!.hash).toBe(HASH);
    expect(issuesOf(user(`  userID: u1\n  hash: ${Buffer.from('not bcrypt').toString('base64')}\n`))).toEqual([
      'staticPasswords[0].hash: must be a bcrypt hash ($2a$..., $2b$... or $2y$...), or one in base64',
    ]);
  });

  test('userID is not required; a user without one is left out with a warning (Dex would give all of them one subject)', () => {
    const { settings, warnings } = load(user(`  hash: '${HASH}'\n`));
    expect(settings.passwordDB.users).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/^staticPasswords\[0\]\.userID is not set: a@example\.com cannot log in/)]);
  });

  test('staticPasswords without enablePasswordDB: true is refused, as Dex Config.Validate does', () => {
    expect(issuesOf(`staticPasswords:\n- email: a@example.com\n  username: a\n  userID: u1\n  hash: '${HASH}'\n`)).toEqual([
      'staticPasswords: needs enablePasswordDB: true (Dex refuses to start without it too)',
    ]);
  });
});
