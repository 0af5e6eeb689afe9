/** The github config: Dex's keys, and Dex's start-up refusals. */
import { describe, expect, test } from '@jest/globals';
import { ConfigError } from '../../../lib/errors.js';
import { configSchema, github } from '../../../strategies/github/index.js';

const base = { clientID: 'id', clientSecret: 'secret' };
const context = {
  id: 'github',
  name: 'GitHub',
  issuer: 'http://127.0.0.1:5556/dex',
  callbackURL: 'http://127.0.0.1:5556/dex/callback',
  logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
};

function issuesOf(config: unknown): string[] {
  const result = configSchema.safeParse(config);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('configSchema', () => {
  test("accepts Dex's documented keys", () => {
    expect(
      issuesOf({
        ...base,
        redirectURI: context.callbackURL,
        orgs: [{ name: 'acme', teams: ['core'] }, { name: 'other' }],
        hostName: 'github.example.com',
        rootCA: '/etc/dex/ca.pem',
        teamNameField: 'slug',
        loadAllGroups: false,
        useLoginAsID: false,
        preferredEmailDomain: '*.example.com',
      }),
    ).toEqual([]);
  });

  test.each([
    [{ ...base, org: 'a', orgs: [{ name: 'b' }] }, /org: cannot use both/],
    [{ ...base, rootCA: '/ca.pem' }, /rootCA: needs hostName/],
    [{ ...base, hostName: 'https://github.example.com' }, /hostName: must be a host name/],
    [{ ...base, teamNameField: 'id' }, /teamNameField/],
    [{ ...base, preferredEmailDomain: 'example.*' }, /preferredEmailDomain: glob pattern cannot end/],
    [{ ...base, orgz: [] }, /orgz/],
    [{ clientSecret: 's' }, /clientID/],
  ])('refuses %j', (config, message) => {
    expect(issuesOf(config).join('\n')).toMatch(message);
  });
});

test('create refuses a redirectURI other than the broker callback', () => {
  const config = configSchema.parse({ ...base, redirectURI: 'http://elsewhere/callback' });
  expect(() => github.create(config, context)).toThrow(ConfigError);
});

test('create gives a strategy named after the connector and a refresh', () => {
  const connector = github.create(configSchema.parse(base), context);
  expect(connector.strategy.name).toBe('github');
  expect(typeof connector.refresh).toBe('function');
});

test('a rootCA file that cannot be read is a config error naming rootCA', () => {
  const config = configSchema.parse({ ...base, hostName: 'github.example.com', rootCA: '/nonexistent/ca.pem' });
  expect(() => github.create(config, context)).toThrow(/rootCA: cannot read the CA/);
});
