/**
 * PostgreSQL storage, for several broker instances sharing one database. The same one table of
 * JSON records as SQLite, keyed by (kind, id), each guarantee of `types.ts` given by a single
 * statement: `consume` is `DELETE ... RETURNING`, `update` an `UPDATE ... WHERE version = $n`,
 * `create` an `INSERT ... ON CONFLICT` that only replaces an expired row. Transactions run on
 * one pooled connection between BEGIN and COMMIT.
 *
 * The schema is created or migrated at start-up under an advisory lock, so instances starting
 * together do not trip over each other. Any failure to reach the server (refused, reset, timed
 * out, shutting down) is a `StorageUnavailableError`, which the broker answers with 503
 * `temporarily_unavailable`; the pool replaces broken connections, so the broker recovers by
 * itself when the server is back.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { zodIssues } from '../config/issues.js';
import { postgresConfigSchema, type PostgresConfig } from '../config/schema.js';
import { ConfigError, StorageUnavailableError, errorMessage } from '../errors.js';
import { expiryMs, withKeyRule } from './records.js';
import type { Clock, Kind, Storage, StorageOps, StoredRecord, WriteOptions } from './types.js';

const SCHEMA_VERSION = 1;
/** Key of the advisory lock held while migrating (any constant; "dexp" in ASCII). */
const MIGRATION_LOCK = 0x64657870;

export { postgresConfigSchema, type PostgresConfig };

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/** A query that gets no answer in this time fails (the server or the network hangs). */
const QUERY_TIMEOUT_MS = 10_000;

/** The problems of a `storage.config` for PostgreSQL, by dotted path, for `check-config`. */
export function postgresConfigIssues(config: unknown): { path: string; message: string }[] {
  const r = postgresConfigSchema.safeParse(config ?? {});
  return r.success ? [] : zodIssues(r.error, 'storage.config');
}

/** Validates `storage.config`; errors name their dotted path (`storage.config.ssl.mode`). */
export function parsePostgresConfig(config: unknown): PostgresConfig {
  const r = postgresConfigSchema.safeParse(config ?? {});
  if (!r.success) throw new ConfigError(postgresConfigIssues(config));
  return r.data;
}

function readPem(file: string, path: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path, message: `cannot read ${file}: ${errorMessage(err)}` }]);
  }
}

/** libpq's sslmode as Node TLS options. */
function tlsOptions(ssl: PostgresConfig['ssl']): false | ConnectionOptions {
  const mode = ssl?.mode ?? 'verify-full';
  if (mode === 'disable') return false;
  const out: ConnectionOptions = {};
  if (ssl?.caFile) out.ca = readPem(ssl.caFile, 'storage.config.ssl.caFile');
  if (ssl?.certFile) out.cert = readPem(ssl.certFile, 'storage.config.ssl.certFile');
  if (ssl?.keyFile) out.key = readPem(ssl.keyFile, 'storage.config.ssl.keyFile');
  // As libpq: `require` checks nothing unless a CA is given, then it checks like verify-ca.
  if (mode === 'require' && !ssl?.caFile) return { ...out, rejectUnauthorized: false };
  if (mode === 'verify-full') return { ...out, rejectUnauthorized: true };
  return { ...out, rejectUnauthorized: true, checkServerIdentity: () => undefined };
}

export function poolConfig(config: PostgresConfig, queryTimeoutMs = QUERY_TIMEOUT_MS): pg.PoolConfig {
  let host = config.host || 'localhost';
  let hostPort: number | undefined;
  const m = /^\[(.+)\]:(\d+)$/.exec(host) ?? /^([^:]+):(\d+)$/.exec(host);
  if (m) {
    host = m[1]!;
    hostPort = Number(m[2]);
  }
  return {
    host,
    port: config.port ?? hostPort ?? 5432,
    ...(config.database ? { database: config.database } : {}),
    ...(config.user ? { user: config.user } : {}),
    ...(config.password ? { password: config.password } : {}),
    // As libpq and Dex's lib/pq: no TLS over a unix socket (the server offers none there).
    ssl: host.startsWith('/') ? false : tlsOptions(config.ssl),
    // Dex's 0 means its default, 5.
    max: config.maxOpenConns || 5,
    idleTimeoutMillis: 10_000,
    ...(config.connMaxLifetime ? { maxLifetimeSeconds: config.connMaxLifetime } : {}),
    connectionTimeoutMillis: config.connectionTimeout ? config.connectionTimeout * 1000 : DEFAULT_CONNECT_TIMEOUT_MS,
    query_timeout: queryTimeoutMs,
    keepAlive: true,
    application_name: 'dexpress',
  };
}

