/** Metrics, request ids and logs without secrets. */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { createBroker } from '../../lib/broker.js';
import { createLogger } from '../../lib/logger.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
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
