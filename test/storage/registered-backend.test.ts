/**
 * A storage backend of one's own: `registerStorageBackend(type, open)` makes `storage.type: <type>`
 * valid in a config, and the broker opens it with `storage.config` ($VAR expanded) and its clock.
 * The conformance suite runs on it through that path.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { loadConfig } from '../../lib/config/load.js';
import { ConfigError, createBroker, registerStorageBackend, type Clock, type Storage } from '../../lib/index.js';
import { describeStorage } from '../../lib/storage/conformance.js';
import { openStorage } from '../../lib/storage/index.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { connectors } from '../../strategies/index.js';
import { frozenClock } from '../helpers/clock.js';

const opened: { config: Record<string, unknown>; now: Clock; storage: Storage }[] = [];
registerStorageBackend('kv', async (config, now) => {
  const storage = new MemoryStorage(now);
  opened.push({ config, now, storage });
  return storage;
});

const configWith = (storage: unknown) => ({
  issuer: 'http://127.0.0.1:5556/dex',
  storage,
  staticClients: [{ id: 'app', secret: 's', redirectURIs: ['http://127.0.0.1:5555/callback'] }],
  connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }],
});

test('a registered type is a valid storage.type, its config left to the backend; an unregistered one is refused naming storage.type', () => {
  const { settings } = loadConfig(configWith({ type: 'kv', config: { shards: 3, url: 'kv://x' } }), { connectors, env: {} });
  expect(settings.storage).toEqual({ type: 'kv', config: { shards: 3, url: 'kv://x' } });
  const refused = (() => {
    try {
      loadConfig(configWith({ type: 'etcd' }), { connectors, env: {} });
    } catch (err) {
      return (err as ConfigError).issues;
    }
  })();
  expect(refused).toEqual([{ path: 'storage.type', message: 'must be one of "memory", "sqlite3", "postgres", or a type registered with registerStorageBackend' }]);
});

test('a built-in type cannot be registered over (it would be ignored)', () => {
  for (const type of ['memory', 'sqlite3', 'postgres']) {
    expect(() => registerStorageBackend(type, async (_config, now) => new MemoryStorage(now))).toThrow(`storage type "${type}" is built in and cannot be replaced`);
  }
});

test('the broker opens the registered backend with storage.config ($VAR expanded) and its own clock', async () => {
  const now = frozenClock();
  process.env.DEXPRESS_TEST_KV_URL = 'kv://db.internal';
  try {
    const broker = await createBroker(configWith({ type: 'kv', config: { url: '$DEXPRESS_TEST_KV_URL' } }), { connectors, now });
    try {
      const last = opened.at(-1)!;
      expect(last.config).toEqual({ url: 'kv://db.internal' });
      expect(last.now).toBe(now);
      expect(broker.storage).toBe(last.storage);
    } finally {
      await broker.close();
    }
  } finally {
    delete process.env.DEXPRESS_TEST_KV_URL;
  }
});

describeStorage('registered kv, opened by storage.type', (now) => openStorage({ type: 'kv', config: {} }, now), { describe, test, afterEach });
