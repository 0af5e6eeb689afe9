/**
 * Start-up against a shared database: several instances creating the schema and the signing key
 * at once (PostgreSQL, and `dexpress serve` processes on one SQLite file), a database newer than
 * the code, a user who may not create tables, a schema of its own, and Dex's `ssl.mode` values
 * against a real PostgreSQL with TLS (a self-signed certificate, turned on by ALTER SYSTEM).
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import type { Strategy } from 'passport';
import { createBroker } from '../../lib/broker.js';
import { ConfigError, StorageUnavailableError } from '../../lib/errors.js';
import { PostgresStorage, parsePostgresConfig, poolConfig } from '../../lib/storage/postgres.js';
import { SqliteStorage } from '../../lib/storage/sqlite.js';
import { connectors } from '../../strategies/index.js';
import { TEST_CLIENT, startBroker } from '../helpers/broker.js';
import { freePort, startPostgres, type Postgres } from '../servers/postgres.js';

let server: Postgres;
let n = 0;
const dir = mkdtempSync(join(tmpdir(), 'dexpress-startup-'));

beforeAll(async () => {
  server = await startPostgres();
  // A self-signed certificate for "localhost" (no IP in it), readable by the server's user only.
  const key = join(server.dir, 'server.key');
  const cert = join(server.dir, 'server.crt');
  const selfSigned = (keyOut: string, certOut: string, cn: string) =>
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyOut, '-out', certOut, '-days', '2', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`], { stdio: 'ignore' });
  selfSigned(key, cert, 'localhost');
  selfSigned(join(dir, 'other.key'), join(dir, 'other.crt'), 'localhost');
  copyFileSync(cert, join(dir, 'ca.crt'));
  const { uid, gid } = statSync(server.dir);
  for (const f of [key, cert]) chownSync(f, uid, gid);
  chmodSync(key, 0o600);
  await server.query(`ALTER SYSTEM SET ssl_cert_file = '${cert}'`);
  await server.query(`ALTER SYSTEM SET ssl_key_file = '${key}'`);
  await server.query('ALTER SYSTEM SET ssl = on');
  await server.query('SELECT pg_reload_conf()');
  await server.query('CREATE ROLE app LOGIN');
}, 120_000);
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function configFor(database: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { host: server.host, port: server.port, database, user: server.user, ssl: { mode: 'disable' }, ...extra };
}

async function freshDatabase(): Promise<string> {
  const name = `startup_${n++}`;
  await server.createDatabase(name);
  // As PostgreSQL 15 does on `public`; spelled out so the test does not depend on the version.
  await server.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC', [], name);
  return name;
}

describe('postgres: several instances starting at once', () => {
  test('four brokers on one empty database: one schema, one signing key, the same /keys everywhere', async () => {
    const database = await freshDatabase();
    const storages = await Promise.all(Array.from({ length: 4 }, () => PostgresStorage.open(configFor(database))));
    const brokers = await Promise.all(storages.map((storage) => startBroker({}, { storage })));
    try {
      const kids = await Promise.all(brokers.map(async (b) => ((await (await fetch(`${b.issuer}/keys`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)));
      expect(new Set(kids.map((k) => k.join()))).toEqual(new Set([kids[0]!.join()]));
      expect(kids[0]).toHaveLength(1);
      expect((await server.query('SELECT version FROM dexpress_schema_version', [], database)).rows).toEqual([{ version: 1 }]);
      expect((await server.query("SELECT count(*)::int AS n FROM dexpress_objects WHERE kind = 'keys' AND id = 'signing'", [], database)).rows).toEqual([{ n: 1 }]);
    } finally {
      await Promise.all(brokers.map((b) => b.close()));
      await Promise.all(storages.map((s) => s.close()));
    }
  }, 60_000);

  test('a database from a newer dexpress is refused and left as it was', async () => {
    const database = await freshDatabase();
    const s = await PostgresStorage.open(configFor(database));
    await s.create('keys', 'kept', 1);
    await s.close();
    await server.query('UPDATE dexpress_schema_version SET version = 7', [], database);
    await expect(PostgresStorage.open(configFor(database))).rejects.toThrow(/schema version 7, newer than this dexpress \(1\)/);
    expect((await server.query('SELECT version FROM dexpress_schema_version', [], database)).rows).toEqual([{ version: 7 }]);
    expect((await server.query('SELECT count(*)::int AS n FROM dexpress_objects', [], database)).rows).toEqual([{ n: 1 }]);
  });
  test('a start-up that fails after the storage opened (a connector config error) closes the connections it opened', async () => {
    const database = await freshDatabase();
    const config = { issuer: 'http://127.0.0.1:5556/dex', storage: { type: 'postgres', config: configFor(database) }, connectors: [] };
    await expect(createBroker(config, { connectors, passportStrategies: { nope: {} as Strategy } })).rejects.toBeInstanceOf(ConfigError);
    const open = async () => (await server.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'dexpress'", [database])).rows[0].n as number;
    // The server notices a closed connection at once; a pool left open keeps it for its 10 s idle timeout.
    for (let i = 0; i < 20 && (await open()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await open()).toBe(0);
  });
});

describe('postgres: users and schemas', () => {
  test('a user without CREATE starts on tables an administrator created beforehand', async () => {
    const database = await freshDatabase();
    await (await PostgresStorage.open(configFor(database))).close();
    await server.query('GRANT SELECT, INSERT, UPDATE, DELETE ON dexpress_objects, dexpress_schema_version TO app', [], database);
    const s = await PostgresStorage.open(configFor(database, { user: 'app' }));
    try {
      expect(await s.create('keys', 'k', 1)).toBe(true);
      expect(await s.consume('keys', 'k')).toBe(1);
    } finally {
      await s.close();
    }
  });

  test('a user without CREATE on an empty database: the error says what to grant', async () => {
    const database = await freshDatabase();
    const err = await PostgresStorage.open(configFor(database, { user: 'app' })).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/cannot create dexpress's tables \(permission denied for schema public\)\. Grant the user CREATE on the schema, or start dexpress once/);
    expect(err).not.toBeInstanceOf(StorageUnavailableError);
  });

  test("a schema of the user's own (search_path): the tables go there, and reopening finds them", async () => {
    const database = await freshDatabase();
    await server.query('CREATE SCHEMA dex AUTHORIZATION app', [], database);
    await server.query(`ALTER ROLE app IN DATABASE ${database} SET search_path = dex`);
    for (let i = 0; i < 2; i++) {
      const s = await PostgresStorage.open(configFor(database, { user: 'app' }));
      await s.upsert('keys', 'k', i);
      await s.close();
    }
    expect((await server.query("SELECT schemaname FROM pg_tables WHERE tablename LIKE 'dexpress%'", [], database)).rows).toEqual([{ schemaname: 'dex' }, { schemaname: 'dex' }]);
    expect((await server.query('SELECT value, version FROM dex.dexpress_objects', [], database)).rows).toEqual([{ value: '1', version: 2 }]);
  });
});

describe('postgres: Dex config keys', () => {
  test('a unix socket directory as host connects without TLS, as lib/pq and libpq do, whatever ssl.mode says', async () => {
    const s = await PostgresStorage.open({ host: server.dir, port: server.port, database: 'postgres', user: 'postgres' });
    await expect(s.ping()).resolves.toBeUndefined();
    await s.close();
    expect(poolConfig(parsePostgresConfig({ host: '/var/run/postgresql', ssl: { mode: 'verify-full', caFile: '/no/such/ca.pem' } })).ssl).toBe(false);
  });

  test("maxOpenConns: 0 is Dex's default (5), not an error", () => {
    expect(poolConfig(parsePostgresConfig({ maxOpenConns: 0 })).max).toBe(5);
    expect(poolConfig(parsePostgresConfig({ maxOpenConns: 12, connMaxLifetime: 30, connectionTimeout: 2 }))).toMatchObject({ max: 12, maxLifetimeSeconds: 30, connectionTimeoutMillis: 2000 });
  });
});

describe('postgres: ssl.mode against a server with a self-signed certificate for "localhost"', () => {
  const ca = () => join(dir, 'ca.crt');
  const other = () => join(dir, 'other.crt');
  const outcome = async (host: string, ssl: Record<string, unknown>) => {
    try {
      const s = await PostgresStorage.open({ host, port: server.port, database: 'postgres', user: 'postgres', connectionTimeout: 3, ...(Object.keys(ssl).length ? { ssl } : {}) });
      const { rows } = await server.query('SELECT bool_or(ssl) AS tls FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE application_name = $1', ['dexpress']);
      await s.close();
      return (rows[0] as { tls: boolean }).tls ? 'tls' : 'plain';
    } catch (err) {
      expect(err).toBeInstanceOf(StorageUnavailableError);
      return (err as Error).message.replace(/^.* is unavailable: (Error( \[\w+\])?: )?/, '').replace(/:.*$/, '');
    }
  };

  test('disable and require: no check; require with a caFile checks the chain (as libpq)', async () => {
    expect(await outcome('127.0.0.1', { mode: 'disable' })).toBe('plain');
    expect(await outcome('127.0.0.1', { mode: 'require' })).toBe('tls');
    expect(await outcome('127.0.0.1', { mode: 'require', caFile: ca() })).toBe('tls');
    expect(await outcome('127.0.0.1', { mode: 'require', caFile: other() })).toMatch(/certificate/);
  }, 30_000);

  test('verify-ca checks the chain, not the name; verify-full (the default) checks both', async () => {
    expect(await outcome('127.0.0.1', { mode: 'verify-ca' })).toBe('self-signed certificate');
    expect(await outcome('127.0.0.1', { mode: 'verify-ca', caFile: ca() })).toBe('tls');
    expect(await outcome('127.0.0.1', { mode: 'verify-full', caFile: ca() })).toMatch(/^Hostname\/IP does not match certificate's altnames/);
    expect(await outcome('localhost', { mode: 'verify-full', caFile: ca() })).toBe('tls');
    expect(await outcome('localhost', { caFile: ca() })).toBe('tls');
    expect(await outcome('localhost', { caFile: other() })).toMatch(/certificate/);
    expect(await outcome('localhost', {})).toMatch(/certificate/);
  }, 30_000);
});

describe('sqlite3: several dexpress serve processes on one new file', () => {
  /** `dexpress serve` on `file`, resolving to its issuer once it listens. */
  async function serveOn(file: string): Promise<{ issuer: string; stop(): Promise<void> }> {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}/dex`;
    const configFile = join(dir, `serve-${port}.yaml`);
    const config = {
      issuer,
      storage: { type: 'sqlite3', config: { file } },
      web: { http: `127.0.0.1:${port}` },
      logger: { level: 'error' },
      staticClients: [{ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], name: 'Test' }],
      connectors: [{ type: 'mockCallback', id: 'mock', name: 'Mock' }],
    };
    writeFileSync(configFile, stringify(config));
    const child = spawn(process.execPath, [join(process.cwd(), 'bin', 'dexpress.js'), 'serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dexpress serve did not start: ${output}`)), 45_000);
      const read = (d: Buffer) => {
        output += d.toString();
        if (output.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', read);
      child.stderr!.on('data', read);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`dexpress serve exited: ${output}`));
      });
    });
    return {
      issuer,
      stop: async () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        await exited;
      },
    };
  }

  test('three at once: all start, one schema, one signing key served by all', async () => {
    const file = join(dir, 'shared.sqlite');
    const started = await Promise.allSettled(Array.from({ length: 3 }, () => serveOn(file)));
    const running = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      expect(started.filter((r) => r.status === 'rejected')).toEqual([]);
      const kids = await Promise.all(running.map(async (r) => ((await (await fetch(`${r.issuer}/keys`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).join()));
      expect(new Set(kids).size).toBe(1);
    } finally {
      await Promise.all(running.map((r) => r.stop()));
    }
  }, 90_000);
});

