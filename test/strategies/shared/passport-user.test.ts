/**
 * `onePerConfig`, which keeps the strategy each type maps handed-over Passport users with: one
 * per connector config, and a creation that failed is tried again (Google's, whose service
 * account key file may not be readable yet).
 */
import { expect, test } from '@jest/globals';
import { onePerConfig } from '../../../strategies/shared/passport-user.js';

test('one value per config object, made on first use', () => {
  let made = 0;
  const strategyFor = onePerConfig((config: { id: string }) => ({ id: config.id, n: ++made }));
  const a = { id: 'a' };
  const b = { id: 'a' }; // equal, but another config object
  expect(strategyFor(a)).toBe(strategyFor(a));
  expect(strategyFor(b)).not.toBe(strategyFor(a));
  expect(made).toBe(2);
});

test('a creation that rejects is not kept: the next call tries again', async () => {
  let attempts = 0;
  const strategyFor = onePerConfig(async (_config: object) => {
    attempts++;
    if (attempts === 1) throw new Error('cannot read the key file');
    return 'strategy';
  });
  const config = {};
  await expect(strategyFor(config)).rejects.toThrow('cannot read the key file');
  await expect(strategyFor(config)).resolves.toBe('strategy');
  await expect(strategyFor(config)).resolves.toBe('strategy');
  expect(attempts).toBe(2);
});
