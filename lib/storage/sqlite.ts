/**
 * SQLite storage on better-sqlite3 (the embedded default). One table of JSON records keyed by
 * (kind, id); WAL mode so readers never wait for the writer. better-sqlite3 is synchronous and
 * each statement is atomic, which gives `consume` and `update` their guarantees within one
 * process; several processes on one file are serialised by SQLite's own locking. Transactions
 * are SQLite transactions, with a gate that keeps this process's other operations out of them.
 */
import Database from 'better-sqlite3';
import { ConfigError, StorageUnavailableError } from '../errors.js';
import { InProcessStorage } from './in-process.js';
import { expiryMs } from './records.js';
import type { Clock, Kind, StoredRecord, WriteOptions } from './types.js';

/**
 * 1: a WITHOUT ROWID table keyed by (kind, id). 2: an ordinary rowid table with a unique (kind,
 * id) index. Records are around a kilobyte of JSON, more than a WITHOUT ROWID page keeps in
 * place (about 1,000 bytes at 4 KiB pages), so every record spilled to an overflow page: three
 * times the file size, and about twice the pages written per transaction (measured: the code
 * exchange's transaction 117 → 63 µs of CPU, a refresh's read and update 60 → 19 µs).
 */
const SCHEMA_VERSION = 2;

const CREATE_OBJECTS = `
  CREATE TABLE objects (
    kind TEXT NOT NULL, id TEXT NOT NULL, value TEXT NOT NULL, version INTEGER NOT NULL,
    expires_at INTEGER, owner TEXT, UNIQUE (kind, id)
  );
  CREATE INDEX objects_owner ON objects (kind, owner) WHERE owner IS NOT NULL;
  CREATE INDEX objects_expiry ON objects (expires_at) WHERE expires_at IS NOT NULL;
`;

/** No live integer counter in the conflicting row (expired, or not an integer). */
const SQLITE_NO_COUNTER = `((objects.expires_at IS NOT NULL AND objects.expires_at <= @now) OR json_type(objects.value) IS NOT 'integer')`;

/**
 * SQLite's answers that mean "the database cannot be used right now" rather than a bug: another
 * process holds the write lock past the busy timeout (BUSY, LOCKED), the disk is full or failing
 * (FULL, IOERR), the file cannot be written (READONLY). Extended codes (SQLITE_BUSY_SNAPSHOT,
 * SQLITE_IOERR_WRITE...) included.
 */
export function isSqliteUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY)(_|$)/.test(code);
}

/**
 * How long a statement waits for another process's write lock before failing with SQLITE_BUSY
 * (a 503). better-sqlite3 is synchronous: the whole event loop waits with it, so it is short.
 */
const BUSY_TIMEOUT_MS = 1000;
/**
 * The same wait while opening the file: another process starting at the same moment may hold the
 * write lock for as long as its migration takes (seconds on a large file), and nothing is served
 * yet, so waiting blocks no request.
 */
const OPEN_BUSY_TIMEOUT_MS = 30_000;

interface Increment {
  kind: string;
  id: string;
  by: number;
  expiresAt: number | null;
  now: number;
}

interface Row {
  value: string;
  version: number;
  expires_at: number | null;
}

export class SqliteStorage extends InProcessStorage {
  readonly type = 'sqlite3';
  private readonly db: Database.Database;
  private readonly now: Clock;
  private readonly stmts;
  private readonly file: string;

