/**
 * `/healthz` asks whether storage takes writes, as Dex's health check does (a short-lived auth
 * request written, then deleted): a storage that still answers reads but refuses writes fails
 * every login, and a read-only `ping` called it healthy.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { StorageUnavailableError } from '../lib/errors.js';
import { openStorage, type Storage } from '../lib/storage/index.js';
import { StorageHealth } from '../lib/storage-health.js';
import { startBroker, type TestBroker } from './helpers/broker.js';

/** Memory storage whose chosen operations fail while `refusing` (reads and `ping` still answer). */
async function refusingStorage(ops: string[]): Promise<{ storage: Storage; refuse(on: boolean): void }> {
  const inner = await openStorage({ type: 'memory', config: {} }, Date.now);
  let refusing = false;
  const storage = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const bound = (value as (...a: unknown[]) => unknown).bind(target);
      if (!ops.includes(String(name))) return bound;
      return async (...args: unknown[]) => {
        if (refusing) throw new StorageUnavailableError('read-only (test)');
        return bound(...args);
      };
    },
  });
  return { storage, refuse: (on) => (refusing = on) };
}

describe('StorageHealth', () => {
  test('a write and a delete make it healthy, and leave no record behind', async () => {
    const { storage } = await refusingStorage([]);
    const health = new StorageHealth(storage, Date.now);
    expect(await health.check()).toBe(true);
    expect(await storage.count('authRequest')).toBe(0);
  });

  test('writes refused while reads answer: unhealthy, asked again at each check; a healthy answer is kept 5 s', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const writes = await refusingStorage(['create', 'upsert', 'update', 'destroy']);
      const health = new StorageHealth(writes.storage, Date.now);
      writes.refuse(true);
      await writes.storage.ping();
      expect(await writes.storage.find('authRequest', 'any')).toBeUndefined();
      expect(await health.check()).toBe(false);
      // Recovered: the next check writes again at once.
      writes.refuse(false);
      expect(await health.check()).toBe(true);
      // Within 5 s of a write that went through, probes (anyone may call /healthz) only read.
      writes.refuse(true);
      jest.advanceTimersByTime(4_900);
      expect(await health.check()).toBe(true);
      jest.advanceTimersByTime(200);
      expect(await health.check()).toBe(false);
    } finally {
      jest.useRealTimers();
    }
  });

  test('a failing delete is unhealthy (the record then expires by itself); a failing read is unhealthy at once', async () => {
    const deletes = await refusingStorage(['destroy']);
    deletes.refuse(true);
    expect(await new StorageHealth(deletes.storage, Date.now).check()).toBe(false);
    const reads = await refusingStorage(['ping']);
    const health = new StorageHealth(reads.storage, Date.now);
    expect(await health.check()).toBe(true);
    reads.refuse(true);
    expect(await health.check()).toBe(false);
  });
});

describe('/healthz', () => {
  let b: TestBroker;

  beforeAll(async () => {
    // Reads answer, writes are refused: a read-only file or mount, a full disk, a standby.
    const writes = await refusingStorage(['create', 'upsert', 'update']);
    b = await startBroker({ connectors: [{ type: 'mockCallback', id: 'mock', name: 'Mock' }] }, { storage: writes.storage });
    writes.refuse(true);
  });

  afterAll(async () => {
    await b.close();
  });

  test('storage that reads but cannot write fails the public health check with 503, as broker.healthy()', async () => {
    const res = await fetch(`${b.issuer}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('Health check failed: storage unavailable');
    expect(await b.broker.healthy()).toBe(false);
    await expect(b.broker.storage.ping()).resolves.toBeUndefined();
  });
});
