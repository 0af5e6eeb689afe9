/**
 * The guard on a handed-over passport-oauth2 strategy's node-oauth callbacks (lib/load-connectors.ts):
 * an exception thrown while a package reads an upstream answer becomes that callback's error, never
 * an uncaught exception. End to end with passport-bitbucket-oauth2 in
 * test/strategies/bitbucket-cloud/passport-broker.test.ts.
 */
import { expect, jest, test } from '@jest/globals';
import pino from 'pino';
import { guardOAuth2Callbacks } from '../lib/load-connectors.js';

type Callback = (err: unknown, body?: string) => void;

/** A strategy whose node-oauth `get` answers `body` on a later tick, as node-oauth does. */
function strategyAnswering(body: string) {
  const calls: string[] = [];
  const oauth2 = {
    get(url: string, _token: string, callback: Callback) {
      calls.push(url);
      setImmediate(() => callback(null, body));
    },
  };
  return { strategy: { _oauth2: oauth2 }, oauth2, calls };
}

function uncaughtDuring(run: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listeners = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  const keep = (err: unknown) => seen.push(err);
  process.on('uncaughtException', keep);
  return run().finally(() => {
    process.off('uncaughtException', keep);
    for (const l of listeners) process.on('uncaughtException', l);
  }).then(() => seen);
}

test("a callback that throws reading the answer is called again with the error, which the package hands on as its failure", async () => {
  const { strategy, oauth2 } = strategyAnswering('{"uuid":"x"}');
  guardOAuth2Callbacks(strategy, pino({ enabled: false }));
  const outcomes: unknown[] = [];
  const uncaught = await uncaughtDuring(
    () =>
      new Promise<void>((resolve) => {
        oauth2.get('https://api.example/user', 'token', (err, body) => {
          if (err) {
            outcomes.push(err);
            resolve();
            return;
          }
          const json = JSON.parse(body!) as { links: { html: { href: string } } };
          outcomes.push(json.links.html.href); // throws: no links
        });
      }),
  );
  expect(uncaught).toEqual([]);
  expect(outcomes).toHaveLength(1);
  expect((outcomes[0] as Error).message).toMatch(/^the Passport strategy could not read the answer: Cannot read properties of undefined/);
});

test('a callback that throws again is logged, not thrown; a strategy is guarded once', async () => {
  const { strategy, oauth2, calls } = strategyAnswering('{}');
  const logger = pino({ enabled: false });
  const logged = jest.spyOn(logger, 'error');
  guardOAuth2Callbacks(strategy, logger);
  const once = oauth2.get;
  guardOAuth2Callbacks(strategy, logger);
  expect(oauth2.get).toBe(once);
  let attempts = 0;
  const uncaught = await uncaughtDuring(async () => {
    oauth2.get('https://api.example/user', 'token', () => {
      attempts++;
      throw new Error('always');
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
  });
  expect(uncaught).toEqual([]);
  expect(attempts).toBe(2);
  expect(calls).toEqual(['https://api.example/user']);
  expect(logged).toHaveBeenCalledWith(expect.objectContaining({ err: expect.objectContaining({ message: 'always' }) }), 'a handed-over Passport strategy threw reading an upstream answer');
});

test('a strategy without node-oauth (openid-client, SAML, LDAP) is left as it is', () => {
  const strategy = { name: 'oidc', authenticate() {} };
  guardOAuth2Callbacks(strategy, pino({ enabled: false }));
  expect(Object.keys(strategy)).toEqual(['name', 'authenticate']);
});
