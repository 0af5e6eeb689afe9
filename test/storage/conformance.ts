/**
 * The behavioural suite every storage backend passes. A backend's test file calls
 * `describeStorage(name, open)` where `open(now)` returns a fresh, empty storage.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import type { Clock, Storage, StorageOps } from '../../lib/storage/index.js';
import { InvalidStorageKeyError, MAX_KEY_LENGTH } from '../../lib/storage/records.js';
import { frozenClock, type TestClock } from '../helpers/clock.js';

export function describeStorage(name: string, open: (now: Clock) => Promise<Storage>): void {
  describe(`storage conformance: ${name}`, () => {
    let s: Storage;
    let clock: TestClock;
    const fresh = async () => {
      clock = frozenClock();
      s = await open(clock);
      return s;
    };
    afterEach(async () => {
      await s?.close();
    });

    test('create, find, and create again refused', async () => {
      await fresh();
      expect(await s.create('authCode', 'a', { n: 1 })).toBe(true);
      expect(await s.create('authCode', 'a', { n: 2 })).toBe(false);
      expect(await s.find('authCode', 'a')).toEqual({ value: { n: 1 }, version: 1, expiresAt: null });
      expect(await s.find('authCode', 'missing')).toBeUndefined();
    });

    test('kinds are separate namespaces', async () => {
      await fresh();
      await s.create('authCode', 'x', 1);
      expect(await s.find('refreshToken', 'x')).toBeUndefined();
    });

    test('consume returns the value once', async () => {
      await fresh();
      await s.create('authCode', 'c', { v: 'x' });
      expect(await s.consume('authCode', 'c')).toEqual({ v: 'x' });
      expect(await s.consume('authCode', 'c')).toBeUndefined();
    });

    test('of many concurrent consumers exactly one gets the value', async () => {
      await fresh();
      await s.create('authCode', 'race', 42);
      const results = await Promise.all(Array.from({ length: 20 }, () => s.consume<number>('authCode', 'race')));
      expect(results.filter((r) => r === 42)).toHaveLength(1);
    });

    test('update is compare-and-swap on the version', async () => {
      await fresh();
      await s.create('refreshToken', 'r', { gen: 0 });
      const rec = (await s.find<{ gen: number }>('refreshToken', 'r'))!;
      expect(await s.update('refreshToken', 'r', rec.version, { gen: 1 })).toBe(true);
      expect(await s.update('refreshToken', 'r', rec.version, { gen: 2 })).toBe(false);
      expect((await s.find('refreshToken', 'r'))!.value).toEqual({ gen: 1 });
      expect(await s.update('refreshToken', 'nope', 1, {})).toBe(false);
    });

    test('concurrent updates from one version: exactly one wins', async () => {
      await fresh();
      await s.create('keys', 'k', 0);
      const { version } = (await s.find('keys', 'k'))!;
      const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => s.update('keys', 'k', version, i + 1)));
      expect(wins.filter(Boolean)).toHaveLength(1);
    });

    test('upsert inserts then replaces, bumping the version', async () => {
      await fresh();
      await s.upsert('session', 'sid', { a: 1 });
      await s.upsert('session', 'sid', { a: 2 });
      expect(await s.find('session', 'sid')).toMatchObject({ value: { a: 2 }, version: 2 });
    });

    test('upsert over an expired record starts afresh: version 1, no owner kept', async () => {
      await fresh();
      const t = clock();
      await s.create('offlineSession', 'e', { a: 1 }, { expiresAt: t + 1000, owner: 'alice' });
      await s.upsert('offlineSession', 'e', { a: 1 }, { expiresAt: t + 5000, owner: 'alice' });
      clock.advance(5000);
      await s.upsert('offlineSession', 'e', { a: 2 });
      expect(await s.find('offlineSession', 'e')).toEqual({ value: { a: 2 }, version: 1, expiresAt: null });
      expect(await s.destroyByOwner('offlineSession', 'alice')).toBe(0);
      await s.upsert('offlineSession', 'e', { a: 3 }, { owner: 'bob' });
      await s.upsert('offlineSession', 'e', { a: 4 });
      expect(await s.find('offlineSession', 'e')).toMatchObject({ value: { a: 4 }, version: 3 });
      expect(await s.destroyByOwner('offlineSession', 'bob')).toBe(1);
    });

    test('a fractional expiry is rounded up to whole milliseconds', async () => {
      await fresh();
      const t = clock();
      expect(await s.create('session', 'c', 1, { expiresAt: t + 1000.5 })).toBe(true);
      await s.upsert('session', 'u', 1, { expiresAt: t + 1000.25 });
      await s.create('session', 'p', 1);
      expect(await s.update('session', 'p', 1, 2, { expiresAt: t + 1000.75 })).toBe(true);
      for (const id of ['c', 'u', 'p']) expect((await s.find('session', id))!.expiresAt).toBe(t + 1001);
      clock.advance(1000);
      expect(await s.count('session')).toBe(3);
      clock.advance(1);
      expect(await s.count('session')).toBe(0);
    });

    test('expired records are invisible and collected', async () => {
      await fresh();
      const t = clock();
      await s.create('authRequest', 'old', 1, { expiresAt: t + 1000 });
      await s.create('authRequest', 'new', 2, { expiresAt: t + 5000 });
      await s.create('authRequest', 'forever', 3);
      await s.create('authCode', 'unread', 4, { expiresAt: t + 1000 });
      clock.advance(1000);
      expect(await s.gc()).toBeGreaterThanOrEqual(1);
      expect(await s.count('authCode')).toBe(0);
      expect(await s.find('authRequest', 'old')).toBeUndefined();
      expect(await s.consume('authRequest', 'old')).toBeUndefined();
      expect(await s.count('authRequest')).toBe(2);
      expect(await s.create('authRequest', 'old', 4)).toBe(true);
    });

    test('update keeps the expiry unless given a new one', async () => {
      await fresh();
      const t = clock();
      await s.create('refreshToken', 'e', 1, { expiresAt: t + 1000 });
      const r = (await s.find('refreshToken', 'e'))!;
      await s.update('refreshToken', 'e', r.version, 2);
      expect((await s.find('refreshToken', 'e'))!.expiresAt).toBe(t + 1000);
      await s.update('refreshToken', 'e', r.version + 1, 3, { expiresAt: null });
      expect((await s.find('refreshToken', 'e'))!.expiresAt).toBeNull();
    });

    test('destroy and destroyByOwner', async () => {
      await fresh();
      await s.create('refreshToken', 'a', 1, { owner: 'fam' });
      await s.create('refreshToken', 'b', 2, { owner: 'fam' });
      await s.create('refreshToken', 'c', 3, { owner: 'other' });
      expect(await s.destroy('refreshToken', 'c')).toBe(true);
      expect(await s.destroy('refreshToken', 'c')).toBe(false);
      expect(await s.destroyByOwner('refreshToken', 'fam')).toBe(2);
      expect(await s.count('refreshToken')).toBe(0);
    });

    test('values round-trip as JSON, unicode included', async () => {
      await fresh();
      const value = { s: 'Zoë ✓ \u0000 "quoted"', n: 1.5, b: false, a: [1, 'x', null], o: { nested: true } };
      await s.create('authRequest', 'u', value);
      expect((await s.find('authRequest', 'u'))!.value).toEqual(value);
    });

    test('a transaction commits all of its writes together', async () => {
      await fresh();
      await s.create('authCode', 'code', { c: 1 });
      const got = await s.transaction(async (tx) => {
        const code = await tx.consume<{ c: number }>('authCode', 'code');
        await tx.create('refreshToken', 'rt', { from: code });
        await tx.create('deviceRequest', 'code', { rt: 'rt' });
        return code;
      });
      expect(got).toEqual({ c: 1 });
      expect(await s.find('authCode', 'code')).toBeUndefined();
      expect((await s.find('refreshToken', 'rt'))!.value).toEqual({ from: { c: 1 } });
      expect((await s.find('deviceRequest', 'code'))!.value).toEqual({ rt: 'rt' });
    });

    test('a transaction that throws leaves nothing behind and rethrows', async () => {
      await fresh();
      await s.create('authCode', 'code', 1);
      await s.create('refreshToken', 'old', { gen: 0 }, { owner: 'fam' });
      await s.create('session', 'gone', 'x');
      const failure = new Error('minting failed');
      await expect(
        s.transaction(async (tx) => {
          expect(await tx.consume('authCode', 'code')).toBe(1);
          expect(await tx.update('refreshToken', 'old', 1, { gen: 1 })).toBe(true);
          expect(await tx.create('refreshToken', 'new', { gen: 0 })).toBe(true);
          expect(await tx.destroy('session', 'gone')).toBe(true);
          await tx.upsert('deviceRequest', 'code', 'tombstone');
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await s.find('authCode', 'code')).toMatchObject({ value: 1, version: 1 });
      expect(await s.find('refreshToken', 'old')).toMatchObject({ value: { gen: 0 }, version: 1 });
      expect(await s.find('refreshToken', 'new')).toBeUndefined();
      expect(await s.find('session', 'gone')).toBeDefined();
      expect(await s.find('deviceRequest', 'code')).toBeUndefined();
      expect(await s.destroyByOwner('refreshToken', 'fam')).toBe(1);
    });

    test('of concurrent transactions consuming one record, exactly one gets it', async () => {
      await fresh();
      await s.create('authCode', 'once', 'v');
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          s.transaction(async (tx) => {
            const v = await tx.consume<string>('authCode', 'once');
            if (v !== undefined) await tx.create('refreshToken', `rt-${i}`, i);
            return v;
          }),
        ),
      );
      expect(results.filter((r) => r === 'v')).toHaveLength(1);
      expect(await s.count('refreshToken')).toBe(1);
    });

    test('nobody outside sees a transaction half done', async () => {
      await fresh();
      let pause!: () => void;
      const paused = new Promise<void>((resolve) => (pause = resolve));
      const tx = s.transaction(async (t) => {
        await t.create('refreshToken', 'a', 1);
        pause();
        await new Promise((resolve) => setTimeout(resolve, 30));
        await t.create('deviceRequest', 'b', 2);
      });
      await paused;
      const [a, b] = await Promise.all([s.find('refreshToken', 'a'), s.find('deviceRequest', 'b')]);
      await tx;
      expect(a === undefined).toBe(b === undefined);
      expect(await s.find('deviceRequest', 'b')).toBeDefined();
    });

    test('increment: a counter starts at the first increment, with its window, which later ones keep', async () => {
      await fresh();
      const t = clock();
      expect(await s.increment('loginAttempts', 'k', 1, t + 1000)).toBe(1);
      clock.advance(500);
      expect(await s.increment('loginAttempts', 'k', 2, clock() + 1000)).toBe(3);
      expect(await s.find('loginAttempts', 'k')).toEqual({ value: 3, version: 2, expiresAt: t + 1000 });
      clock.advance(500);
      expect(await s.find('loginAttempts', 'k')).toBeUndefined();
      expect(await s.increment('loginAttempts', 'k', 1, clock() + 1000.5)).toBe(1);
      expect(await s.find('loginAttempts', 'k')).toEqual({ value: 1, version: 1, expiresAt: t + 2001 });
      expect(await s.increment('loginAttempts', 'forever', 1, null)).toBe(1);
      expect((await s.find('loginAttempts', 'forever'))!.expiresAt).toBeNull();
    });

    test('increment: a negative one lowers a live counter, never below 0, and creates nothing', async () => {
      await fresh();
      const t = clock();
      expect(await s.increment('loginAttempts', 'none', -1, t + 1000)).toBe(0);
      expect(await s.find('loginAttempts', 'none')).toBeUndefined();
      await s.increment('loginAttempts', 'k', 2, t + 1000);
      expect(await s.increment('loginAttempts', 'k', -1, null)).toBe(1);
      expect(await s.increment('loginAttempts', 'k', -5, null)).toBe(0);
      expect(await s.find('loginAttempts', 'k')).toMatchObject({ value: 0, expiresAt: t + 1000 });
      clock.advance(1000);
      expect(await s.increment('loginAttempts', 'k', -1, null)).toBe(0);
      expect(await s.count('loginAttempts')).toBe(0);
    });

    test('increment: a record that is not an integer counter is started afresh', async () => {
      await fresh();
      const t = clock();
      await s.create('loginAttempts', 'old', { n: 7, since: t }, { expiresAt: t + 5000, owner: 'x' });
      expect(await s.increment('loginAttempts', 'old', -1, t + 1000)).toBe(0);
      expect(await s.increment('loginAttempts', 'old', 1, t + 1000)).toBe(1);
      expect(await s.find('loginAttempts', 'old')).toEqual({ value: 1, version: 1, expiresAt: t + 1000 });
      expect(await s.destroyByOwner('loginAttempts', 'x')).toBe(0);
    });

    test('concurrent increments are all counted, and take-backs too', async () => {
      await fresh();
      const t = clock();
      const ups = await Promise.all(Array.from({ length: 40 }, () => s.increment('loginAttempts', 'addr', 1, t + 60_000)));
      expect(ups.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      await Promise.all(Array.from({ length: 15 }, () => s.increment('loginAttempts', 'addr', -1, null)));
      expect((await s.find('loginAttempts', 'addr'))!.value).toBe(25);
      expect(await s.transaction((tx) => tx.increment('loginAttempts', 'addr', 1, null))).toBe(26);
    });

    /** Ids and owners no backend can store (PostgreSQL refuses NUL, and index entries over 2,704 bytes). */
    const unstorable = ['code\u0000', 'x'.repeat(MAX_KEY_LENGTH + 1), 'ü'.repeat(3000)];
    const lookupsFindNothing = async (ops: StorageOps, key: string) => {
      expect(await ops.find('authCode', key)).toBeUndefined();
      expect(await ops.consume('authCode', key)).toBeUndefined();
      expect(await ops.update('authCode', key, 1, {})).toBe(false);
      expect(await ops.destroy('authCode', key)).toBe(false);
      expect(await ops.destroyByOwner('refreshToken', key)).toBe(0);
    };
    const writesAreRefused = async (ops: StorageOps, key: string) => {
      await expect(ops.create('authCode', key, 1)).rejects.toBeInstanceOf(InvalidStorageKeyError);
      await expect(ops.upsert('authCode', key, 1)).rejects.toBeInstanceOf(InvalidStorageKeyError);
      await expect(ops.increment('loginAttempts', key, 1, null)).rejects.toBeInstanceOf(InvalidStorageKeyError);
      await expect(ops.create('refreshToken', 'ok', 1, { owner: key })).rejects.toBeInstanceOf(InvalidStorageKeyError);
      await expect(ops.upsert('refreshToken', 'ok', 1, { owner: key })).rejects.toBeInstanceOf(InvalidStorageKeyError);
    };

    test('an id or owner containing NUL or longer than the bound is not found by lookups, and refused by writes', async () => {
      await fresh();
      for (const key of unstorable) {
        await lookupsFindNothing(s, key);
        await writesAreRefused(s, key);
      }
      expect(await s.find('refreshToken', 'ok')).toBeUndefined();
      const longest = 'é'.repeat(MAX_KEY_LENGTH);
      expect(await s.create('authCode', longest, 1, { owner: longest })).toBe(true);
      expect(await s.consume('authCode', longest)).toBe(1);
    });

    test('inside a transaction too, without breaking it', async () => {
      await fresh();
      await s.transaction(async (tx) => {
        for (const key of unstorable) await lookupsFindNothing(tx, key);
        await tx.create('authCode', 'after', 1);
      });
      expect(await s.find('authCode', 'after')).toBeDefined();
      await expect(s.transaction((tx) => writesAreRefused(tx, 'nul\u0000').then(() => tx.create('authCode', 'kept?', 1)).then(() => tx.create('authCode', 'x\u0000', 1)))).rejects.toBeInstanceOf(
        InvalidStorageKeyError,
      );
      expect(await s.find('authCode', 'kept?')).toBeUndefined();
    });

    test('ping answers', async () => {
      await fresh();
      await expect(s.ping()).resolves.toBeUndefined();
    });
  });
}
