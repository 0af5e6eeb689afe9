/** The gitlab config: Dex's keys, and start-up refusals. */
import { expect, test } from '@jest/globals';
import { ConfigError } from '../../../lib/errors.js';
import { configSchema, gitlab } from '../../../strategies/gitlab/index.js';

const base = { clientID: 'id', clientSecret: 'secret' };
const context = {
  id: 'gitlab',
  name: 'GitLab',
  issuer: 'http://127.0.0.1:5556/dex',
  callbackURL: 'http://127.0.0.1:5556/dex/callback',
  logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
};
const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

test("accepts Dex's keys", () => {
  const parsed = configSchema.safeParse({
    ...base,
    baseURL: 'https://gitlab.example.com',
    redirectURI: context.callbackURL,
    groups: ['a'],
    useLoginAsID: true,
    getGroupsPermission: true,
    inheritedGroups: true,
    rootCAData: Buffer.from(pem).toString('base64'),
  });
  expect(parsed.success).toBe(true);
});

test('refuses unknown keys and a baseURL that is not a URL', () => {
  expect(configSchema.safeParse({ ...base, group: ['a'] }).success).toBe(false);
  expect(configSchema.safeParse({ ...base, baseURL: 'gitlab.example.com' }).success).toBe(false);
});

test('rootCAData that is not base64 of a PEM bundle is a start-up error naming it', () => {
  const config = configSchema.parse({ ...base, rootCAData: Buffer.from('not a cert').toString('base64') });
  expect(() => gitlab.create(config, context)).toThrow(ConfigError);
  expect(() => gitlab.create(config, context)).toThrow(/rootCAData/);
});

test('create gives a strategy, refresh and token exchange', () => {
  const connector = gitlab.create(configSchema.parse(base), context);
  expect(connector.strategy.name).toBe('gitlab');
  expect(typeof connector.refresh).toBe('function');
  expect(typeof connector.tokenIdentity).toBe('function');
});
