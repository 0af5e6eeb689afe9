/**
 * The storage failing in the middle of an operation, on the real servers: a PostgreSQL connection
 * ended by the server at one chosen statement (a trigger that terminates its own backend), a
 * server frozen between two statements of a transaction (SIGSTOP), SQLite's write lock held by
 * another connection, SQLite full halfway through a transaction. Asserted: the request fails as
 * an outage (503) in time, nothing is half written, and no login is lost for it: a client that
 * retries after the outage gets its tokens.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Database from 'better-sqlite3';
import { StorageUnavailableError } from '../../lib/errors.js';
import { PostgresStorage } from '../../lib/storage/postgres.js';
import { SqliteStorage } from '../../lib/storage/sqlite.js';
import type { Clock, Kind } from '../../lib/storage/index.js';
import { TEST_CLIENT, startBroker, type TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { basicAuth, postForm } from '../helpers/http.js';
import { browse } from '../helpers/rp.js';
import { startPostgres, type Postgres } from '../servers/postgres.js';

let server: Postgres;
let n = 0;
const dir = mkdtempSync(join(tmpdir(), 'dexpress-midway-'));
beforeAll(async () => {
  server = await startPostgres();
}, 120_000);
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function openPostgres(now: Clock = Date.now, queryTimeoutMs?: number): Promise<{ storage: PostgresStorage; database: string }> {
  const database = `midway_${n++}`;
  await server.createDatabase(database);
  const config = { host: server.host, port: server.port, database, user: server.user, ssl: { mode: 'disable' } };
  return { storage: await PostgresStorage.open(config, now, queryTimeoutMs), database };
}

/**
 * From now on, the server ends the connection that writes a record of `kind` (the backend
 * terminates itself in a trigger), as a restart or a failover would at that very statement.
 * Returns a function that puts things right again.
 */
async function cutWritesOf(database: string, kind: Kind): Promise<() => Promise<void>> {
  await server.query(
    `CREATE OR REPLACE FUNCTION midway_cut() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$`,
    [],
    database,
  );
  await server.query(
    `CREATE TRIGGER midway_cut BEFORE INSERT OR UPDATE ON dexpress_objects FOR EACH ROW WHEN (NEW.kind = '${kind}') EXECUTE FUNCTION midway_cut()`,
    [],
    database,
  );
  return async () => {
    await server.query('DROP TRIGGER midway_cut ON dexpress_objects', [], database);
  };
}

const PASSWORD_CONFIG = {
  connectors: [{ type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: 'trout' } }],
  oauth2: { skipApprovalScreen: true, passwordConnector: 'pw' },
};

const tokenRequest = (b: TestBroker, form: Record<string, string>) => postForm(`${b.issuer}/token`, form, basicAuth());

/** Runs the browser part of a code flow with PKCE S256; returns the code and its verifier. */
async function codeFor(b: TestBroker): Promise<{ code: string; verifier: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${b.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: TEST_CLIENT.id,
    redirect_uri: TEST_CLIENT.redirectURI,
    response_type: 'code',
    scope: 'openid offline_access',
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    connector_id: 'cb',
  }).toString();
  const { landed } = await browse(url.toString(), TEST_CLIENT.redirectURI);
  const code = landed?.searchParams.get('code');
  if (!code) throw new Error('the login did not come back with a code');
  return { code, verifier };
}

