/**
 * The strategy the broker runs for a handed-over passport-oauth2 strategy (lib/load-connectors.ts
 * `guardedStrategy`): node-oauth's callbacks guarded, so an exception a package throws reading an
 * upstream answer becomes that callback's error; the app's own strategy object left as it is.
 * End to end with passport-bitbucket-oauth2 in test/strategies/bitbucket-cloud/passport-broker.test.ts.
 * An exception that escaped would be uncaught: jest fails the test for it.
 */
import { expect, jest, test } from '@jest/globals';
import { OAuth2 } from 'oauth';
import pino from 'pino';
import { guardedStrategy } from '../lib/load-connectors.js';

type Callback = (err: unknown, body?: string) => unknown;
/** node-oauth's client as these tests use it (its `_request` is protected in @types/oauth). */
type Client = Pick<OAuth2, 'get' | 'getOAuthAccessToken'> & { _request: (method: string, url: string, headers: unknown, body: unknown, token: unknown, callback: Callback) => void };

/** A passport-oauth2-like strategy whose node-oauth client answers every request with `body`, on a later tick. */
function strategyAnswering(body: string) {
  const oauth2 = new OAuth2('client', 'secret', 'https://upstream.example', '/authorize', '/token') as unknown as Client;
  const requests: string[] = [];
  oauth2._request = (method: string, url: string, _headers: unknown, _body: unknown, _token: unknown, callback: Callback) => {
    requests.push(`${method} ${url}`);
    setImmediate(() => callback(null, body));
  };
  const strategy = { name: 'upstream', _oauth2: oauth2, userProfile(token: string, done: Callback) {
    this._oauth2.get('https://upstream.example/user', token, (err, answer) => {
      if (err) return done(err);
      const json = JSON.parse(String(answer)) as { links: { html: { href: string } } };
      return done(null, json.links.html.href); // throws when the answer has no links
    });
  } };
  return { strategy, oauth2, requests };
}

const quiet = () => pino({ enabled: false });

test('an exception reading the answer is handed to the callback as its error, once; the app keeps its own strategy and client', async () => {
  const { strategy, oauth2, requests } = strategyAnswering('{"uuid":"x"}');
  const ownRequest = oauth2._request;
  const view = guardedStrategy(strategy, quiet());
  const outcomes: unknown[] = [];
  await new Promise<void>((resolve) =>
    view.userProfile('token', (err, profile) => {
      outcomes.push(err ?? profile);
      resolve();
    }),
  );
  expect(outcomes).toHaveLength(1);
  expect((outcomes[0] as Error).message).toMatch(/^the Passport strategy could not read the answer: Cannot read properties of undefined/);
  expect(requests).toEqual(['GET https://upstream.example/user']);
  expect(strategy._oauth2).toBe(oauth2);
  expect(oauth2._request).toBe(ownRequest);
  expect(Object.getPrototypeOf(view)).toBe(strategy);
});

test('a good answer goes through unchanged', async () => {
  const { strategy } = strategyAnswering('{"links":{"html":{"href":"https://upstream.example/alice"}}}');
  const view = guardedStrategy(strategy, quiet());
  const profile = await new Promise((resolve, reject) => view.userProfile('token', (err, p) => (err ? reject(err) : resolve(p))));
  expect(profile).toBe('https://upstream.example/alice');
});

test('the token request is guarded too (getOAuthAccessToken goes through _request)', async () => {
  const { strategy } = strategyAnswering('{"access_token":"at"}');
  const view = guardedStrategy(strategy, quiet());
  const calls: unknown[] = [];
  await new Promise<void>((resolve) =>
    view._oauth2.getOAuthAccessToken('code', {}, (err: unknown, accessToken?: string) => {
      calls.push(err ?? accessToken);
      if (err) return resolve();
      throw new Error('the package choked on the token answer');
    }),
  );
  expect(calls).toHaveLength(2);
  expect(calls[0]).toBe('at');
  expect((calls[1] as Error).message).toBe('the Passport strategy could not read the answer: the package choked on the token answer');
});

test('a callback that fails again, by throwing or with a rejected promise, is logged and not thrown', async () => {
  const logger = quiet();
  const logged = jest.spyOn(logger, 'error');
  for (const fail of [
    () => {
      throw new Error('always');
    },
    () => Promise.reject(new Error('always')),
  ]) {
    const { strategy } = strategyAnswering('{}');
    const view = guardedStrategy(strategy, logger);
    let attempts = 0;
    view._oauth2.get('https://upstream.example/user', 'token', () => {
      attempts++;
      return fail();
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(attempts).toBe(2);
  }
  expect(logged).toHaveBeenCalledTimes(2);
  expect(logged).toHaveBeenCalledWith(expect.objectContaining({ err: expect.objectContaining({ message: 'always' }) }), 'a handed-over Passport strategy failed reading an upstream answer');
});

test('a strategy without node-oauth (openid-client, SAML, LDAP) is run as it is', () => {
  const strategy = { name: 'oidc', authenticate() {} };
  expect(guardedStrategy(strategy, quiet())).toBe(strategy);
});
