/**
 * The behavioural suite every storage backend passes: the built-in ones in test/storage/, and
 * one registered with `registerStorageBackend` in its own tests. Independent of any test
 * framework: the caller hands over its `describe`, `test` (or `it`) and `afterEach`, so it runs
 * under jest, node:test, mocha or vitest alike; assertions are `node:assert/strict`.
 *
 * ```ts
 * import { describe, test, afterEach } from 'node:test'; // or '@jest/globals', 'vitest', ...
 * import { describeStorage } from 'dexpress/storage-conformance';
 * describeStorage('mine', async (now) => openMine(now), { describe, test, afterEach });
 * ```
 *
 * `open(now)` returns a fresh, empty storage whose notion of time is `now` (a frozen clock the
 * suite moves forward); the suite closes it after each test.
 */
import assert from 'node:assert/strict';
import { StorageUnavailableError } from '../errors.js';
import { frozenClock, type TestClock } from './frozen-clock.js';
import { InvalidStorageKeyError, MAX_KEY_LENGTH } from './records.js';
import type { Clock, Storage, StorageOps, StoredRecord } from './types.js';

/** A framework's `test` or `it`: defines one test whose body resolves when it passes. */
export type DefineTest = (name: string, body: () => Promise<void>) => unknown;

/** The functions the suite needs of a test framework; jest's, node:test's, mocha's and vitest's fit as they are. */
export type TestFramework = {
  describe: (name: string, body: () => void) => unknown;
  afterEach: (hook: () => Promise<void>) => unknown;
} & ({ test: DefineTest } | { it: DefineTest });

/** `value` as jest's `toEqual` compares it: properties whose value is undefined left out, objects compared as plain ones. */
function comparable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(comparable);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, comparable(v)]),
  );
}

/** Deep equality as jest's `toEqual`. */
function assertEqual(actual: unknown, expected: unknown): void {
  assert.deepStrictEqual(comparable(actual), expected);
}

/** The parts of `actual` that `expected` names, recursively into objects (what jest's `toMatchObject` compares). */
function projected(actual: unknown, expected: unknown): unknown {
  if (expected === null || typeof expected !== 'object' || Array.isArray(expected)) return comparable(actual);
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return comparable(actual);
  const got = actual as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(expected)
      .filter(([k]) => k in got)
      .map(([k, v]) => [k, projected(got[k], v)]),
  );
}

/** `actual` has at least the properties of `expected`, with equal values (jest's `toMatchObject`). */
function assertMatches(actual: unknown, expected: Record<string, unknown>): void {
  assert.deepStrictEqual(projected(actual, expected), expected);
}

export interface ConformanceOptions {
  /**
   * Takes the database of `storage` away (the server stopped, the file locked by another process,
   * the network cut) and resolves to a function that brings it back. Given, the suite also checks
   * outages: every failure during one is a `StorageUnavailableError` (which the broker answers
   * with 503 `temporarily_unavailable`), a transaction is written whole or not at all, and the
   * storage works again by itself once the database is back. The test takes as long as the
   * backend's own timeouts during the outage (SQLite: about a second per write) plus the time to
   * bring the database back: give the framework's timeout 30 s or more for it.
   */
  outage?: (storage: Storage) => Promise<() => Promise<void>>;
  /**
   * Whether `outage` may be called while a transaction of the storage is open (a server that is
   * shut down: yes; another process taking SQLite's write lock would wait for the transaction: no).
   * When true, the suite also starts an outage halfway through a transaction and checks that none
   * of its writes remain.
   */
  outageInTransaction?: boolean;
}

/** How long a storage may take to work again once its database is back. */
const RECOVERY_MS = 10_000;

