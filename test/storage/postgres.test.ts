/**
 * The shared storage suite on a throwaway PostgreSQL (one server for this file, a fresh database
 * per `open()`), plus what only PostgreSQL has: config validation, concurrent start-ups, and the
 * server going away and coming back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { ConfigError, StorageUnavailableError } from '../../lib/errors.js';
import { describeStorage } from '../../lib/storage/conformance.js';
import { openStorage } from '../../lib/storage/index.js';
import { PostgresStorage, isUnavailable, parsePostgresConfig, poolConfig, postgresConfigIssues } from '../../lib/storage/postgres.js';
import { startBroker } from '../helpers/broker.js';
import { basicAuth, getPage, postForm } from '../helpers/http.js';
import { startPostgres, type Postgres } from '../servers/postgres.js';

let server: Postgres;
let n = 0;
beforeAll(async () => {
  server = await startPostgres();
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

function configFor(database: string): Record<string, unknown> {
  return { host: server.host, port: server.port, database, user: server.user, ssl: { mode: 'disable' } };
}

async function freshDatabase(): Promise<string> {
  const name = `conformance_${n++}`;
  await server.createDatabase(name);
  return name;
}

describeStorage('postgres', async (now) => PostgresStorage.open(configFor(await freshDatabase()), now), { describe, test, afterEach }, {
  // The server shut down (connections refused), then started again on its port with its data.
  outage: async () => {
    await server.halt();
    return () => server.resume();
  },
  outageInTransaction: true,
});

describe('postgres config', () => {
  test('Dex keys are accepted, unknown keys and bad values name their dotted path', () => {
    expect(parsePostgresConfig({ host: 'db', port: 5433, database: 'dex', user: 'dex', password: 'p', connectionTimeout: 3, maxOpenConns: 10, maxIdleConns: 2, connMaxLifetime: 60, ssl: { mode: 'verify-ca', caFile: '/ca.pem' } })).toMatchObject({ host: 'db', port: 5433 });
    const issues = (config: unknown) => {
      try {
        parsePostgresConfig(config);
      } catch (err) {
        return (err as ConfigError).issues;
      }
      throw new Error('accepted');
    };
    expect(issues({ hostname: 'db' })).toEqual([{ path: 'storage.config.hostname', message: 'unknown key' }]);
    expect(issues({ port: 70000 })[0]!.path).toBe('storage.config.port');
    expect(issues({ ssl: { mode: 'prefer' } })[0]).toMatchObject({ path: 'storage.config.ssl.mode' });
    expect(issues({ maxOpenConns: -1 })[0]!.path).toBe('storage.config.maxOpenConns');
    expect(postgresConfigIssues({ ssl: { mode: 'disable', extra: 1 } })).toEqual([{ path: 'storage.config.ssl.extra', message: 'unknown key' }]);
    expect(postgresConfigIssues({ host: 'db' })).toEqual([]);
  });

  test('defaults follow Dex: verify-full TLS, 5 connections; host:port is split; no hang on connect', () => {
    const c = poolConfig(parsePostgresConfig({ host: 'db.example:6432', database: 'dex' }));
    expect(c).toMatchObject({ host: 'db.example', port: 6432, max: 5, ssl: { rejectUnauthorized: true } });
    expect(c.connectionTimeoutMillis).toBeGreaterThan(0);
    expect(poolConfig(parsePostgresConfig({ host: '[::1]:5432', ssl: { mode: 'disable' } }))).toMatchObject({ host: '::1', port: 5432, ssl: false });
    expect(poolConfig(parsePostgresConfig({ ssl: { mode: 'require' } })).ssl).toEqual({ rejectUnauthorized: false });
  });

  test('an unreadable caFile is a config error on its path', async () => {
    await expect(PostgresStorage.open({ ssl: { mode: 'verify-full', caFile: '/no/such/ca.pem' } })).rejects.toThrow(/storage\.config\.ssl\.caFile: cannot read/);
  });

  test('openStorage opens type postgres', async () => {
    const s = await openStorage({ type: 'postgres', config: configFor(await freshDatabase()) });
    try {
      expect(s.type).toBe('postgres');
      expect(await s.create('keys', 'k', 1)).toBe(true);
    } finally {
      await s.close();
    }
  });
});

describe('the broker on postgres', () => {
  test('request values that no backend can store as an id are "not found", not a 500', async () => {
    const storage = await PostgresStorage.open(configFor(await freshDatabase()));
    const b = await startBroker(
      { connectors: [{ type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: 'trout' } }], oauth2: { skipApprovalScreen: true, passwordConnector: 'pw' } },
      { storage },
    );
    try {
      const token = (form: Record<string, string>) => postForm(`${b.issuer}/token`, form, basicAuth());
      expect((await token({ grant_type: 'authorization_code', code: 'abc\u0000', redirect_uri: 'http://x' })).body.error).toBe('invalid_grant');
      expect((await token({ grant_type: 'authorization_code', code: 'c'.repeat(3000), redirect_uri: 'http://x' })).body.error).toBe('invalid_grant');
      expect((await token({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x\u0000' })).status).toBe(400);
      expect((await token({ grant_type: 'password', username: 'k'.repeat(3000), password: 'wrong', scope: 'openid' })).body.error).toBe('invalid_grant');
      expect((await getPage(`${b.issuer}/auth/pw/login?state=%00`)).status).toBeLessThan(500);
      expect((await getPage(`${b.issuer}/approval?req=%00&hmac=x`)).status).toBeLessThan(500);
    } finally {
      await b.close();
      await storage.close();
    }
  });
});

describe('postgres schema and outages', () => {
  test('instances starting together on an empty database create the schema once', async () => {
    const database = await freshDatabase();
    const all = await Promise.all(Array.from({ length: 4 }, () => PostgresStorage.open(configFor(database))));
    try {
      const { rows } = await server.query('SELECT version FROM dexpress_schema_version', [], database);
      expect(rows).toEqual([{ version: 1 }]);
      expect(await all[0]!.create('keys', 'shared', 1)).toBe(true);
      expect(await all[3]!.create('keys', 'shared', 2)).toBe(false);
    } finally {
      await Promise.all(all.map((s) => s.close()));
    }
  }, 30_000);

  test('a database from a newer dexpress is refused', async () => {
    const database = await freshDatabase();
    (await PostgresStorage.open(configFor(database)).then((s) => s.close()));
    await server.query('UPDATE dexpress_schema_version SET version = 99', [], database);
    await expect(PostgresStorage.open(configFor(database))).rejects.toThrow(/schema version 99, newer/);
  });

  test('nothing listening is StorageUnavailableError, quickly', async () => {
    const started = Date.now();
    const err = await PostgresStorage.open({ host: '127.0.0.1', port: 1, user: 'x', ssl: { mode: 'disable' }, connectionTimeout: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageUnavailableError);
    expect((err as Error).message).toMatch(/PostgreSQL at 127\.0\.0\.1:1\/x is unavailable/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('connections killed by the server: one unavailable error at most, then it works again', async () => {
    const database = await freshDatabase();
    const s = await PostgresStorage.open(configFor(database));
    try {
      await s.create('keys', 'k', 1);
      await server.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
      const outcomes: unknown[] = [];
      for (let i = 0; i < 3; i++) outcomes.push(await s.find('keys', 'k').catch((e: unknown) => e));
      for (const o of outcomes) if (o instanceof Error) expect(o).toBeInstanceOf(StorageUnavailableError);
      expect(outcomes.at(-1)).toMatchObject({ value: 1 });
    } finally {
      await s.close();
    }
  });

  test('a server that stops answering (frozen, not closed) is an outage after the query timeout, not a hang', async () => {
    const database = await freshDatabase();
    const s = await PostgresStorage.open(configFor(database), Date.now, 1000);
    await s.create('keys', 'k', 1);
    const { rows } = await server.query('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
    const frozen = [server.pid!, ...rows.map((r: { pid: number }) => r.pid)];
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const err = await s.find('keys', 'k').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageUnavailableError);
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
    }
    const deadline = Date.now() + 10_000;
    let back: unknown;
    while (Date.now() < deadline && !(back = await s.find('keys', 'k').catch(() => undefined))) await new Promise((r) => setTimeout(r, 100));
    expect(back).toMatchObject({ value: 1 });
    await s.close();
  }, 30_000);

  test('SQL errors that are bugs are not reported as an outage', () => {
    expect(isUnavailable(Object.assign(new Error('syntax'), { code: '42601' }))).toBe(false);
    expect(isUnavailable(Object.assign(new Error('duplicate'), { code: '23505' }))).toBe(false);
    expect(isUnavailable(Object.assign(new Error('shutting down'), { code: '57P01' }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  });
});
