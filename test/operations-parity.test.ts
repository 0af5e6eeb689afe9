/**
 * Operations parity with Dex: health probes, Prometheus metrics and log lines of `dexpress serve`
 * (a deployment copied from Dex's Helm chart, its alerts and log pipeline keep working).
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { loadConfig } from '../lib/config/load.js';
import { createLogger } from '../lib/logger.js';
import { serve, type RunningServer } from '../lib/server.js';
import { connectors } from '../strategies/index.js';
import { TEST_CLIENT } from './helpers/broker.js';
import { basicAuth, postForm } from './helpers/http.js';
import { freePort } from './helpers/ports.js';
import { login, startLogin } from './helpers/rp.js';

// bcrypt of "password", as in Dex's examples.
const HASH = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';
const USER = { email: 'admin@example.com', hash: HASH, username: 'admin', userID: '08a8684b-db88-4b73-90a9-3cd1661f5466' };

function logSink() {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  return { lines, sink, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

let running: RunningServer;
let issuer: string;
let telemetry: string;
const log = logSink();

beforeAll(async () => {
  const [web, tel] = [await freePort(), await freePort()];
  issuer = `http://127.0.0.1:${web}/dex`;
  telemetry = `http://127.0.0.1:${tel}`;
  running = await serve(
    {
      issuer,
      storage: { type: 'memory' },
      web: { http: `127.0.0.1:${web}` },
      telemetry: { http: `127.0.0.1:${tel}` },
      enablePasswordDB: true,
      staticPasswords: [USER],
      oauth2: { skipApprovalScreen: true, passwordConnector: 'local', grantTypes: ['authorization_code', 'refresh_token', 'password'] },
      staticClients: [{ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], name: 'Example App' }],
      connectors: [{ type: 'mockCallback', id: 'mock', name: 'Mock' }],
    },
    { connectors, logger: createLogger({ level: 'debug', format: 'json' }, log.sink) },
  );
});
afterAll(() => running.close());

/**
 * A strict reading of the Prometheus text format (0.0.4): HELP and TYPE before a family's samples,
 * each sample of a declared family (with `_bucket`, `_sum`, `_count` for histograms), names and
 * label names well formed, label values escaped (`\\`, `\"`, `\n` only), numeric values, no series twice.
 * Returns the samples as `name{labels}` to value.
 */
function parseExposition(text: string): Map<string, number> {
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  const families = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      if (!NAME.test(meta[2]!)) throw new Error(`bad metric name: ${line}`);
      if (meta[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3]!)) throw new Error(`bad type: ${line}`);
        families.set(meta[2]!, meta[3]!);
      }
      continue;
    }
    if (line.startsWith('#')) throw new Error(`stray comment: ${line}`);
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)(?: -?\d+)?$/.exec(line);
    if (!sample) throw new Error(`malformed sample: ${JSON.stringify(line)}`);
    const name = sample[1]!;
    const family = families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    if (!families.has(family)) throw new Error(`sample before its TYPE: ${line}`);
    const value = sample[3]!;
    // NaN in any case, as Prometheus's parser (Go's ParseFloat) reads it: prom-client writes `Nan`.
    if (!/^([+-]Inf|[Nn]a[Nn]|-?\d+(\.\d+)?(e[+-]?\d+)?)$/.test(value)) throw new Error(`bad value: ${line}`);
    const key = `${name}${sample[2] ?? ''}`;
    if (samples.has(key)) throw new Error(`series twice: ${key}`);
    samples.set(key, /^nan$/i.test(value) ? NaN : Number(value.replace('Inf', 'Infinity')));
  }
  return samples;
}

const scrape = async () => parseExposition(await (await fetch(`${telemetry}/metrics`)).text());

