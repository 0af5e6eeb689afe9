/** Metrics, request ids and logs without secrets. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { createBroker } from '../../lib/broker.js';
import { StorageUnavailableError } from '../../lib/errors.js';
import { createLogger } from '../../lib/logger.js';
import { StorageOutageLog, withoutCredentials } from '../../lib/outage-log.js';
import { openStorage, type Storage } from '../../lib/storage/index.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { basicAuth, postForm } from '../helpers/http.js';
import { login, startLogin } from '../helpers/rp.js';
import { connectors } from '../../strategies/index.js';

let b: TestBroker;
beforeAll(async () => {
  b = await startBroker({
    connectors: [
      { type: 'mockCallback', id: 'mock', name: 'Example' },
      { type: 'mockPassword', id: 'pw', name: 'PW', config: { username: 'kilgore', password: 'trout' } },
    ],
    oauth2: { skipApprovalScreen: true, passwordConnector: 'pw' },
  });
});
afterAll(() => b.close());

describe('metrics', () => {
  test('logins by connector and outcome, tokens by grant, request durations', async () => {
    const { tokens } = await login(b.issuer, { connectorId: 'mock', scope: 'openid offline_access' });
    await startLogin(b.issuer, { connectorId: 'pw', password: { username: 'kilgore', password: 'nope' } });
    await postForm(`${b.issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, basicAuth());
    const text = await b.broker.metrics.registry.metrics();
    expect(text).toMatch(/dexpress_logins_total\{connector="mock",outcome="success"\} 1/);
    expect(text).toMatch(/dexpress_logins_total\{connector="pw",outcome="refused"\} 1/);
    expect(text).toMatch(/dexpress_tokens_issued_total\{grant="authorization_code"\} 1/);
    expect(text).toMatch(/dexpress_tokens_issued_total\{grant="refresh_token"\} 1/);
    expect(text).toMatch(/dexpress_upstream_duration_seconds_count\{connector="mock",operation="callback"\} 1/);
    expect(text).toMatch(/dexpress_http_request_duration_seconds_count\{route="\/token",method="POST",status="200"\} 2/);
  });

  test('every response carries a request id; a sane caller id is kept', async () => {
    const mine = await fetch(`${b.issuer}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(mine.headers.get('x-request-id')).toBe('abc-123');
    const forged = await fetch(`${b.issuer}/healthz`, { headers: { 'x-request-id': '<script>' } });
    expect(forged.headers.get('x-request-id')).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('logs', () => {
  test('no password, secret or token reaches a log line', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const logger = createLogger({ level: 'debug', format: 'json' }, sink);
    logger.info({ password: 'hunter2', client_secret: 'shh', refresh_token: 'rt', nested: { ok: 1 } }, 'attempt');
    expect(lines.join('')).not.toMatch(/hunter2|shh|"rt"/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'attempt', password: '[redacted]' });
  });

  test('a whole login and a wrong password grant log no password and no token', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const config = { issuer: 'http://127.0.0.1:1/dex', storage: { type: 'memory' }, connectors: [{ type: 'mockPassword', id: 'pw', name: 'PW', config: { username: 'kilgore', password: 'trout' } }] };
    const broker = await createBroker(config, { connectors, logger: pino({ level: 'debug' }, sink) });
    await broker.close();
    const text = createLogger({ level: 'info', format: 'text' }, sink);
    text.info({ connector: 'pw', username: 'kilgore' }, 'password login refused: wrong credentials');
    expect(lines.join('')).not.toContain('trout');
    expect(lines.at(-1)).toMatch(/INFO password login refused: wrong credentials connector="pw" username="kilgore"/);
  });
});

describe('storage outages', () => {
  test('a request failing on storage logs one warn line with its request id, path and the message without credentials', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const real = await openStorage({ type: 'memory' } as Parameters<typeof openStorage>[0]);
    let down = false;
    const storage = new Proxy(real, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function' || prop === 'close') return value;
        return (...args: unknown[]) => (down ? Promise.reject(new StorageUnavailableError('PostgreSQL at db:5432 is unavailable: refused (password=PgSecret123)')) : (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    }) as Storage;
    const server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dex`;
    const broker = await createBroker(
      { issuer, storage: { type: 'memory' }, staticClients: [{ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI] }], connectors: [{ type: 'mockCallback', id: 'mock', name: 'Mock' }] },
      { connectors, storage, logger: pino({ level: 'info' }, sink) },
    );
    server.on('request', broker.listener);
    try {
      down = true;
      const exchange = () => postForm(`${issuer}/token`, { grant_type: 'authorization_code', code: 'abcdefghijklmnopqrstuvwxyz', redirect_uri: TEST_CLIENT.redirectURI }, { ...basicAuth(), 'x-request-id': 'req-1' });
      expect((await exchange()).status).toBe(503);
      expect((await exchange()).status).toBe(503);
      const warns = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'storage unavailable: answered 503');
      expect(warns).toEqual([expect.objectContaining({ level: 40, requestId: 'req-1', path: '/token', error: 'PostgreSQL at db:5432 is unavailable: refused (password=[redacted])' })]);
      expect(lines.join('')).not.toContain('PgSecret123');
    } finally {
      down = false;
      server.close();
      await broker.close();
    }
  });

  test('at most one line a second, the next one counting those left out', () => {
    let now = 0;
    const log = new StorageOutageLog(1000, () => now);
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); done(); } }));
    const where = { path: '/token', requestId: 'r' };
    for (const at of [0, 10, 500, 999, 1000, 1500]) {
      now = at;
      log.report(logger, new StorageUnavailableError('down'), where);
    }
    expect(lines.map((l) => l.suppressed)).toEqual([undefined, 3]);
  });

  test('credentials in driver messages are taken out', () => {
    expect(withoutCredentials('connect postgres://dex:s3cret@db:5432/dex failed')).toBe('connect postgres://dex:[redacted]@db:5432/dex failed');
    expect(withoutCredentials('host=db password=abc user=dex')).toBe('host=db password=[redacted] user=dex');
    expect(withoutCredentials('password authentication failed for user "dex"')).toBe('password authentication failed for user "dex"');
  });
});
