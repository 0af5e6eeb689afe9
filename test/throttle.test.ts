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
import type { Admit } from '../lib/connector.js';
import { accountCounterId, DEFAULT_LIMITS, LoginThrottle, userCounterId } from '../lib/throttle.js';
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

  test('40 parallel wrong passwords for one account, each through another of its usernames: exactly the limit are checked', async () => {
    const storage = await open();
    try {
      const throttle = new LoginThrottle(storage, Date.now);
      const { check, passwordsChecked } = accountDirectory();
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => throttle.guard('ldap', `kilgore+${i}@example.org`, `192.0.2.${i}`, check('wrong'))));
      expect(passwordsChecked()).toBe(DEFAULT_LIMITS.perUser);
      expect(results.filter((r) => r.throttled)).toHaveLength(40 - DEFAULT_LIMITS.perUser);
      expect((await storage.find('loginAttempts', accountCounterId('ldap', KILGORE_DN)))!.value).toBe(DEFAULT_LIMITS.perUser);
    } finally {
      await storage.close();
    }
  });
});

const KILGORE_DN = 'uid=kilgore,ou=people,dc=example,dc=org';

/**
 * A directory where every username resolves to one account, as LDAP with several username
 * attributes does: `check(password)` asks the throttle's `admit` about that account before it
 * compares the password, as the LDAP connector does between its search and its bind.
 */
function accountDirectory() {
  let checked = 0;
  const check =
    (password: string, fail?: Error) =>
    async (admit: Admit): Promise<{ sub: string } | null> => {
      if (!(await admit(KILGORE_DN))) return null;
      if (fail) throw fail;
      checked++;
      return password === 'right' ? { sub: 'kilgore' } : null;
    };
  return { check, passwordsChecked: () => checked };
}

describe('accounts reached through several usernames', () => {
  const limits = { perUser: 3, perAddress: 100, windowMs: 60_000 };

  test('the usernames share the account\'s attempts: once they are used up, no username gets its password checked', async () => {
    let now = Date.UTC(2026, 0, 1);
    const storage = new MemoryStorage(() => now);
    const throttle = new LoginThrottle(storage, () => now, limits);
    const { check, passwordsChecked } = accountDirectory();
    for (const username of ['kilgore', 'Kilgore.Trout', 'kilgore@example.org']) {
      expect(await throttle.guard('ldap', username, '192.0.2.1', check('wrong'))).toEqual({ throttled: false, result: null });
      now += 10_000;
    }
    // A fourth spelling, even with the right password: refused unchecked until the window that began with the first failure ends.
    expect(await throttle.guard('ldap', 'kilgore@mail.example.org', '192.0.2.2', check('right'))).toEqual({ throttled: true, retryAfter: 30 });
    expect(passwordsChecked()).toBe(3);
    // The refused attempt is not counted for its username or the account; it is for its address (it cost a directory search).
    expect(await storage.find('loginAttempts', userCounterId('ldap', 'kilgore@mail.example.org'))).toEqual(expect.objectContaining({ value: 0 }));
    expect((await storage.find('loginAttempts', 'addr:192.0.2.2'))!.value).toBe(1);
    expect((await storage.find('loginAttempts', accountCounterId('ldap', KILGORE_DN)))!.value).toBe(3);
    now += 30_000;
    expect(await throttle.guard('ldap', 'kilgore@mail.example.org', '192.0.2.2', check('right'))).toEqual({ throttled: false, result: { sub: 'kilgore' } });
  });

  test('refusals by a locked account count for their address: probing usernames against it stops at the address limit', async () => {
    const storage = new MemoryStorage();
    const throttle = new LoginThrottle(storage, Date.now, { ...limits, perAddress: 5 });
    const { check } = accountDirectory();
    for (let i = 0; i < 3; i++) await throttle.guard('ldap', 'kilgore', '192.0.2.1', check('wrong'));
    let asked = 0;
    const probe = (admit: Admit) => {
      asked++;
      return check('wrong')(admit);
    };
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await throttle.guard('ldap', `probe${i}@example.org`, '192.0.2.66', probe));
    expect(results.every((r) => r.throttled)).toBe(true);
    // Five reached the directory and found the locked account; then the address was over its limit and nothing more was asked.
    expect(asked).toBe(5);
    expect((await storage.find('loginAttempts', 'addr:192.0.2.66'))!.value).toBe(5);
  });

  test('a right password through any username clears the account\'s failures', async () => {
    const storage = new MemoryStorage();
    const throttle = new LoginThrottle(storage, Date.now, limits);
    const { check, passwordsChecked } = accountDirectory();
    await throttle.guard('ldap', 'kilgore', '192.0.2.1', check('wrong'));
    await throttle.guard('ldap', 'kilgore', '192.0.2.1', check('wrong'));
    expect(await throttle.guard('ldap', 'kilgore@example.org', '192.0.2.1', check('right'))).toEqual({ throttled: false, result: { sub: 'kilgore' } });
    expect(await storage.find('loginAttempts', accountCounterId('ldap', KILGORE_DN))).toBeUndefined();
    for (let i = 0; i < 3; i++) await throttle.guard('ldap', `k${i}@example.org`, '192.0.2.1', check('wrong'));
    expect(passwordsChecked()).toBe(6);
  });

  test('an upstream error after the account was named takes the attempt back from the account too', async () => {
    const storage = new MemoryStorage();
    const throttle = new LoginThrottle(storage, Date.now, limits);
    const { check } = accountDirectory();
    const down = new Error('bind failed: directory down');
    await expect(throttle.guard('ldap', 'kilgore', '192.0.2.1', check('wrong', down))).rejects.toBe(down);
    expect((await storage.find('loginAttempts', accountCounterId('ldap', KILGORE_DN)))?.value ?? 0).toBe(0);
    expect((await storage.find('loginAttempts', userCounterId('ldap', 'kilgore')))?.value ?? 0).toBe(0);
  });

  test('when the account\'s count cannot be stored, the password is not checked and nothing stays counted', async () => {
    const storage = new MemoryStorage();
    const increment = storage.increment.bind(storage);
    storage.increment = async (kind, id, by, expiresAt) => {
      if (id.startsWith('account:') && by > 0) throw new StorageUnavailableError('down');
      return increment(kind, id, by, expiresAt);
    };
    const throttle = new LoginThrottle(storage, Date.now, limits);
    const { check, passwordsChecked } = accountDirectory();
    await expect(throttle.guard('ldap', 'kilgore', '192.0.2.1', check('right'))).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(passwordsChecked()).toBe(0);
    expect((await storage.find('loginAttempts', userCounterId('ldap', 'kilgore')))?.value ?? 0).toBe(0);
    expect((await storage.find('loginAttempts', 'addr:192.0.2.1'))?.value ?? 0).toBe(0);
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
