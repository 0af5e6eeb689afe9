/** Dex's web.clientRemoteIP: the client's address behind trusted proxies, for the throttles. */
import { describe, expect, test } from '@jest/globals';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createBroker } from '../../lib/broker.js';
import { clientAddressReader } from '../../lib/client-address.js';
import { loadConfig } from '../../lib/config/load.js';
import { ConfigError } from '../../lib/errors.js';
import { connectors } from '../../strategies/index.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { basicAuth, postForm } from '../helpers/http.js';

/** What node:http hands over: header names in lower case. */
function request(peer: string, headers: Record<string, string> = {}): IncomingMessage {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { socket: { remoteAddress: peer }, headers: lower } as unknown as IncomingMessage;
}

describe('clientAddressReader', () => {
  const read = clientAddressReader({ header: 'X-Forwarded-For', trustedProxies: ['10.0.0.0/8', '127.0.0.1', 'fd00::/8'] });

  test('an untrusted peer is the client, whatever header it sends', () => {
    expect(read(request('203.0.113.9', { 'X-Forwarded-For': '1.2.3.4' }))).toBe('203.0.113.9');
  });

  test('behind trusted proxies: the rightmost untrusted hop', () => {
    expect(read(request('10.1.2.3', { 'X-Forwarded-For': '6.6.6.6, 198.51.100.7, 10.9.9.9' }))).toBe('198.51.100.7');
    expect(read(request('::ffff:127.0.0.1', { 'X-Forwarded-For': '198.51.100.8' }))).toBe('198.51.100.8');
  });

  test('a malformed hop, a missing header, or only trusted hops: the peer', () => {
    expect(read(request('10.1.2.3', { 'X-Forwarded-For': '198.51.100.7, junk, 10.9.9.9' }))).toBe('10.1.2.3');
    expect(read(request('10.1.2.3'))).toBe('10.1.2.3');
    expect(read(request('10.1.2.3', { 'X-Forwarded-For': '10.0.0.1, 10.0.0.2' }))).toBe('10.1.2.3');
  });

  test('without trustedProxies the header is never read', () => {
    expect(clientAddressReader({ header: 'X-Forwarded-For', trustedProxies: [] })(request('127.0.0.1', { 'X-Forwarded-For': '1.2.3.4' }))).toBe('127.0.0.1');
    expect(clientAddressReader(undefined)(request('127.0.0.1', { 'X-Forwarded-For': '1.2.3.4' }))).toBe('127.0.0.1');
  });

  test('a forwarding header from a peer not trusted to set it is told once: the proxy would share one per-address limit', () => {
    const told: string[] = [];
    const tell = (peer: string, header: string) => told.push(`${peer} ${header}`);
    const untrusted = clientAddressReader(undefined, tell);
    expect(untrusted(request('10.1.2.3'))).toBe('10.1.2.3');
    expect(told).toEqual([]);
    expect(untrusted(request('10.1.2.3', { Forwarded: 'for=198.51.100.7' }))).toBe('10.1.2.3');
    expect(untrusted(request('10.1.2.4', { 'X-Forwarded-For': '198.51.100.8' }))).toBe('10.1.2.4');
    expect(told).toEqual(['10.1.2.3 forwarded']);
    // A proxy listed in trustedProxies sends it as it should; only another peer is told.
    const listed = clientAddressReader({ header: 'X-Forwarded-For', trustedProxies: ['10.0.0.0/8'] }, tell);
    expect(listed(request('10.1.2.3', { 'X-Forwarded-For': '198.51.100.7' }))).toBe('198.51.100.7');
    expect(told).toHaveLength(1);
    expect(listed(request('192.0.2.1', { 'X-Real-IP': '198.51.100.7' }))).toBe('192.0.2.1');
    expect(told).toEqual(['10.1.2.3 forwarded', '192.0.2.1 x-real-ip']);
  });

  test('behind an unlisted proxy, the first password attempt logs the warning naming web.clientRemoteIP', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dex`;
    const broker = await createBroker(
      {
        issuer,
        storage: { type: 'memory' },
        staticClients: [{ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI] }],
        connectors: [{ type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: 'trout' } }],
        oauth2: { passwordConnector: 'pw' },
      },
      { connectors, logger: pino({ level: 'info' }, sink) },
    );
    server.on('request', broker.listener);
    try {
      const attempt = { grant_type: 'password', username: 'kilgore', password: 'wrong', scope: 'openid' };
      expect((await postForm(`${issuer}/token`, attempt, basicAuth())).status).toBe(400);
      expect(lines.join('')).not.toContain('web.clientRemoteIP');
      for (let i = 0; i < 2; i++) {
        expect((await postForm(`${issuer}/token`, attempt, { ...basicAuth(), 'X-Forwarded-For': '198.51.100.7' })).status).toBe(400);
      }
      const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string; header?: string }).filter((l) => l.msg.includes('web.clientRemoteIP'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 40, header: 'x-forwarded-for' });
      expect(warnings[0]!.msg).toContain('list it in web.clientRemoteIP.trustedProxies');
    } finally {
      server.close();
      server.closeAllConnections();
      await broker.close();
    }
  });
});

describe('config', () => {
  const base = { issuer: 'http://127.0.0.1:5556/dex', storage: { type: 'memory' } };

  test('a bad trustedProxies entry names its path', () => {
    try {
      loadConfig({ ...base, web: { clientRemoteIP: { header: 'X-Forwarded-For', trustedProxies: ['10.0.0.0/8', '10.0.0.0/99'] } } }, { connectors });
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues[0]!.path).toBe('web.clientRemoteIP.trustedProxies[1]');
    }
  });

  test('a header without trusted proxies is a warning', () => {
    const { warnings, settings } = loadConfig({ ...base, web: { clientRemoteIP: { header: 'X-Real-IP' } } }, { connectors });
    expect(warnings.join('\n')).toContain('web.clientRemoteIP.header is set without');
    expect(settings.web.clientRemoteIP).toEqual({ header: 'X-Real-IP', trustedProxies: [] });
  });
});
