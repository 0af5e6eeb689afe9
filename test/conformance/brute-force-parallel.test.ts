/**
 * Brute-force limits hold against parallel guesses. With an upstream that takes time to answer
 * (an LDAP bind, a Crowd call), attempts sent at once would all pass a "too many failures?" check
 * made before the first failure is counted; the number of passwords actually tried must still
 * not exceed the limit (10 per user per window).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRegistry } from '../../lib/connector.js';
import { connectorModules } from '../../strategies/index.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { basicAuth, postForm } from '../helpers/http.js';
import { FakeUpstream, flakyModules } from '../abuse/flaky-connector.js';

const PER_USER_LIMIT = 10;
const upstream = new FakeUpstream();
let b: TestBroker;

beforeAll(async () => {
  const flaky = flakyModules(upstream);
  b = await startBroker(
    {
      connectors: [{ type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: 'trout' } }],
      oauth2: { skipApprovalScreen: true, passwordConnector: 'pw' },
    },
    { registry: createRegistry([...connectorModules.filter((m) => !flaky.some((f) => f.type === m.type)), ...flaky]) },
  );
});
afterAll(() => b.close());

describe('parallel password guesses', () => {
  test('50 guesses at once for one user: at most the limit are checked upstream, the rest are 429', async () => {
    upstream.mode = 'slow';
    upstream.delayMs = 100;
    const before = upstream.calls;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => postForm(`${b.issuer}/token`, { grant_type: 'password', username: 'kilgore', password: `guess-${i}`, scope: 'openid' }, basicAuth())),
    );
    const checked = upstream.calls - before;
    const throttled = results.filter((r) => r.status === 429).length;
    console.log(`brute force: 50 parallel guesses, ${checked} checked upstream, ${throttled} throttled`);
    expect(checked).toBeLessThanOrEqual(PER_USER_LIMIT);
    expect(throttled).toBeGreaterThanOrEqual(50 - PER_USER_LIMIT);
  });
});
