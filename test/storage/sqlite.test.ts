import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from '@jest/globals';
import { SqliteStorage } from '../../lib/storage/sqlite.js';
import { describeStorage } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'dexpress-sqlite-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStorage('sqlite3', async (now) => new SqliteStorage(join(dir, `db-${n++}.sqlite`), now));

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
