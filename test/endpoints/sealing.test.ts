/** connectorData (upstream tokens) is encrypted at rest when a key is configured. */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ConnectorDataSealer } from '../../lib/sealing.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { basicAuth, postForm } from '../helpers/http.js';
import { login } from '../helpers/rp.js';

const KEY = randomBytes(32);

describe('ConnectorDataSealer', () => {
  const sealer = new ConnectorDataSealer(KEY);
  test('round-trips JSON and hides it', () => {
    const value = { accessToken: 'gho_secret', refresh: ['x', 1] };
    const sealed = sealer.seal(value);
    expect(JSON.stringify(sealed)).not.toContain('gho_secret');
    expect(sealer.open(sealed)).toEqual(value);
  });
  test('a tampered value does not open; an unsealed value passes through', () => {
    const sealed = sealer.seal('secret') as { sealed: string };
    const flipped = sealed.sealed.slice(0, -2) + (sealed.sealed.endsWith('A') ? 'BB' : 'AA');
    expect(() => sealer.open({ sealed: flipped })).toThrow();
    expect(sealer.open({ plain: true })).toEqual({ plain: true });
    expect(() => new ConnectorDataSealer().open(sealed)).toThrow(/no connectorDataKey/);
  });
});

describe('through the broker', () => {
  let b: TestBroker;
  beforeAll(async () => {
    process.env.TEST_CONNECTOR_DATA_KEY = KEY.toString('base64');
    b = await startBroker({ connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }], connectorDataKeyEnv: 'TEST_CONNECTOR_DATA_KEY' });
  });
  afterAll(() => b.close());

  test('the stored refresh token holds sealed connectorData, and refresh still works', async () => {
    const { tokens } = await login(b.issuer, { connectorId: 'mock', scope: 'openid offline_access' });
    const id = tokens.refresh_token!.split('.')[0]!;
    const stored = JSON.stringify((await b.broker.storage.find('refreshToken', id))!.value);
    expect(stored).not.toContain('foobar'); // mockCallback's connectorData
    expect(stored).toContain('dexpress-sealed:v1:');
    const res = await postForm(`${b.issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, basicAuth());
    expect(res.status).toBe(200);
    expect(JSON.stringify((await b.broker.storage.find('refreshToken', id))!.value)).not.toContain('foobar');
  });
});