/**
 * Whether an error means "the database cannot be used right now" rather than a bug: anything
 * without a SQLSTATE (refused, reset, timeouts, connection terminated) and the SQLSTATE classes
 * of connection trouble, resource exhaustion, shutdown and system errors, a missing database and
 * refused credentials.
 */
export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return /^(08|28|53|57|58)/.test(code) || code === '3D000';
}

interface Row {
  value: string;
  version: number;
  expires_at: number | null;
}

type Queryable = pg.Pool | pg.PoolClient;

/** No live integer counter in the conflicting row (expired, or not an integer). */
const PG_NO_COUNTER = `((o.expires_at IS NOT NULL AND o.expires_at <= $5) OR o.value !~ '^-?[0-9]{1,15}$')`;

const SQL = {
  find: `SELECT value, version, expires_at::float8 AS expires_at FROM dexpress_objects
         WHERE kind = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > $3)`,
  // Inserts, or replaces an expired row; a live row stays and nothing is written.
  create: `INSERT INTO dexpress_objects AS o (kind, id, value, version, expires_at, owner) VALUES ($1, $2, $3, 1, $4, $5)
           ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, version = 1, expires_at = excluded.expires_at, owner = excluded.owner
           WHERE o.expires_at IS NOT NULL AND o.expires_at <= $6`,
  // Replaces a live row (next version, owner kept unless given); an expired one starts afresh.
  upsert: `INSERT INTO dexpress_objects AS o (kind, id, value, version, expires_at, owner) VALUES ($1, $2, $3, 1, $4, $5)
           ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value,
             version = CASE WHEN o.expires_at IS NOT NULL AND o.expires_at <= $6 THEN 1 ELSE o.version + 1 END,
             expires_at = excluded.expires_at,
             owner = CASE WHEN o.expires_at IS NOT NULL AND o.expires_at <= $6 THEN excluded.owner ELSE COALESCE(excluded.owner, o.owner) END`,
  update: `UPDATE dexpress_objects SET value = $1, expires_at = CASE WHEN $2::boolean THEN expires_at ELSE $3::bigint END,
             version = version + 1, owner = COALESCE($4, owner)
           WHERE kind = $5 AND id = $6 AND version = $7 AND (expires_at IS NULL OR expires_at > $8)`,
  consume: `DELETE FROM dexpress_objects WHERE kind = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > $3) RETURNING value`,
  destroy: `DELETE FROM dexpress_objects WHERE kind = $1 AND id = $2`,
  // A positive increment, one statement: adds to a live integer counter (keeping its expiry), or
  // (re)starts the counter when there is none, it expired, or the record is not a counter.
  incrementUp: `INSERT INTO dexpress_objects AS o (kind, id, value, version, expires_at, owner) VALUES ($1, $2, $3::bigint::text, 1, $4, NULL)
           ON CONFLICT (kind, id) DO UPDATE SET
             value = CASE WHEN ${PG_NO_COUNTER} THEN excluded.value ELSE (o.value::bigint + $3::bigint)::text END,
             version = CASE WHEN ${PG_NO_COUNTER} THEN 1 ELSE o.version + 1 END,
             expires_at = CASE WHEN ${PG_NO_COUNTER} THEN excluded.expires_at ELSE o.expires_at END,
             owner = CASE WHEN ${PG_NO_COUNTER} THEN NULL ELSE o.owner END
           RETURNING value`,
  // A negative one lowers a live counter, never below 0, and creates nothing.
  incrementDown: `UPDATE dexpress_objects SET value = GREATEST(0, value::bigint + $3::bigint)::text, version = version + 1
           WHERE kind = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > $4) AND value ~ '^-?[0-9]{1,15}$'
           RETURNING value`,
  destroyByOwner: `DELETE FROM dexpress_objects WHERE kind = $1 AND owner = $2`,
  count: `SELECT COUNT(*)::int AS n FROM dexpress_objects WHERE kind = $1 AND (expires_at IS NULL OR expires_at > $2)`,
  gc: `DELETE FROM dexpress_objects WHERE expires_at IS NOT NULL AND expires_at <= $1`,
} as const;

