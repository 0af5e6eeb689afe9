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