describe('sqlite3: opening a file another process is writing', () => {
  /** Another process holding SQLite's write lock on `file` for `ms` (a peer migrating a large file). */
  async function holdWriteLockFor(file: string, ms: number) {
    const script = `const db = new (require('better-sqlite3'))(${JSON.stringify(file)}); db.exec('BEGIN IMMEDIATE'); console.log('holding'); setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${ms});`;
    const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout!, 'data');
    return { done: once(child, 'exit') };
  }

  test('waits for the lock at start-up instead of failing after the 1 s a request waits', async () => {
    const file = join(dir, 'busy-at-start.sqlite');
    await new SqliteStorage(file).close();
    const holder = await holdWriteLockFor(file, 2500);
    const started = Date.now();
    const s = new SqliteStorage(file);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    await holder.done;
    // Once open, a request waits 1 s as before.
    const again = await holdWriteLockFor(file, 2000);
    const before = Date.now();
    await expect(s.create('keys', 'k', 1)).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(Date.now() - before).toBeLessThan(3000);
    await again.done;
    await s.close();
  }, 30_000);

  test('a file that is not a SQLite database is a config error naming the key and the file', () => {
    const file = join(dir, 'not-sqlite.txt');
    writeFileSync(file, 'issuer: http://127.0.0.1:5556/dex\n'.repeat(20));
    let err: unknown;
    try {
      new SqliteStorage(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([{ path: 'storage.config.file', message: `${file} is not a SQLite database` }]);
  });
});
