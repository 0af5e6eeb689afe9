/** Dex's own config files load as Dex reads them: YAML 1.1, `null` as "not set", Dex's values. */
import { describe, expect, test } from '@jest/globals';
import { loadConfig, withoutNulls } from '../../lib/config/load.js';
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