export class PostgresStorage implements Storage {
  readonly type = 'postgres';
  private readonly ops: StorageOps;
  private closed = false;
  /** Connections whose ROLLBACK failed: released with an error so the pool destroys them. */
  private readonly broken = new WeakSet<pg.PoolClient>();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly where: string,
    private readonly now: Clock,
  ) {
    this.ops = withKeyRule(this.opsOn(pool));
  }

  /** Connects, creates or migrates the schema, and returns the storage. */
  /** `queryTimeoutMs` (default 10 s) is for tests; it is not a config key. */
  static async open(config: unknown, now: Clock = Date.now, queryTimeoutMs = QUERY_TIMEOUT_MS): Promise<PostgresStorage> {
    const parsed = parsePostgresConfig(config);
    const poolCfg = poolConfig(parsed, queryTimeoutMs);
    const pool = new pg.Pool(poolCfg);
    // An idle connection the server dropped: the pool discards it; the next query reports.
    pool.on('error', () => {});
    const storage = new PostgresStorage(pool, `${poolCfg.host}:${poolCfg.port}/${poolCfg.database ?? poolCfg.user ?? ''}`, now);
    try {
      await storage.migrate();
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    return storage;
  }

  private fail(err: unknown): never {
    if (isUnavailable(err)) {
      throw new StorageUnavailableError(`PostgreSQL at ${this.where} is unavailable: ${errorMessage(err)}`, { cause: err });
    }
    throw err;
  }

  private async run<R extends pg.QueryResultRow>(db: Queryable, name: keyof typeof SQL, values: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      // Named: prepared once per connection, then only bound and executed.
      return await db.query<R>({ name: `dexpress_${name}`, text: SQL[name], values });
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Creates the tables when the database has none, under an advisory lock so that instances
   * starting together create them once. Tables that exist are only read: a user without CREATE on
   * the schema starts on tables an administrator created (`CREATE TABLE IF NOT EXISTS` checks
   * that right even when the table exists).
   */
  private async migrate(): Promise<void> {
    await this.withClient(async (client) => {
      await this.sql(client, 'BEGIN');
      try {
        await this.sql(client, 'SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        const { rows: found } = await this.sql(client, "SELECT to_regclass('dexpress_schema_version') IS NOT NULL AS present");
        const present = (found[0] as { present: boolean } | undefined)?.present === true;
        let current = 0;
        if (present) {
          const { rows } = await this.sql(client, 'SELECT max(version) AS version FROM dexpress_schema_version');
          current = Number((rows[0] as { version: number | null } | undefined)?.version ?? 0);
        }
        if (current > SCHEMA_VERSION) {
          throw new StorageUnavailableError(`the PostgreSQL database has dexpress schema version ${current}, newer than this dexpress (${SCHEMA_VERSION})`);
        }
        if (current < 1) await this.createSchema(client);
        await this.sql(client, 'COMMIT');
      } catch (err) {
        await this.rollback(client);
        throw err;
      }
    });
  }

  private async createSchema(client: pg.PoolClient): Promise<void> {
    try {
      await client.query(`
        CREATE TABLE IF NOT EXISTS dexpress_schema_version (version integer NOT NULL);
        CREATE TABLE dexpress_objects (
          kind text NOT NULL, id text NOT NULL, value text NOT NULL, version integer NOT NULL,
          expires_at bigint, owner text, PRIMARY KEY (kind, id)
        );
        CREATE INDEX dexpress_objects_owner ON dexpress_objects (kind, owner) WHERE owner IS NOT NULL;
        CREATE INDEX dexpress_objects_expiry ON dexpress_objects (expires_at) WHERE expires_at IS NOT NULL;
      `);
    } catch (err) {
      if ((err as { code?: unknown }).code === '42501') {
        throw new Error(
          `PostgreSQL at ${this.where}: cannot create dexpress's tables (${errorMessage(err)}). ` +
            'Grant the user CREATE on the schema, or start dexpress once as a user that has it and grant this one SELECT, INSERT, UPDATE and DELETE on dexpress_objects and dexpress_schema_version',
          { cause: err },
        );
      }
      this.fail(err);
    }
    await this.sql(client, 'DELETE FROM dexpress_schema_version');
    await this.sql(client, 'INSERT INTO dexpress_schema_version (version) VALUES ($1)', [SCHEMA_VERSION]);
  }

  /** Rolls back; a connection that cannot even do that is marked so it is destroyed, not pooled again. */
  private async rollback(client: pg.PoolClient): Promise<void> {
    await client.query('ROLLBACK').catch(() => this.broken.add(client));
  }

  /**
   * Runs `fn` on one pooled connection; a connection that failed is destroyed, not reused. While
   * checked out, the connection's own `error` event (the server ending it between two statements
   * of a transaction: a restart, a failover) is ours to handle: pg's pool listens only to idle
   * connections, and an `error` event nobody listens to is thrown, uncaught, ending the process.
   * The transaction's next statement then fails as an outage.
   */
  private async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      this.fail(err);
    }
    const lost = () => this.broken.add(client);
    client.on('error', lost);
    try {
      const result = await fn(client);
      client.off('error', lost);
      client.release(this.broken.has(client) || undefined);
      return result;
    } catch (err) {
      client.off('error', lost);
      const destroy = err instanceof StorageUnavailableError || this.broken.has(client);
      client.release(destroy ? (err instanceof Error ? err : true) : undefined);
      throw err;
    }
  }

  /** One unnamed statement (transaction control, migration), its errors classified. */
  private async sql(client: pg.PoolClient, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
    try {
      return await client.query(text, values);
    } catch (err) {
      this.fail(err);
    }
  }

  private opsOn(db: Queryable): StorageOps {
    return {
      create: async (kind, id, value, options = {}) => {
        const now = this.now();
        const r = await this.run(db, 'create', [kind, id, JSON.stringify(value), expiryMs(options.expiresAt), options.owner ?? null, now]);
        return r.rowCount === 1;
      },
      find: async <T>(kind: Kind, id: string): Promise<StoredRecord<T> | undefined> => {
        const { rows } = await this.run<Row>(db, 'find', [kind, id, this.now()]);
        const row = rows[0];
        return row && { value: JSON.parse(row.value) as T, version: row.version, expiresAt: row.expires_at };
      },
      upsert: async (kind, id, value, options = {}) => {
        await this.run(db, 'upsert', [kind, id, JSON.stringify(value), expiryMs(options.expiresAt), options.owner ?? null, this.now()]);
      },
      update: async (kind, id, version, value, options = {}) => {
        const keep = options.expiresAt === undefined;
        const r = await this.run(db, 'update', [JSON.stringify(value), keep, expiryMs(options.expiresAt), options.owner ?? null, kind, id, version, this.now()]);
        return r.rowCount === 1;
      },
      consume: async <T>(kind: Kind, id: string): Promise<T | undefined> => {
        const { rows } = await this.run<{ value: string }>(db, 'consume', [kind, id, this.now()]);
        return rows[0] && (JSON.parse(rows[0].value) as T);
      },
      destroy: async (kind, id) => ((await this.run(db, 'destroy', [kind, id])).rowCount ?? 0) > 0,
      increment: async (kind, id, by, expiresAt) => {
        const { rows } =
          by > 0
            ? await this.run<{ value: string }>(db, 'incrementUp', [kind, id, by, expiryMs(expiresAt), this.now()])
            : await this.run<{ value: string }>(db, 'incrementDown', [kind, id, by, this.now()]);
        return rows[0] ? Number(rows[0].value) : 0;
      },
      destroyByOwner: async (kind, owner) => (await this.run(db, 'destroyByOwner', [kind, owner])).rowCount ?? 0,
      count: async (kind) => (await this.run<{ n: number }>(db, 'count', [kind, this.now()])).rows[0]?.n ?? 0,
    };
  }

  create<T>(kind: Kind, id: string, value: T, options?: WriteOptions): Promise<boolean> {
    return this.ops.create(kind, id, value, options);
  }
  find<T>(kind: Kind, id: string): Promise<StoredRecord<T> | undefined> {
    return this.ops.find<T>(kind, id);
  }
  upsert<T>(kind: Kind, id: string, value: T, options?: WriteOptions): Promise<void> {
    return this.ops.upsert(kind, id, value, options);
  }
  update<T>(kind: Kind, id: string, version: number, value: T, options?: WriteOptions): Promise<boolean> {
    return this.ops.update(kind, id, version, value, options);
  }
  consume<T>(kind: Kind, id: string): Promise<T | undefined> {
    return this.ops.consume<T>(kind, id);
  }
  destroy(kind: Kind, id: string): Promise<boolean> {
    return this.ops.destroy(kind, id);
  }
  increment(kind: Kind, id: string, by: number, expiresAt: number | null): Promise<number> {
    return this.ops.increment(kind, id, by, expiresAt);
  }
  destroyByOwner(kind: Kind, owner: string): Promise<number> {
    return this.ops.destroyByOwner(kind, owner);
  }
  count(kind: Kind): Promise<number> {
    return this.ops.count(kind);
  }

  async transaction<T>(fn: (tx: StorageOps) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await this.sql(client, 'BEGIN');
      try {
        const result = await fn(withKeyRule(this.opsOn(client)));
        await this.sql(client, 'COMMIT');
        return result;
      } catch (err) {
        // After an outage the connection is destroyed, which ends the transaction on the server:
        // a ROLLBACK would only wait, behind a statement that timed out, for a timeout of its own.
        if (!(err instanceof StorageUnavailableError)) await this.rollback(client);
        throw err;
      }
    });
  }

  async gc(): Promise<number> {
    return (await this.run(this.pool, 'gc', [this.now()])).rowCount ?? 0;
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
    } catch (err) {
      this.fail(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
