/**
 * `dexpress serve` hands `POST <issuer path>/token` to the token endpoint directly (no Express);
 * a broker mounted in an application serves it through its Express router. Both must answer the
 * same: status, body, the headers every response carries, CORS, errors, metrics.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { basicAuth, postForm } from '../helpers/http.js';

const config = {
  connectors: [{ type: 'mockPassword', id: 'pw', name: 'PW', config: { username: 'kilgore', password: 'trout' } }],
  oauth2: { skipApprovalScreen: true, passwordConnector: 'pw' },
  web: { allowedOrigins: ['https://spa.example'], headers: { 'Strict-Transport-Security': 'max-age=31536000' } },
};

let direct: TestBroker;
let viaExpress: TestBroker;
beforeAll(async () => {
  [direct, viaExpress] = await Promise.all([startBroker(config, { via: 'listener' }), startBroker(config, { via: 'app' })]);
});
afterAll(() => Promise.all([direct.close(), viaExpress.close()]));

/** What a token answer is judged by: status, body (tokens replaced by their kind), headers that matter. */
async function answer(b: TestBroker, init: { body: string; headers: Record<string, string>; path?: string }) {
  const res = await fetch(`${b.issuer}${init.path ?? '/token'}`, { method: 'POST', headers: init.headers, body: init.body });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text, (k, v: unknown) => (['access_token', 'id_token', 'refresh_token'].includes(k) ? typeof v : v));
  } catch {
    body = text;
  }
  const headers = Object.fromEntries(
    ['content-type', 'cache-control', 'pragma', 'www-authenticate', 'access-control-allow-origin', 'vary', 'x-frame-options', 'x-content-type-options', 'referrer-policy', 'strict-transport-security'].map((h) => [h, res.headers.get(h)]),
  );
  return { status: res.status, body, headers, requestId: res.headers.get('x-request-id') };
}

const form = 'application/x-www-form-urlencoded';
const cases: [string, { body: string; headers: Record<string, string>; path?: string }][] = [
  ['a password grant', { body: 'grant_type=password&username=kilgore&password=trout&scope=openid+offline_access', headers: { 'content-type': form, ...basicAuth() } }],
  ['a wrong password', { body: 'grant_type=password&username=kilgore&password=nope&scope=openid', headers: { 'content-type': form, ...basicAuth() } }],
  ['no client authentication', { body: 'grant_type=password&username=kilgore&password=trout', headers: { 'content-type': form } }],
  ['a wrong client secret (Basic: the realm is named)', { body: 'grant_type=password&username=kilgore&password=trout', headers: { 'content-type': form, ...basicAuth(undefined, 'wrong') } }],
  ['an unsupported grant type', { body: 'grant_type=magic', headers: { 'content-type': form, ...basicAuth() } }],
  ['a parameter sent twice', { body: 'grant_type=password&grant_type=password', headers: { 'content-type': form, ...basicAuth() } }],
  ['JSON instead of a form', { body: '{"grant_type":"password"}', headers: { 'content-type': 'application/json', ...basicAuth() } }],
  ['a body over 64 KiB', { body: `grant_type=password&x=${'a'.repeat(70_000)}`, headers: { 'content-type': form, ...basicAuth() } }],
  ['an allowed origin (CORS)', { body: 'grant_type=magic', headers: { 'content-type': form, origin: 'https://spa.example', ...basicAuth() } }],
  ['an origin not allowed', { body: 'grant_type=magic', headers: { 'content-type': form, origin: 'https://evil.example', ...basicAuth() } }],
  ['a query string on /token (Express on both)', { path: '/token?x=1', body: 'grant_type=magic', headers: { 'content-type': form, ...basicAuth() } }],
];

describe('POST /token directly and through Express', () => {
  test.each(cases)('%s: the same answer', async (_name, init) => {
    const [a, b] = await Promise.all([answer(direct, init), answer(viaExpress, init)]);
    expect(a.status).toBe(b.status);
    expect(a.body).toEqual(b.body);
    expect(a.headers).toEqual(b.headers);
    expect(a.requestId).toMatch(/^[0-9a-f]{16}$/);
    expect(b.requestId).toMatch(/^[0-9a-f]{16}$/);
    expect(a.headers['x-frame-options']).toBe('DENY');
    expect(a.headers['strict-transport-security']).toBe('max-age=31536000');
  });

  test('the answers are what the cases say', async () => {
    const got = await Promise.all(cases.map(([, init]) => answer(direct, init)));
    expect(got.map((g) => g.status)).toEqual([200, 400, 401, 401, 400, 400, 400, 413, 400, 400, 400]);
    expect(got[0]!.body).toMatchObject({ access_token: 'string', id_token: 'string', refresh_token: 'string', token_type: 'bearer' });
    expect(got[1]!.body).toMatchObject({ error: 'invalid_grant' });
    expect(got[2]!.headers['www-authenticate']).toBeNull();
    expect(got[3]!.headers['www-authenticate']).toBe('Basic realm="dexpress"');
    expect(got[4]!.body).toMatchObject({ error: 'unsupported_grant_type' });
    expect(got[8]!.headers['access-control-allow-origin']).toBe('https://spa.example');
    expect(got[9]!.headers['access-control-allow-origin']).toBeNull();
    for (const g of got) expect(g.headers['cache-control']).toBe('no-store');
  });

  test('a caller request id is kept on the direct path', async () => {
    const res = await postForm(`${direct.issuer}/token`, { grant_type: 'magic' }, { ...basicAuth(), 'x-request-id': 'caller-42' });
    expect(res.headers.get('x-request-id')).toBe('caller-42');
  });

  test('both count tokens by grant and time requests by status', async () => {
    for (const b of [direct, viaExpress]) {
      const before = await b.broker.metrics.registry.getSingleMetricAsString('dexpress_tokens_issued_total');
      const count = Number(/grant="password"\} (\d+)/.exec(before)?.[1] ?? 0);
      await postForm(`${b.issuer}/token`, { grant_type: 'password', username: 'kilgore', password: 'trout', scope: 'openid' }, basicAuth());
      const text = await b.broker.metrics.registry.metrics();
      expect(text).toContain(`dexpress_tokens_issued_total{grant="password"} ${count + 1}`);
      expect(text).toMatch(/dexpress_http_request_duration_seconds_count\{route="\/token",method="POST",status="401"\} [1-9]/);
    }
  });
});
