import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import Database from 'better-sqlite3';
import { StorageUnavailableError } from '../../lib/errors.js';
import { describeStorage } from '../../lib/storage/conformance.js';
import { SqliteStorage, isSqliteUnavailable } from '../../lib/storage/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'dexpress-sqlite-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let lastFile = '';
describeStorage('sqlite3', async (now) => new SqliteStorage((lastFile = join(dir, `db-${n++}.sqlite`)), now), { describe, test, afterEach }, {
  // Another process holding the write lock: writes wait out the busy timeout, reads go on (WAL).
  outage: async () => {
    const holder = await holdWriteLock(lastFile);
    return () => holder.release();
  },
});

test('data survives closing and reopening the file', async () => {
  const file = join(dir, 'reopen.sqlite');
  const a = new SqliteStorage(file);
  await a.create('keys', 'signing', { kid: 'k1' });
  await a.close();
  const b = new SqliteStorage(file);
  expect((await b.find('keys', 'signing'))!.value).toEqual({ kid: 'k1' });
  await b.close();
});

test('an unreadable path is a clear error', () => {
  expect(() => new SqliteStorage(join(dir, 'no', 'such', 'dir', 'x.sqlite'))).toThrow(/cannot open SQLite database/);
});

test('a schema version 1 file (WITHOUT ROWID) migrates to version 2 with its records, versions, expiry and owners', async () => {
  const file = join(dir, 'v1.sqlite');
  const old = new Database(file);
  old.exec(`
    CREATE TABLE schema_version (version INTEGER NOT NULL);
    INSERT INTO schema_version (version) VALUES (1);
    CREATE TABLE objects (
      kind TEXT NOT NULL, id TEXT NOT NULL, value TEXT NOT NULL, version INTEGER NOT NULL,
      expires_at INTEGER, owner TEXT, PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;
    CREATE INDEX objects_owner ON objects (kind, owner) WHERE owner IS NOT NULL;
    CREATE INDEX objects_expiry ON objects (expires_at) WHERE expires_at IS NOT NULL;
  `);
  const insert = old.prepare('INSERT INTO objects (kind, id, value, version, expires_at, owner) VALUES (?, ?, ?, ?, ?, ?)');
  insert.run('keys', 'signing', JSON.stringify({ kid: 'k1' }), 3, null, null);
  insert.run('refreshToken', 'rt1', JSON.stringify({ clientId: 'a' }), 5, Date.now() + 60_000, 'session-1');
  insert.run('authCode', 'gone', JSON.stringify({}), 1, Date.now() - 1, null);
  old.close();

  const s = new SqliteStorage(file);
  expect(await s.find('keys', 'signing')).toEqual({ value: { kid: 'k1' }, version: 3, expiresAt: null });
  expect((await s.find('refreshToken', 'rt1'))!.version).toBe(5);
  expect(await s.find('authCode', 'gone')).toBeUndefined();
  expect(await s.update('refreshToken', 'rt1', 5, { clientId: 'b' })).toBe(true);
  expect(await s.destroyByOwner('refreshToken', 'session-1')).toBe(1);
  expect(await s.create('keys', 'signing', { kid: 'other' })).toBe(false);
  await s.close();

  const check = new Database(file, { readonly: true });
  expect(check.prepare('SELECT version FROM schema_version').get()).toEqual({ version: 2 });
  expect(check.prepare("SELECT sql FROM sqlite_master WHERE name = 'objects'").get()).not.toMatchObject({ sql: expect.stringContaining('WITHOUT ROWID') });
  expect(check.prepare("SELECT name FROM sqlite_master WHERE name = 'objects_v1'").get()).toBeUndefined();
  check.close();
});

test('a newer schema version is refused with a clear error', () => {
  const file = join(dir, 'future.sqlite');
  const db = new Database(file);
  db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version (version) VALUES (99);');
  db.close();
  expect(() => new SqliteStorage(file)).toThrow(/schema version 99, newer than this dexpress/);
});

/** Another process holding SQLite's write lock (BEGIN IMMEDIATE) on `file` until killed. */
async function holdWriteLock(file: string) {
  const script = `const db = new (require('better-sqlite3'))(${JSON.stringify(file)}); db.exec('BEGIN IMMEDIATE'); console.log('holding'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout!, 'data');
  return { release: async () => { child.kill(); await once(child, 'exit'); } };
}

test('another process holding the write lock: writes and transactions fail as unavailable (503) after about a second', async () => {
  const file = join(dir, 'locked.sqlite');
  const s = new SqliteStorage(file);
  await s.create('keys', 'k', 1);
  const holder = await holdWriteLock(file);
  try {
    const started = Date.now();
    await expect(s.create('session', 'x', 1)).rejects.toBeInstanceOf(StorageUnavailableError);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(3000);
    await expect(s.increment('loginAttempts', 'addr:x', 1, null)).rejects.toThrow(/SQLite database .*locked\.sqlite is unavailable: database is locked/);
    await expect(s.transaction((tx) => tx.create('session', 'y', 1))).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(await s.find('keys', 'k')).toMatchObject({ value: 1 }); // readers are not blocked (WAL)
    await expect(s.ping()).resolves.toBeUndefined();
  } finally {
    await holder.release();
  }
  expect(await s.transaction((tx) => tx.create('session', 'y', 1))).toBe(true);
  await s.close();
}, 20_000);

test('SQLite error codes: locked, full, failing or read-only is an outage; others are bugs', () => {
  for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR_WRITE', 'SQLITE_READONLY']) {
    expect(isSqliteUnavailable(Object.assign(new Error(code), { code }))).toBe(true);
  }
  for (const code of ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_ERROR', 'SQLITE_MISMATCH', 'SQLITE_BUSYX', undefined]) {
    expect(isSqliteUnavailable(Object.assign(new Error(String(code)), { code }))).toBe(false);
  }
});
