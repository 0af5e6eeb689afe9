/**
 * The login throttle on each storage backend: parallel failures are all counted (one atomic
 * increment each, no compare-and-swap to lose), and an attempt is counted before its password is
 * checked, so a storage failure can never leave a checked password uncounted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { StorageUnavailableError } from '../lib/errors.js';
import { MemoryStorage } from '../lib/storage/memory.js';
import { PostgresStorage } from '../lib/storage/postgres.js';
import { SqliteStorage } from '../lib/storage/sqlite.js';
import type { Storage } from '../lib/storage/index.js';
import { DEFAULT_LIMITS, LoginThrottle, userCounterId } from '../lib/throttle.js';
import { startPostgres, type Postgres } from './servers/postgres.js';

const dir = mkdtempSync(join(tmpdir(), 'dexpress-throttle-'));
let server: Postgres;
beforeAll(async () => {
  server = await startPostgres();
}, 120_000);
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const wrong = async () => null;
const backends: [string, () => Promise<Storage>][] = [
  ['memory', async () => new MemoryStorage()],
  ['sqlite3', async () => new SqliteStorage(join(dir, `${Date.now()}-${Math.random()}.sqlite`))],
  [
    'postgres',
    async () => {
      const database = `throttle_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
      await server.createDatabase(database);
      return PostgresStorage.open({ host: server.host, port: server.port, user: server.user, database, ssl: { mode: 'disable' } });
    },
  ],
];

describe.each(backends)('the login throttle on %s', (_name, open) => {
  test('40 parallel wrong passwords from one address, each for another user: all checked, all counted', async () => {
    const storage = await open();
    try {
      const throttle = new LoginThrottle(storage, Date.now);
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => throttle.guard('pw', `user${i}`, '192.0.2.1', wrong)));
      expect(results.filter((r) => r.throttled)).toEqual([]);
      expect((await storage.find('loginAttempts', 'addr:192.0.2.1'))!.value).toBe(40);
      expect((await storage.find('loginAttempts', userCounterId('pw', 'user7')))!.value).toBe(1);
    } finally {
      await storage.close();
    }
  });

  test('200 parallel wrong passwords from one address, each for another user: exactly the address limit are checked', async () => {
    const storage = await open();
    try {
      const throttle = new LoginThrottle(storage, Date.now, { ...DEFAULT_LIMITS, perAddress: 5 });
      const check = jest.fn(wrong);
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => throttle.guard('pw', `spray${i}`, '198.51.100.7', check)));
      expect(check).toHaveBeenCalledTimes(5);
      expect(results.filter((r) => r.throttled)).toHaveLength(195);
      expect((await storage.find('loginAttempts', 'addr:198.51.100.7'))!.value).toBe(5);
    } finally {
      await storage.close();
    }
  });

  test('40 parallel wrong passwords for one user: exactly the limit are checked and counted', async () => {
    const storage = await open();
    try {
      const throttle = new LoginThrottle(storage, Date.now);
      const check = jest.fn(wrong);
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => throttle.guard('pw', 'kilgore', `192.0.2.${i}`, check)));
      expect(check).toHaveBeenCalledTimes(DEFAULT_LIMITS.perUser);
      expect(results.filter((r) => r.throttled)).toHaveLength(40 - DEFAULT_LIMITS.perUser);
      expect((await storage.find('loginAttempts', userCounterId('pw', 'kilgore')))!.value).toBe(DEFAULT_LIMITS.perUser);
    } finally {
      await storage.close();
    }
  });
});

describe('counting before the check', () => {
  test('when the count cannot be stored, the password is not checked', async () => {
    const storage = new MemoryStorage();
    storage.increment = async () => {
      throw new StorageUnavailableError('down');
    };
    const check = jest.fn(wrong);
    await expect(new LoginThrottle(storage, Date.now).guard('pw', 'kilgore', '192.0.2.1', check)).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(check).not.toHaveBeenCalled();
  });

  test('when the address count cannot be stored, the user is not charged for the unchecked attempt', async () => {
    const storage = new MemoryStorage();
    const increment = storage.increment.bind(storage);
    storage.increment = async (kind, id, by, expiresAt) => {
      if (id.startsWith('addr:') && by > 0) throw new StorageUnavailableError('down');
      return increment(kind, id, by, expiresAt);
    };
    const check = jest.fn(async () => ({ sub: 'kilgore' }));
    const throttle = new LoginThrottle(storage, Date.now);
    for (let i = 0; i < 12; i++) await expect(throttle.guard('pw', 'kilgore', '192.0.2.1', check)).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(check).not.toHaveBeenCalled();
    expect((await storage.find('loginAttempts', userCounterId('pw', 'kilgore')))?.value ?? 0).toBe(0);
  });

  test('a give-back after the attempt\'s window ended does not cancel a failure of the next window', async () => {
    let now = Date.UTC(2026, 0, 1);
    const storage = new MemoryStorage(() => now);
    const throttle = new LoginThrottle(storage, () => now, { perUser: 10, perAddress: 100, windowMs: 60_000 });
    // A slow right-password check that ends after its window; meanwhile a failure opens a new window.
    const slow = throttle.guard('pw', 'kilgore', '192.0.2.9', async () => {
      now += 61_000;
      await throttle.guard('pw', 'mallory', '192.0.2.9', wrong);
      return { sub: 'kilgore' };
    });
    await slow;
    expect((await storage.find('loginAttempts', 'addr:192.0.2.9'))!.value).toBe(1);
  });

  test('a right password clears the user and leaves the address as it was; an upstream error leaves nothing', async () => {
    const storage = new MemoryStorage();
    const throttle = new LoginThrottle(storage, Date.now);
    await throttle.guard('pw', 'kilgore', '192.0.2.1', wrong);
    await throttle.guard('pw', 'kilgore', '192.0.2.1', async () => ({ sub: 'kilgore' }));
    expect(await storage.find('loginAttempts', userCounterId('pw', 'kilgore'))).toBeUndefined();
    expect((await storage.find('loginAttempts', 'addr:192.0.2.1'))!.value).toBe(1);
    const down = new Error('upstream down');
    await expect(throttle.guard('pw', 'other', '192.0.2.1', () => Promise.reject(down))).rejects.toBe(down);
    expect((await storage.find('loginAttempts', userCounterId('pw', 'other')))?.value ?? 0).toBe(0);
    expect((await storage.find('loginAttempts', 'addr:192.0.2.1'))!.value).toBe(1);
  });

  test('the window starts at the first failure and Retry-After counts down to its end', async () => {
    let now = Date.UTC(2026, 0, 1);
    const storage = new MemoryStorage(() => now);
    const throttle = new LoginThrottle(storage, () => now, { perUser: 2, perAddress: 100, windowMs: 60_000 });
    await throttle.guard('pw', 'kilgore', '192.0.2.1', wrong);
    now += 20_000;
    await throttle.guard('pw', 'kilgore', '192.0.2.1', wrong);
    expect(await throttle.guard('pw', 'kilgore', '192.0.2.1', wrong)).toEqual({ throttled: true, retryAfter: 40 });
    now += 40_000;
    expect(await throttle.guard('pw', 'kilgore', '192.0.2.1', wrong)).toEqual({ throttled: false, result: null });
  });
});