export function describeStorage(name: string, open: (now: Clock) => Promise<Storage>, framework: TestFramework, options: ConformanceOptions = {}): void {
  const { describe, afterEach } = framework;
  const test = 'test' in framework ? framework.test : framework.it;

  describe(`storage conformance: ${name}`, () => {
    let opened: Storage | undefined;
    let clock: TestClock;
    const fresh = async (): Promise<Storage> => {
      clock = frozenClock();
      opened = await open(clock);
      return opened;
    };
    afterEach(async () => {
      await opened?.close();
      opened = undefined;
    });

    test('create, find, and create again refused', async () => {
      const s = await fresh();
      assert.equal(await s.create('authCode', 'a', { n: 1 }), true);
      assert.equal(await s.create('authCode', 'a', { n: 2 }), false);
      assertEqual(await s.find('authCode', 'a'), { value: { n: 1 }, version: 1, expiresAt: null });
      assert.equal(await s.find('authCode', 'missing'), undefined);
    });

    test('kinds are separate namespaces', async () => {
      const s = await fresh();
      await s.create('authCode', 'x', 1);
      assert.equal(await s.find('refreshToken', 'x'), undefined);
    });

    test('consume returns the value once', async () => {
      const s = await fresh();
      await s.create('authCode', 'c', { v: 'x' });
      assertEqual(await s.consume('authCode', 'c'), { v: 'x' });
      assert.equal(await s.consume('authCode', 'c'), undefined);
    });

    test('of many concurrent consumers exactly one gets the value', async () => {
      const s = await fresh();
      await s.create('authCode', 'race', 42);
      const results = await Promise.all(Array.from({ length: 20 }, () => s.consume<number>('authCode', 'race')));
      assert.equal(results.filter((r) => r === 42).length, 1);
    });

    test('update is compare-and-swap on the version', async () => {
      const s = await fresh();
      await s.create('refreshToken', 'r', { gen: 0 });
      const rec = (await s.find<{ gen: number }>('refreshToken', 'r'))!;
      assert.equal(await s.update('refreshToken', 'r', rec.version, { gen: 1 }), true);
      assert.equal(await s.update('refreshToken', 'r', rec.version, { gen: 2 }), false);
      assertEqual((await s.find('refreshToken', 'r'))!.value, { gen: 1 });
      assert.equal(await s.update('refreshToken', 'nope', 1, {}), false);
    });

    test('concurrent updates from one version: exactly one wins', async () => {
      const s = await fresh();
      await s.create('keys', 'k', 0);
      const { version } = (await s.find('keys', 'k'))!;
      const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => s.update('keys', 'k', version, i + 1)));
      assert.equal(wins.filter(Boolean).length, 1);
    });

    test('upsert inserts then replaces, bumping the version', async () => {
      const s = await fresh();
      await s.upsert('session', 'sid', { a: 1 });
      await s.upsert('session', 'sid', { a: 2 });
      assertMatches(await s.find('session', 'sid'), { value: { a: 2 }, version: 2 });
    });

    test('upsert over an expired record starts afresh: version 1, no owner kept', async () => {
      const s = await fresh();
      const t = clock();
      await s.create('offlineSession', 'e', { a: 1 }, { expiresAt: t + 1000, owner: 'alice' });
      await s.upsert('offlineSession', 'e', { a: 1 }, { expiresAt: t + 5000, owner: 'alice' });
      clock.advance(5000);
      await s.upsert('offlineSession', 'e', { a: 2 });
      assertEqual(await s.find('offlineSession', 'e'), { value: { a: 2 }, version: 1, expiresAt: null });
      assert.equal(await s.destroyByOwner('offlineSession', 'alice'), 0);
      await s.upsert('offlineSession', 'e', { a: 3 }, { owner: 'bob' });
      await s.upsert('offlineSession', 'e', { a: 4 });
      assertMatches(await s.find('offlineSession', 'e'), { value: { a: 4 }, version: 3 });
      assert.equal(await s.destroyByOwner('offlineSession', 'bob'), 1);
    });

    test('a fractional expiry is rounded up to whole milliseconds', async () => {
      const s = await fresh();
      const t = clock();
      assert.equal(await s.create('session', 'c', 1, { expiresAt: t + 1000.5 }), true);
      await s.upsert('session', 'u', 1, { expiresAt: t + 1000.25 });
      await s.create('session', 'p', 1);
      assert.equal(await s.update('session', 'p', 1, 2, { expiresAt: t + 1000.75 }), true);
      for (const id of ['c', 'u', 'p']) assert.equal((await s.find('session', id))!.expiresAt, t + 1001);
      clock.advance(1000);
      assert.equal(await s.count('session'), 3);
      clock.advance(1);
      assert.equal(await s.count('session'), 0);
    });

    test('expired records are invisible and collected', async () => {
      const s = await fresh();
      const t = clock();
      await s.create('authRequest', 'old', 1, { expiresAt: t + 1000 });
      await s.create('authRequest', 'new', 2, { expiresAt: t + 5000 });
      await s.create('authRequest', 'forever', 3);
      await s.create('authCode', 'unread', 4, { expiresAt: t + 1000 });
      clock.advance(1000);
      const collected = await s.gc();
      assert.ok(collected >= 1, `gc() collected ${collected} records, expected at least 1`);
      assert.equal(await s.count('authCode'), 0);
      assert.equal(await s.find('authRequest', 'old'), undefined);
      assert.equal(await s.update('authRequest', 'old', 1, 5), false);
      assert.equal(await s.consume('authRequest', 'old'), undefined);
      assert.equal(await s.count('authRequest'), 2);
      assert.equal(await s.create('authRequest', 'old', 4), true);
    });

    test('update keeps the expiry unless given a new one', async () => {
      const s = await fresh();
      const t = clock();
      await s.create('refreshToken', 'e', 1, { expiresAt: t + 1000 });
      const r = (await s.find('refreshToken', 'e'))!;
      await s.update('refreshToken', 'e', r.version, 2);
      assert.equal((await s.find('refreshToken', 'e'))!.expiresAt, t + 1000);
      await s.update('refreshToken', 'e', r.version + 1, 3, { expiresAt: null });
      assert.equal((await s.find('refreshToken', 'e'))!.expiresAt, null);
    });

    test('update and upsert of a live record keep its owner unless given another', async () => {
      const s = await fresh();
      await s.create('refreshToken', 'u', 1, { owner: 'fam' });
      assert.equal(await s.update('refreshToken', 'u', 1, 2), true);
      await s.create('refreshToken', 'p', 1, { owner: 'fam' });
      await s.upsert('refreshToken', 'p', 2);
      await s.create('refreshToken', 'moved', 1, { owner: 'fam' });
      assert.equal(await s.update('refreshToken', 'moved', 1, 2, { owner: 'other' }), true);
      assert.equal(await s.destroyByOwner('refreshToken', 'fam'), 2);
      assert.equal(await s.find('refreshToken', 'u'), undefined);
      assert.equal(await s.find('refreshToken', 'p'), undefined);
      assert.equal(await s.destroyByOwner('refreshToken', 'other'), 1);
    });

    test('destroy and destroyByOwner', async () => {
      const s = await fresh();
      await s.create('refreshToken', 'a', 1, { owner: 'fam' });
      await s.create('refreshToken', 'b', 2, { owner: 'fam' });
      await s.create('refreshToken', 'c', 3, { owner: 'other' });
      assert.equal(await s.destroy('refreshToken', 'c'), true);
      assert.equal(await s.destroy('refreshToken', 'c'), false);
      assert.equal(await s.destroyByOwner('refreshToken', 'fam'), 2);
      assert.equal(await s.count('refreshToken'), 0);
    });

    test('values round-trip as JSON, unicode included', async () => {
      const s = await fresh();
      const value = { s: 'Zoë ✓ \u0000 "quoted"', n: 1.5, b: false, a: [1, 'x', null], o: { nested: true } };
      await s.create('authRequest', 'u', value);
      assertEqual((await s.find('authRequest', 'u'))!.value, value);
    });

    test('a transaction commits all of its writes together', async () => {
      const s = await fresh();
      await s.create('authCode', 'code', { c: 1 });
      const got = await s.transaction(async (tx) => {
        const code = await tx.consume<{ c: number }>('authCode', 'code');
        await tx.create('refreshToken', 'rt', { from: code });
        await tx.create('deviceRequest', 'code', { rt: 'rt' });
        return code;
      });
      assertEqual(got, { c: 1 });
      assert.equal(await s.find('authCode', 'code'), undefined);
      assertEqual((await s.find('refreshToken', 'rt'))!.value, { from: { c: 1 } });
      assertEqual((await s.find('deviceRequest', 'code'))!.value, { rt: 'rt' });
    });

    test('a transaction that throws leaves nothing behind and rethrows', async () => {
      const s = await fresh();
      await s.create('authCode', 'code', 1);
      await s.create('refreshToken', 'old', { gen: 0 }, { owner: 'fam' });
      await s.create('session', 'gone', 'x');
      const failure = new Error('minting failed');
      await assert.rejects(
        s.transaction(async (tx) => {
          assert.equal(await tx.consume('authCode', 'code'), 1);
          assert.equal(await tx.update('refreshToken', 'old', 1, { gen: 1 }), true);
          assert.equal(await tx.create('refreshToken', 'new', { gen: 0 }), true);
          assert.equal(await tx.destroy('session', 'gone'), true);
          await tx.upsert('deviceRequest', 'code', 'tombstone');
          throw failure;
        }),
        (err) => {
          assert.equal(err, failure);
          return true;
        },
      );
      assertMatches(await s.find('authCode', 'code'), { value: 1, version: 1 });
      assertMatches(await s.find('refreshToken', 'old'), { value: { gen: 0 }, version: 1 });
      assert.equal(await s.find('refreshToken', 'new'), undefined);
      assert.notEqual(await s.find('session', 'gone'), undefined);
      assert.equal(await s.find('deviceRequest', 'code'), undefined);
      assert.equal(await s.destroyByOwner('refreshToken', 'fam'), 1);
    });

    test('of concurrent transactions consuming one record, exactly one gets it', async () => {
      const s = await fresh();
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
      assert.equal(results.filter((r) => r === 'v').length, 1);
      assert.equal(await s.count('refreshToken'), 1);
    });

    test('nobody outside sees a transaction half done', async () => {
      const s = await fresh();
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
      assert.equal(a === undefined, b === undefined);
      assert.notEqual(await s.find('deviceRequest', 'b'), undefined);
    });

    test('increment: a counter starts at the first increment, with its window, which later ones keep', async () => {
      const s = await fresh();
      const t = clock();
      assert.equal(await s.increment('loginAttempts', 'k', 1, t + 1000), 1);
      clock.advance(500);
      assert.equal(await s.increment('loginAttempts', 'k', 2, clock() + 1000), 3);
      assertEqual(await s.find('loginAttempts', 'k'), { value: 3, version: 2, expiresAt: t + 1000 });
      clock.advance(500);
      assert.equal(await s.find('loginAttempts', 'k'), undefined);
      assert.equal(await s.increment('loginAttempts', 'k', 1, clock() + 1000.5), 1);
      assertEqual(await s.find('loginAttempts', 'k'), { value: 1, version: 1, expiresAt: t + 2001 });
      assert.equal(await s.increment('loginAttempts', 'forever', 1, null), 1);
      assert.equal((await s.find('loginAttempts', 'forever'))!.expiresAt, null);
    });

    test('increment: a negative one lowers a live counter, never below 0, and creates nothing', async () => {
      const s = await fresh();
      const t = clock();
      assert.equal(await s.increment('loginAttempts', 'none', -1, t + 1000), 0);
      assert.equal(await s.find('loginAttempts', 'none'), undefined);
      await s.increment('loginAttempts', 'k', 2, t + 1000);
      assert.equal(await s.increment('loginAttempts', 'k', -1, null), 1);
      assert.equal(await s.increment('loginAttempts', 'k', -5, null), 0);
      assertMatches(await s.find('loginAttempts', 'k'), { value: 0, expiresAt: t + 1000 });
      clock.advance(1000);
      assert.equal(await s.increment('loginAttempts', 'k', -1, null), 0);
      assert.equal(await s.count('loginAttempts'), 0);
    });

    test('increment: a record that is not an integer counter is started afresh', async () => {
      const s = await fresh();
      const t = clock();
      await s.create('loginAttempts', 'old', { n: 7, since: t }, { expiresAt: t + 5000, owner: 'x' });
      assert.equal(await s.increment('loginAttempts', 'old', -1, t + 1000), 0);
      assert.equal(await s.increment('loginAttempts', 'old', 1, t + 1000), 1);
      assertEqual(await s.find('loginAttempts', 'old'), { value: 1, version: 1, expiresAt: t + 1000 });
      assert.equal(await s.destroyByOwner('loginAttempts', 'x'), 0);
    });

    test('concurrent increments are all counted, and take-backs too', async () => {
      const s = await fresh();
      const t = clock();
      const ups = await Promise.all(Array.from({ length: 40 }, () => s.increment('loginAttempts', 'addr', 1, t + 60_000)));
      assertEqual(
        ups.sort((a, b) => a - b),
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      await Promise.all(Array.from({ length: 15 }, () => s.increment('loginAttempts', 'addr', -1, null)));
      assert.equal((await s.find('loginAttempts', 'addr'))!.value, 25);
      assert.equal(await s.transaction((tx) => tx.increment('loginAttempts', 'addr', 1, null)), 26);
    });

    /** Ids and owners no backend can store (PostgreSQL refuses NUL, and index entries over 2,704 bytes). */
    const unstorable = ['code\u0000', 'x'.repeat(MAX_KEY_LENGTH + 1), 'ü'.repeat(3000)];
    const lookupsFindNothing = async (ops: StorageOps, key: string) => {
      assert.equal(await ops.find('authCode', key), undefined);
      assert.equal(await ops.consume('authCode', key), undefined);
      assert.equal(await ops.update('authCode', key, 1, {}), false);
      assert.equal(await ops.destroy('authCode', key), false);
      assert.equal(await ops.destroyByOwner('refreshToken', key), 0);
    };
    const writesAreRefused = async (ops: StorageOps, key: string) => {
      await assert.rejects(ops.create('authCode', key, 1), InvalidStorageKeyError);
      await assert.rejects(ops.upsert('authCode', key, 1), InvalidStorageKeyError);
      await assert.rejects(ops.increment('loginAttempts', key, 1, null), InvalidStorageKeyError);
      await assert.rejects(ops.create('refreshToken', 'ok', 1, { owner: key }), InvalidStorageKeyError);
      await assert.rejects(ops.upsert('refreshToken', 'ok', 1, { owner: key }), InvalidStorageKeyError);
    };

    test('an id or owner containing NUL or longer than the bound is not found by lookups, and refused by writes', async () => {
      const s = await fresh();
      for (const key of unstorable) {
        await lookupsFindNothing(s, key);
        await writesAreRefused(s, key);
      }
      assert.equal(await s.find('refreshToken', 'ok'), undefined);
      const longest = 'é'.repeat(MAX_KEY_LENGTH);
      assert.equal(await s.create('authCode', longest, 1, { owner: longest }), true);
      assert.equal(await s.consume('authCode', longest), 1);
    });

    test('inside a transaction too, without breaking it', async () => {
      const s = await fresh();
      await s.transaction(async (tx) => {
        for (const key of unstorable) await lookupsFindNothing(tx, key);
        await tx.create('authCode', 'after', 1);
      });
      assert.notEqual(await s.find('authCode', 'after'), undefined);
      await assert.rejects(
        s.transaction((tx) =>
          writesAreRefused(tx, 'nul\u0000')
            .then(() => tx.create('authCode', 'kept?', 1))
            .then(() => tx.create('authCode', 'x\u0000', 1)),
        ),
        InvalidStorageKeyError,
      );
      assert.equal(await s.find('authCode', 'kept?'), undefined);
    });

    test('ping answers', async () => {
      const s = await fresh();
      assert.equal(await s.ping(), undefined);
    });

    const { outage } = options;
    if (outage) {
      test('an outage fails only with StorageUnavailableError, leaves no transaction half-written, and passes by itself', async () => {
        const s = await fresh();
        await s.create('keys', 'kept', { n: 1 });
        const attempts: Record<string, () => Promise<unknown>> = {
          create: () => s.create('session', 'new', 1),
          update: () => s.update('keys', 'kept', 1, { n: 2 }),
          transaction: () =>
            s.transaction(async (tx) => {
              await tx.create('authCode', 'half', 1);
              await tx.create('refreshToken', 'half', 2);
            }),
          find: () => s.find('keys', 'kept'),
        };
        const failed: string[] = [];
        const end = await outage(s);
        try {
          for (const [what, attempt] of Object.entries(attempts)) {
            const err = await attempt().then(
              () => undefined,
              (e: unknown) => e ?? new Error('rejected with nothing'),
            );
            if (err === undefined) continue;
            assert.ok(err instanceof StorageUnavailableError, `${what} during the outage failed with ${String(err)}, not a StorageUnavailableError`);
            failed.push(what);
          }
        } finally {
          await end();
        }
        assert.ok(failed.includes('create') && failed.includes('transaction'), `the outage let writes through (failed: ${failed.join(', ') || 'nothing'})`);
        const kept = await recovered(() => s.find<{ n: number }>('keys', 'kept'));
        assertEqual(kept, failed.includes('update') ? { value: { n: 1 }, version: 1, expiresAt: null } : { value: { n: 2 }, version: 2, expiresAt: null });
        assert.equal(await s.find('authCode', 'half'), undefined);
        assert.equal(await s.find('refreshToken', 'half'), undefined);
        assert.equal(await s.create('session', 'new', 1), true);
        await s.transaction(async (tx) => {
          await tx.create('authCode', 'whole', 1);
          await tx.create('refreshToken', 'whole', 2);
        });
        assert.notEqual(await s.find('refreshToken', 'whole'), undefined);
      });

      if (options.outageInTransaction) {
        test('an outage halfway through a transaction leaves none of its writes', async () => {
          const s = await fresh();
          let end: (() => Promise<void>) | undefined;
          try {
            const err = await s
              .transaction(async (tx) => {
                await tx.create('authCode', 'before', 1);
                end = await outage(s);
                await tx.create('refreshToken', 'after', 2);
              })
              .then(
                () => undefined,
                (e: unknown) => e ?? new Error('rejected with nothing'),
              );
            assert.ok(err instanceof StorageUnavailableError, `the transaction ended with ${String(err)}, not a StorageUnavailableError`);
          } finally {
            await end?.();
          }
          assert.equal(await recovered(() => s.find('authCode', 'before')), undefined);
          assert.equal(await s.find('refreshToken', 'after'), undefined);
        });
      }
    }
  });
}

/**
 * `attempt`'s answer once the storage works again after an outage: failures while it reconnects
 * are allowed for RECOVERY_MS, each a `StorageUnavailableError`.
 */
async function recovered<T>(attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + RECOVERY_MS;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      assert.ok(err instanceof StorageUnavailableError, `after the outage: ${String(err)}`);
      assert.ok(Date.now() < deadline, `still unavailable ${RECOVERY_MS} ms after the outage ended`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
