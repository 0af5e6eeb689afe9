/** Dex's web.clientRemoteIP: the client's address behind trusted proxies, for the throttles. */
import { describe, expect, test } from '@jest/globals';
import type { IncomingMessage } from 'node:http';
import { clientAddressReader } from '../../lib/client-address.js';
import { loadConfig } from '../../lib/config/load.js';
import { ConfigError } from '../../lib/errors.js';
import { connectors } from '../../strategies/index.js';

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