  constructor(file: string, now: Clock = Date.now) {
    super();
    this.now = now;
    try {
      this.db = new Database(file);
    } catch (err) {
      throw new StorageUnavailableError(`cannot open SQLite database ${file}: ${(err as Error).message}`, { cause: err });
    }
    this.file = file;
    try {
      this.db.pragma(`busy_timeout = ${OPEN_BUSY_TIMEOUT_MS}`);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.migrate();
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    } catch (err) {
      this.db.close();
      if ((err as { code?: unknown }).code === 'SQLITE_NOTADB') {
        throw new ConfigError([{ path: 'storage.config.file', message: `${file} is not a SQLite database` }]);
      }
      if (/^SQLITE_READONLY/.test(String((err as { code?: unknown }).code))) {
        throw new StorageUnavailableError(`cannot write SQLite database ${file} (this process needs write access to the file and to its directory, for the -wal and -shm files)`, { cause: err });
      }
      this.fail(err);
    }
    const db = this.db;
    this.stmts = {
      find: db.prepare<[string, string, number], Row>(
        'SELECT value, version, expires_at FROM objects WHERE kind = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)',
      ),
      // Inserts, or replaces an expired row; a live row stays and nothing is written (one statement).
      insert: db.prepare<[string, string, string, number | null, string | null, number]>(
        `INSERT INTO objects (kind, id, value, version, expires_at, owner) VALUES (?, ?, ?, 1, ?, ?)
         ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, version = 1, expires_at = excluded.expires_at, owner = excluded.owner
         WHERE objects.expires_at IS NOT NULL AND objects.expires_at <= ?`,
      ),
      // Replaces a live row (next version, owner kept unless given); an expired one starts afresh.
      upsert: db.prepare<[string, string, string, number | null, string | null, number, number]>(
        `INSERT INTO objects (kind, id, value, version, expires_at, owner) VALUES (?, ?, ?, 1, ?, ?)
         ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value,
           version = CASE WHEN objects.expires_at IS NOT NULL AND objects.expires_at <= ? THEN 1 ELSE objects.version + 1 END,
           expires_at = excluded.expires_at,
           owner = CASE WHEN objects.expires_at IS NOT NULL AND objects.expires_at <= ? THEN excluded.owner ELSE COALESCE(excluded.owner, objects.owner) END`,
      ),
      update: db.prepare<[string, number | null, number | null, string | null, string, string, number, number]>(
        `UPDATE objects SET value = ?, expires_at = CASE WHEN ? = 1 THEN expires_at ELSE ? END, version = version + 1,
           owner = COALESCE(?, owner)
         WHERE kind = ? AND id = ? AND version = ? AND (expires_at IS NULL OR expires_at > ?)`,
      ),
      // The same for the common case, expiry and owner kept: a statement that does not assign
      // them leaves their indexes alone, where assigning even the same value rewrites the index
      // entry (one page more per write: the code exchange's COMMIT 25 → 19 µs, bench/).
      updateValue: db.prepare<[string, string, string, number, number]>(
        'UPDATE objects SET value = ?, version = version + 1 WHERE kind = ? AND id = ? AND version = ? AND (expires_at IS NULL OR expires_at > ?)',
      ),
      consume: db.prepare<[string, string, number], { value: string }>(
        'DELETE FROM objects WHERE kind = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?) RETURNING value',
      ),
      destroy: db.prepare<[string, string]>('DELETE FROM objects WHERE kind = ? AND id = ?'),
      // A positive increment, one statement (better-sqlite3 binds a number as REAL: hence the CASTs): adds to a live integer counter (keeping its expiry), or
      // (re)starts the counter when there is none, it expired, or the record is not a counter.
      incrementUp: db.prepare<[Increment], { value: string }>(
        `INSERT INTO objects (kind, id, value, version, expires_at, owner) VALUES (@kind, @id, CAST(@by AS INTEGER), 1, @expiresAt, NULL)
         ON CONFLICT (kind, id) DO UPDATE SET
           value = CASE WHEN ${SQLITE_NO_COUNTER} THEN excluded.value ELSE CAST(objects.value AS INTEGER) + CAST(@by AS INTEGER) END,
           version = CASE WHEN ${SQLITE_NO_COUNTER} THEN 1 ELSE objects.version + 1 END,
           expires_at = CASE WHEN ${SQLITE_NO_COUNTER} THEN excluded.expires_at ELSE objects.expires_at END,
           owner = CASE WHEN ${SQLITE_NO_COUNTER} THEN NULL ELSE objects.owner END
         RETURNING value`,
      ),
      // A negative one lowers a live counter, never below 0, and creates nothing.
      incrementDown: db.prepare<[Increment], { value: string }>(
        `UPDATE objects SET value = MAX(0, CAST(value AS INTEGER) + CAST(@by AS INTEGER)), version = version + 1
         WHERE kind = @kind AND id = @id AND (expires_at IS NULL OR expires_at > @now) AND json_type(value) = 'integer'
         RETURNING value`,
      ),
      destroyByOwner: db.prepare<[string, string]>('DELETE FROM objects WHERE kind = ? AND owner = ?'),
      count: db.prepare<[string, number], { n: number }>(
        'SELECT COUNT(*) AS n FROM objects WHERE kind = ? AND (expires_at IS NULL OR expires_at > ?)',
      ),
      gc: db.prepare<[number]>('DELETE FROM objects WHERE expires_at IS NOT NULL AND expires_at <= ?'),
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
    };
  }