describe('metrics on telemetry.http', () => {
  test("Dex's http_requests_total, request_duration_seconds and response_size_bytes, by code, method and handler as Dex names them", async () => {
    await login(issuer, { connectorId: 'mock', scope: 'openid' });
    await fetch(`${issuer}/auth/nosuchconnector`);
    const samples = await scrape();
    expect(samples.get('http_requests_total{code="200",method="post",handler="/token"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('http_requests_total{code="200",method="get",handler="/.well-known/openid-configuration"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('http_requests_total{code="302",method="get",handler="/auth/{connector}"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('http_requests_total{code="400",method="get",handler="/auth/{connector}"}')).toBe(1);
    expect([...samples.keys()].some((k) => k.startsWith('request_duration_seconds_bucket{le="0.25",code="200",method="post",handler="/token"}'))).toBe(true);
    expect(samples.get('response_size_bytes_count{code="200",method="post",handler="/token"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('response_size_bytes_sum{code="200",method="post",handler="/token"}')).toBeGreaterThan(100);
  });

  test('the exposition is valid text format, and paths, methods and values sent by a client add no series', async () => {
    const before = [...(await scrape()).keys()].filter((k) => !k.startsWith('dexpress_process') && !k.startsWith('dexpress_nodejs'));
    for (let i = 0; i < 5; i++) {
      await fetch(`${issuer}/unknown-${i}/x"y\\z?user=someone${i}`);
      await fetch(`${issuer}/auth/conn-${i}"{}`);
      await fetch(`${issuer}/healthz`, { method: 'PROPFIND' });
      await postForm(`${issuer}/token`, { grant_type: `custom-${i}`, client_id: `client-${i}"\n` }, basicAuth(`nobody-${i}`, 'x'));
    }
    const after = [...(await scrape()).keys()].filter((k) => !k.startsWith('dexpress_process') && !k.startsWith('dexpress_nodejs'));
    const added = after.filter((k) => !before.includes(k));
    // The same few series, whatever the paths and values: none names what a client sent.
    expect(added.filter((k) => /unknown-|conn-|custom-|client-|nobody-|someone/.test(k))).toEqual([]);
    expect(added.length).toBeLessThan(60);
  });

  test('a CORS preflight is labelled with its own path, not the list of every preflight route', async () => {
    await fetch(`${issuer}/keys`, { method: 'OPTIONS' });
    const samples = await scrape();
    expect(samples.get('dexpress_http_request_duration_seconds_count{route="/keys",method="OPTIONS",status="204"}')).toBe(1);
    expect(samples.get('http_requests_total{code="204",method="options",handler="/keys"}')).toBe(1);
    expect([...samples.keys()].filter((k) => k.includes('/token,/userinfo'))).toEqual([]);
  });
});

describe('logs', () => {
  test('a login writes Dex\'s "login successful" line: connector_id, user_id, username, preferred_username, email, groups', async () => {
    log.lines.length = 0;
    await login(issuer, { connectorId: 'mock', scope: 'openid email profile groups' });
    expect(log.entries().filter((e) => e.msg === 'login successful')).toEqual([
      expect.objectContaining({
        level: 'INFO',
        connector_id: 'mock',
        user_id: '0-385-28089-0',
        username: 'Kilgore Trout',
        preferred_username: 'kilgore',
        email: 'kilgore@kilgore.trout',
        groups: ['authors'],
        client: TEST_CLIENT.id,
      }),
    ]);
  });

  test('a token request at debug level logs no code, token, client secret or password', async () => {
    log.lines.length = 0;
    const { tokens, landed } = await login(issuer, { connectorId: 'local', password: { username: USER.email, password: 'password' } });
    await startLogin(issuer, { connectorId: 'local', password: { username: USER.email, password: 'Wr0ngPassw0rd' } });
    const refreshed = await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, basicAuth());
    const grant = await postForm(`${issuer}/token`, { grant_type: 'password', username: USER.email, password: 'password', scope: 'openid offline_access' }, basicAuth());
    await postForm(`${issuer}/token`, { grant_type: 'password', username: USER.email, password: 'Wr0ngGrant', scope: 'openid' }, basicAuth());
    await postForm(`${issuer}/token`, { grant_type: 'authorization_code', code: landed.searchParams.get('code')!, redirect_uri: TEST_CLIENT.redirectURI }, basicAuth());
    await postForm(`${issuer}/token`, { grant_type: 'authorization_code', code: 'c'.repeat(30), redirect_uri: TEST_CLIENT.redirectURI }, basicAuth(TEST_CLIENT.id, 'Wr0ngSecret'));
    expect([refreshed.status, grant.status]).toEqual([200, 200]);
    const text = log.lines.join('');
    expect(text).toContain('login successful'); // the log was written
    const secrets = [landed.searchParams.get('code')!, tokens.refresh_token!, tokens.access_token, tokens.id_token!, refreshed.body.refresh_token, grant.body.refresh_token, grant.body.access_token, TEST_CLIENT.secret, 'Wr0ngPassw0rd', 'Wr0ngGrant', 'Wr0ngSecret', HASH];
    for (const secret of secrets) expect({ secret, logged: text.includes(String(secret)) }).toEqual({ secret, logged: false });
  });

  test('logger.excludeFields drops those fields from every line, as Dex does (it was ignored with a warning)', () => {
    const base = { issuer: 'http://127.0.0.1:5556/dex', storage: { type: 'memory' }, connectors: [{ type: 'mockCallback', id: 'mock', name: 'Mock' }] };
    const loaded = loadConfig({ ...base, logger: { format: 'json', excludeFields: ['email', 'username', 'groups'] } }, { connectors });
    expect(loaded.warnings.filter((w) => w.includes('excludeFields'))).toEqual([]);
    for (const format of ['json', 'text'] as const) {
      const out = logSink();
      const logger = createLogger({ ...loaded.settings.logger, format }, out.sink);
      logger.info({ connector_id: 'mock', username: 'kilgore', email: 'kilgore@kilgore.trout', groups: ['authors'] }, 'login successful');
      logger.child({ username: 'bound' }).info('child line');
      const text = out.lines.join('');
      expect(text).toContain('login successful');
      expect(text).toContain('mock');
      expect(text).not.toMatch(/kilgore|authors|bound/);
    }
  });
});

describe('health', () => {
  test('storage down: the public /healthz is 503 in plain text (Dex: 500), telemetry /healthz/ready 503, /healthz/live 200', async () => {
    const { storage } = running.broker;
    const ping = storage.ping.bind(storage);
    storage.ping = () => Promise.reject(new Error('connect ECONNREFUSED 10.0.0.9:5432 password=PgSecret'));
    try {
      const pub = await fetch(`${issuer}/healthz`);
      expect([pub.status, await pub.text()]).toEqual([503, 'Health check failed: storage unavailable']);
      const ready = await fetch(`${telemetry}/healthz/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).not.toContain('PgSecret');
      expect((await fetch(`${telemetry}/healthz/live`)).status).toBe(200);
    } finally {
      storage.ping = ping;
    }
    expect((await fetch(`${issuer}/healthz`)).status).toBe(200);
  });
});
