/** The bitbucket-cloud config: Dex's keys; includeTeamGroups accepted but only warned about. */
import { expect, test } from '@jest/globals';
import { bitbucketCloud, configSchema } from '../../../strategies/bitbucket-cloud/index.js';

test("accepts Dex's keys and refuses unknown ones", () => {
  expect(configSchema.safeParse({ clientID: 'a', clientSecret: 'b', teams: ['x'], getWorkspacePermissions: true, includeTeamGroups: false }).success).toBe(true);
  expect(configSchema.safeParse({ clientID: 'a', clientSecret: 'b', team: ['x'] }).success).toBe(false);
});

test('includeTeamGroups is ignored with a warning', () => {
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, error: () => {}, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') };
  const context = { id: 'bb', name: 'Bitbucket', issuer: 'http://127.0.0.1:5556/dex', callbackURL: 'http://127.0.0.1:5556/dex/callback', logger };
  const connector = bitbucketCloud.create(configSchema.parse({ clientID: 'a', clientSecret: 'b', includeTeamGroups: true }), context);
  expect(connector.strategy.name).toBe('bb');
  expect(warnings.join()).toMatch(/includeTeamGroups is deprecated/);
});