describe('PostgreSQL ends the connection at an awkward statement', () => {
  test('a refresh whose signing-key rotation fails is a 503 that leaves the refresh token as it was', async () => {
    const clock = frozenClock(Date.now());
    const { storage, database } = await openPostgres(clock);
    const b = await startBroker(PASSWORD_CONFIG, { storage, now: clock });
    try {
      const first = await tokenRequest(b, { grant_type: 'password', username: 'kilgore', password: 'trout', scope: 'openid offline_access' });
      expect(first.status).toBe(200);
      const refreshToken = first.body.refresh_token as string;
      // The signing key is due for rotation (6 h), and the database goes away as the rotation is written.
      clock.advance(6 * 3_600_000 + 1000);
      const restore = await cutWritesOf(database, 'keys');
      const refused = await tokenRequest(b, { grant_type: 'refresh_token', refresh_token: refreshToken });
      expect(refused.status).toBe(503);
      expect(refused.body.error).toBe('temporarily_unavailable');
      await restore();
      // The client retries once the outage is over, well after the reuse window (3 s).
      clock.advance(60_000);
      const retried = await tokenRequest(b, { grant_type: 'refresh_token', refresh_token: refreshToken });
      expect(retried.body.error).toBeUndefined();
      expect(retried.status).toBe(200);
    } finally {
      await b.close();
      await storage.close();
    }
  }, 20_000);

  test('a code exchange that fails writing the refresh token is a 503 that leaves the code for a retry', async () => {
    const { storage, database } = await openPostgres();
    const b = await startBroker({ connectors: [{ type: 'mockCallback', id: 'cb', name: 'Callback' }] }, { storage });
    try {
      const { code, verifier } = await codeFor(b);
      const exchange = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: TEST_CLIENT.redirectURI };
      const restore = await cutWritesOf(database, 'refreshToken');
      const refused = await tokenRequest(b, exchange);
      expect(refused.status).toBe(503);
      expect(refused.body.error).toBe('temporarily_unavailable');
      await restore();
      expect(await storage.count('refreshToken')).toBe(0);
      const retried = await tokenRequest(b, exchange);
      expect(retried.status).toBe(200);
      expect(typeof retried.body.refresh_token).toBe('string');
    } finally {
      await b.close();
      await storage.close();
    }
  }, 20_000);

  test('a code exchange whose PKCE downgrade mark cannot be written still answers with the tokens it committed', async () => {
    const { storage, database } = await openPostgres();
    const b = await startBroker({ connectors: [{ type: 'mockCallback', id: 'cb', name: 'Callback' }] }, { storage });
    try {
      const { code, verifier } = await codeFor(b);
      // The first S256 exchange of the client marks it (kind `client`), after the exchange committed.
      const restore = await cutWritesOf(database, 'client');
      const answer = await tokenRequest(b, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: TEST_CLIENT.redirectURI });
      await restore();
      // Else the code is used up and a retry revokes the refresh token: the login is lost.
      expect(answer.body.error).toBeUndefined();
      expect(answer.status).toBe(200);
      const refreshed = await tokenRequest(b, { grant_type: 'refresh_token', refresh_token: answer.body.refresh_token as string });
      expect(refreshed.status).toBe(200);
      // The mark is written by the next S256 exchange.
      const next = await codeFor(b);
      expect((await tokenRequest(b, { grant_type: 'authorization_code', code: next.code, code_verifier: next.verifier, redirect_uri: TEST_CLIENT.redirectURI })).status).toBe(200);
      expect(await storage.count('client')).toBe(1);
    } finally {
      await b.close();
      await storage.close();
    }
  }, 20_000);
});

describe('PostgreSQL frozen between two statements of a transaction', () => {
  test('the transaction fails as an outage within one query timeout, leaves nothing, and the pool works again', async () => {
    const { storage, database } = await openPostgres(Date.now, 1000);
    let frozen: number[] = [];
    let frozenAt = 0;
    try {
      const err = await storage
        .transaction(async (tx) => {
          await tx.create('authCode', 'a', 1);
          const { rows } = await server.query('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
          frozen = [server.pid!, ...rows.map((r: { pid: number }) => r.pid)];
          for (const pid of frozen) process.kill(pid, 'SIGSTOP');
          frozenAt = Date.now();
          await tx.create('authCode', 'b', 2);
        })
        .catch((e: unknown) => e);
      const failedAfter = Date.now() - frozenAt;
      expect(err).toBeInstanceOf(StorageUnavailableError);
      // One query timeout (1 s), not a second one for a ROLLBACK queued behind the stuck statement.
      expect(failedAfter).toBeLessThan(1800);
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
    }
    try {
      const deadline = Date.now() + 10_000;
      let back = false;
      while (!back && Date.now() < deadline) {
        back = await storage.create('authCode', 'after', 3).then(
          () => true,
          () => false,
        );
        if (!back) await new Promise((r) => setTimeout(r, 100));
      }
      expect(back).toBe(true);
      expect(await storage.find('authCode', 'a')).toBeUndefined();
      expect(await storage.find('authCode', 'b')).toBeUndefined();
    } finally {
      await storage.close();
    }
  }, 20_000);
});

describe('SQLite failing inside a transaction', () => {
  test('another connection holding the write lock: the transaction is a 503, the gate lets waiting operations through, later ones work', async () => {
    const file = join(dir, `lock-${n++}.sqlite`);
    const storage = new SqliteStorage(file);
    await storage.create('authCode', 'kept', 1);
    const holder = new Database(file);
    holder.exec('BEGIN IMMEDIATE');
    try {
      const tx = storage.transaction(async (t) => t.create('authCode', 'x', 1)).catch((e: unknown) => e);
      const waiting = storage.find('authCode', 'kept');
      expect(await tx).toBeInstanceOf(StorageUnavailableError);
      expect(await waiting).toMatchObject({ value: 1 });
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(await storage.transaction(async (t) => t.create('authCode', 'x', 2))).toBe(true);
    expect(await storage.find('authCode', 'x')).toMatchObject({ value: 2 });
    await storage.close();
  });

  test('the disk full halfway: a 503, the first write undone, the transaction closed and the gate open', async () => {
    const file = join(dir, `full-${n++}.sqlite`);
    const storage = new SqliteStorage(file);
    const db = (storage as unknown as { db: Database.Database }).db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages + 2}`);
    const err = await storage
      .transaction(async (tx) => {
        await tx.create('authCode', 'small', 1);
        await tx.create('authCode', 'large', 'x'.repeat(200_000));
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageUnavailableError);
    expect(db.inTransaction).toBe(false);
    expect(await storage.find('authCode', 'small')).toBeUndefined();
    db.pragma('max_page_count = 1073741823');
    expect(await storage.transaction(async (tx) => tx.create('authCode', 'large', 'x'.repeat(200_000)))).toBe(true);
    await storage.close();
  });
});