  /** Rethrows `err`, as StorageUnavailableError (a 503) when SQLite is locked, full or failing. */
  private fail(err: unknown): never {
    if (isSqliteUnavailable(err)) {
      throw new StorageUnavailableError(`SQLite database ${this.file} is unavailable: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }

  /** Runs one statement (or a few), its errors classified. */
  private run<R>(fn: () => R): R {
    try {
      return fn();
    } catch (err) {
      this.fail(err);
    }
  }

  private migrate(): void {
    // One IMMEDIATE transaction: processes starting together on one file migrate one after the
    // other (the second finds the work done), and a crash midway leaves the old schema as it was.
    this.db.transaction(() => {
      this.db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
      const row = this.db.prepare<[], { version: number }>('SELECT version FROM schema_version').get();
      const current = row?.version ?? 0;
      if (current > SCHEMA_VERSION) {
        throw new StorageUnavailableError(`the SQLite database has schema version ${current}, newer than this dexpress (${SCHEMA_VERSION})`);
      }
      if (current === SCHEMA_VERSION) {
        // A write even when there is nothing to migrate: a file this process may read but not
        // write (another owner, a read-only mount) opens without complaint, and would otherwise
        // pass the health check and fail every login with a 503. It fails here, at start-up.
        this.db.prepare('UPDATE schema_version SET version = version').run();
        return;
      }
      if (current === 1) {
        this.db.exec(`
          DROP INDEX objects_owner;
          DROP INDEX objects_expiry;
          ALTER TABLE objects RENAME TO objects_v1;
          ${CREATE_OBJECTS}
          INSERT INTO objects (kind, id, value, version, expires_at, owner)
            SELECT kind, id, value, version, expires_at, owner FROM objects_v1;
          DROP TABLE objects_v1;
        `);
      } else {
        this.db.exec(CREATE_OBJECTS);
      }
      this.db.prepare('DELETE FROM schema_version').run();
      this.db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SCHEMA_VERSION);
    }).immediate();
  }

  protected override doCreate<T>(kind: Kind, id: string, value: T, options: WriteOptions = {}): boolean {
    return this.run(() => {
      return this.stmts.insert.run(kind, id, JSON.stringify(value), expiryMs(options.expiresAt), options.owner ?? null, this.now()).changes === 1;
    });
  }

  protected override doFind<T>(kind: Kind, id: string): StoredRecord<T> | undefined {
    return this.run(() => {
      const row = this.stmts.find.get(kind, id, this.now());
      return row && { value: JSON.parse(row.value) as T, version: row.version, expiresAt: row.expires_at };
    });
  }

  protected override doUpsert<T>(kind: Kind, id: string, value: T, options: WriteOptions = {}): void {
    return this.run(() => {
      const now = this.now();
      this.stmts.upsert.run(kind, id, JSON.stringify(value), expiryMs(options.expiresAt), options.owner ?? null, now, now);
    });
  }

  protected override doUpdate<T>(kind: Kind, id: string, version: number, value: T, options: WriteOptions = {}): boolean {
    return this.run(() => {
      if (options.expiresAt === undefined && options.owner === undefined) {
        return this.stmts.updateValue.run(JSON.stringify(value), kind, id, version, this.now()).changes === 1;
      }
      const keep = options.expiresAt === undefined ? 1 : null;
      return this.stmts.update.run(JSON.stringify(value), keep, expiryMs(options.expiresAt), options.owner ?? null, kind, id, version, this.now()).changes === 1;
    });
  }

  protected override doConsume<T>(kind: Kind, id: string): T | undefined {
    return this.run(() => {
      const row = this.stmts.consume.get(kind, id, this.now());
      return row && (JSON.parse(row.value) as T);
    });
  }

  protected override doDestroy(kind: Kind, id: string): boolean {
    return this.run(() => {
      return this.stmts.destroy.run(kind, id).changes > 0;
    });
  }

  protected override doIncrement(kind: Kind, id: string, by: number, expiresAt: number | null): number {
    return this.run(() => {
      const params: Increment = { kind, id, by, expiresAt: expiryMs(expiresAt), now: this.now() };
      const row = (by > 0 ? this.stmts.incrementUp : this.stmts.incrementDown).get(params);
      return row ? Number(row.value) : 0;
    });
  }

  protected override doDestroyByOwner(kind: Kind, owner: string): number {
    return this.run(() => {
      return this.stmts.destroyByOwner.run(kind, owner).changes;
    });
  }

  protected override doCount(kind: Kind): number {
    return this.run(() => {
      return this.stmts.count.get(kind, this.now())?.n ?? 0;
    });
  }

  protected override doGc(): number {
    return this.run(() => {
      return this.stmts.gc.run(this.now()).changes;
    });
  }

  /**
   * `BEGIN IMMEDIATE` takes SQLite's write lock at once (other processes wait up to the busy
   * timeout, then get a StorageUnavailableError); the gate keeps this process's other requests out until COMMIT or ROLLBACK.
   */
  protected override async atomically<T>(fn: () => Promise<T>): Promise<T> {
    this.run(() => this.stmts.begin.run());
    try {
      const result = await fn();
      this.run(() => this.stmts.commit.run());
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.run(() => this.stmts.rollback.run());
      throw err;
    }
  }

  override async ping(): Promise<void> {
    this.run(() => this.db.prepare('SELECT 1').get());
  }

  override async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
