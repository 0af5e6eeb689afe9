/**
 * A throwaway PostgreSQL server for tests (Debian's `postgresql`): `initdb` into a temp dir, trust
 * auth, listening on 127.0.0.1 and a unix socket inside that dir only, on a free port; `stop()`
 * shuts it down by its postmaster PID and removes the dir. PostgreSQL refuses to run as root, so
 * as root the server runs as the `postgres` system user (which must own the temp dir).
 *
 *   const pg = await startPostgres();
 *   const url = await pg.createDatabase('keystone'); // postgresql://postgres@127.0.0.1:PORT/keystone
 *   await pg.halt(); await pg.resume();             // the database goes away and comes back
 *   ...
 *   await pg.stop();
 */
import { execFile } from 'node:child_process';
import { chown, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../helpers/ports.js';

export { freePort };

export interface Postgres {
  host: '127.0.0.1';
  port: number;
  /** Superuser; trust auth, so no password. */
  user: 'postgres';
  /** The database that always exists. */
  database: 'postgres';
  /** `postgresql://postgres@127.0.0.1:PORT/postgres`. */
  url: string;
  /** The temp dir holding the data dir, the log and the unix socket. */
  dir: string;
  /** PID of the postmaster; undefined while halted. */
  readonly pid: number | undefined;
  /** Connection URL of another database on this server. */
  urlOf(database: string): string;
  /** Creates a database and returns its connection URL. */
  createDatabase(name: string): Promise<string>;
  /** Runs one SQL statement on a short-lived connection (default database `postgres`). */
  query(sql: string, params?: unknown[], database?: string): Promise<pg.QueryResult>;
  /** Takes the server away (fast shutdown), keeping its data: clients get "connection refused". */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port with the same data. */
  resume(): Promise<void>;
  /** Stops the server (fast shutdown, SIGKILL after a timeout) and removes its dir. Idempotent. */
  stop(): Promise<void>;
}

const START_ATTEMPTS = 3;
const COMMAND_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;


/** `/usr/lib/postgresql/<newest>/bin`, or `$PG_BIN`. */
async function postgresBin(): Promise<string> {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const versions = (await readdir('/usr/lib/postgresql').catch(() => [] as string[]))
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (versions[0] === undefined) throw new Error('PostgreSQL not found under /usr/lib/postgresql (install Debian package postgresql)');
  return join('/usr/lib/postgresql', versions[0], 'bin');
}

const asRoot = () => process.getuid?.() === 0;

/** Runs a PostgreSQL tool, as `postgres` when we are root. */
function runPgTool(bin: string, tool: string, args: string[]): Promise<string> {
  const [file, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: COMMAND_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${tool} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startPostgres(): Promise<Postgres> {
  const bin = await postgresBin();
  const dir = await mkdtemp(join(tmpdir(), 'pg-'));
  const dataDir = join(dir, 'data');
  if (asRoot()) {
    const { uid, gid } = await postgresIds();
    await chown(dir, uid, gid);
  }
  await runPgTool(bin, 'initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);

  const launch = (candidate: number) => {
    const options = `-p ${candidate} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    return runPgTool(bin, 'pg_ctl', ['-D', dataDir, '-l', join(dir, 'postgres.log'), '-w', '-t', '30', '-o', options, 'start']);
  };
  const postmasterPid = async () => Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);

  let port = 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS && port === 0; attempt++) {
    const candidate = await freePort();
    try {
      await launch(candidate);
      port = candidate;
    } catch (err) {
      lastError = err; // most likely the port was taken in between: try another
    }
  }
  if (port === 0) {
    const log = await readFile(join(dir, 'postgres.log'), 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${String(lastError)}\n${log}`);
  }
  let pid: number | undefined = await postmasterPid();
  // If the test process dies without stop(), take the server down with it (immediate shutdown).
  const killOnExit = () => {
    if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGQUIT');
  };
  process.once('exit', killOnExit);

  const urlOf = (database: string) => `postgresql://postgres@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  const query = async (sql: string, params: unknown[] = [], database = 'postgres') => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      return await client.query(sql, params);
    } finally {
      await client.end();
    }
  };

  /** Fast shutdown (SIGINT), SIGKILL after a timeout; the data stays. */
  const halt = async () => {
    const running = pid;
    pid = undefined;
    if (running === undefined || !isAlive(running)) return;
    process.kill(running, 'SIGINT');
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (isAlive(running) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (isAlive(running)) process.kill(running, 'SIGKILL');
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killOnExit);
    await halt();
    await rm(dir, { recursive: true, force: true });
  };

  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database: 'postgres',
    url: urlOf('postgres'),
    dir,
    get pid() {
      return pid;
    },
    urlOf,
    createDatabase: async (name) => {
      await query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      return urlOf(name);
    },
    query,
    halt,
    resume: async () => {
      if (stopped) throw new Error('PostgreSQL was stopped for good');
      if (pid !== undefined) return;
      await launch(port);
      pid = await postmasterPid();
    },
    stop,
  };
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const entry = passwd.split('\n').find((line) => line.startsWith('postgres:'));
  const fields = entry?.split(':');
  if (!fields || fields[2] === undefined || fields[3] === undefined) {
    throw new Error(`running as ${userInfo().username}, but there is no "postgres" system user to run PostgreSQL as`);
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}
