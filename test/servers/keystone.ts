/**
 * A throwaway OpenStack Keystone for tests: Debian's `python3-keystone` on a throwaway PostgreSQL
 * (on SQLite Keystone's first write fails with "database is locked"), fernet tokens, served by
 * `keystone-wsgi-public` on 127.0.0.1 and a free port. Start it once per test file (about 10 s);
 * `stop()` kills it by PID and stops PostgreSQL.
 *
 * The helpers below call Keystone's own v3 API with a system-scoped token of the bootstrap admin
 * (`admin` in domain `default`), as an operator would.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startPostgres, type Postgres } from './postgres.js';

export interface KeystoneUser {
  name: string;
  domainId: string;
  password: string;
  email?: string;
  enabled?: boolean;
}

export interface Keystone {
  /** `http://127.0.0.1:PORT` (Dex's `keystoneHost`: without `/v3`). */
  url: string;
  port: number;
  pid: number;
  adminName: 'admin';
  adminPassword: string;
  postgres: Postgres;
  /** Calls Keystone's API as the system-scoped bootstrap admin; throws unless the status is 2xx. */
  api(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<unknown>;
  createDomain(name: string): Promise<string>;
  createUser(user: KeystoneUser): Promise<string>;
  updateUser(userId: string, changes: Record<string, unknown>): Promise<void>;
  deleteUser(userId: string): Promise<void>;
  createGroup(name: string, domainId: string): Promise<string>;
  addUserToGroup(groupId: string, userId: string): Promise<void>;
  removeUserFromGroup(groupId: string, userId: string): Promise<void>;
  /** Grants a role (`reader`, `member`, `admin`) on the whole system (`scope.system.all`). */
  grantSystemRole(userId: string, roleName: string): Promise<void>;
  /** Freezes the server (SIGSTOP): connections are accepted by the kernel but never answered. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

const COMMAND_TIMEOUT_MS = 90_000;
const READY_ATTEMPTS = 300;
const READY_INTERVAL_MS = 100;
const STOP_TIMEOUT_MS = 5_000;
const ADMIN_PASSWORD = 'keystone-admin-secret';

/** Debian's Keystone modules load only under /usr/bin/python3: keep another Python's settings out. */
function pythonEnv(configFile: string): NodeJS.ProcessEnv {
  const { PYTHONPATH: _path, PYTHONHOME: _home, VIRTUAL_ENV: _venv, ...env } = process.env;
  return { ...env, OS_KEYSTONE_CONFIG_FILES: configFile };
}

function keystoneManage(configFile: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      '/usr/bin/keystone-manage',
      ['--config-file', configFile, ...args],
      { timeout: COMMAND_TIMEOUT_MS, cwd, env: pythonEnv(configFile), maxBuffer: 16 * 1024 * 1024 },
      (err, _stdout, stderr) => {
        if (err) reject(new Error(`keystone-manage ${args[0]} failed: ${err.message}\n${stderr.slice(-4000)}`));
        else resolve();
      },
    );
  });
}

function keystoneConf(dir: string, databaseUrl: string): string {
  return [
    '[DEFAULT]',
    'use_stderr = true',
    '[database]',
    `connection = ${databaseUrl}`,
    '[fernet_tokens]',
    `key_repository = ${join(dir, 'fernet-keys')}`,
    '[credential]',
    `key_repository = ${join(dir, 'credential-keys')}`,
    '[token]',
    'provider = fernet',
    '[identity]',
    // bcrypt's minimum cost: tests create and log in many users
    'password_hash_rounds = 4',
    '',
  ].join('\n');
}

export async function startKeystone(): Promise<Keystone> {
  const postgres = await startPostgres();
  const dir = await mkdtemp(join(tmpdir(), 'keystone-'));
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGKILL');
  try {
    await Promise.all([mkdir(join(dir, 'fernet-keys')), mkdir(join(dir, 'credential-keys'))]);
    const configFile = join(dir, 'keystone.conf');
    await writeFile(configFile, keystoneConf(dir, await postgres.createDatabase('keystone')));
    // As root the key files must name an owner; otherwise they belong to whoever runs the tests.
    const owner = process.getuid?.() === 0 ? ['--keystone-user', 'root', '--keystone-group', 'root'] : [];
    await Promise.all([
      keystoneManage(configFile, ['db_sync'], dir),
      keystoneManage(configFile, ['fernet_setup', ...owner], dir),
      keystoneManage(configFile, ['credential_setup', ...owner], dir),
    ]);
    await keystoneManage(configFile, ['bootstrap', '--bootstrap-password', ADMIN_PASSWORD], dir);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let output = '';
    const proc = spawn('/usr/bin/keystone-wsgi-public', ['--host', '127.0.0.1', '--port', String(port)], {
      cwd: dir,
      env: pythonEnv(configFile),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8000));
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    process.once('exit', killOnExit);
    await waitUntilReady(url, proc, () => output);

    // Tokens last an hour, longer than any test file: one is enough.
    let token: Promise<string> | undefined;
    const adminToken = () => (token ??= systemToken(url, 'admin', ADMIN_PASSWORD));
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { 'x-auth-token': await adminToken(), 'content-type': 'application/json', accept: 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`Keystone ${method} ${path} answered ${res.status}: ${text}`);
      return text === '' ? undefined : (JSON.parse(text) as unknown);
    };
    const idOf = (payload: unknown, kind: string): string => {
      const id = (payload as Record<string, { id?: unknown }> | undefined)?.[kind]?.id;
      if (typeof id !== 'string') throw new Error(`Keystone answered no ${kind}.id`);
      return id;
    };

    const stop = async () => {
      const running = child;
      child = undefined;
      process.removeListener('exit', killOnExit);
      if (running && running.exitCode === null && running.signalCode === null) {
        const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
        running.kill('SIGCONT');
        running.kill('SIGTERM');
        const timer = setTimeout(() => running.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      await postgres.stop();
      await rm(dir, { recursive: true, force: true });
    };

    return {
      url,
      port,
      pid: proc.pid ?? 0,
      adminName: 'admin',
      adminPassword: ADMIN_PASSWORD,
      postgres,
      api,
      createDomain: async (name) => idOf(await api('POST', '/v3/domains', { domain: { name } }), 'domain'),
      createUser: async (user) =>
        idOf(
          await api('POST', '/v3/users', {
            user: {
              name: user.name,
              domain_id: user.domainId,
              password: user.password,
              enabled: user.enabled ?? true,
              ...(user.email === undefined ? {} : { email: user.email }),
            },
          }),
          'user',
        ),
      updateUser: async (userId, changes) => {
        await api('PATCH', `/v3/users/${userId}`, { user: changes });
      },
      deleteUser: async (userId) => {
        await api('DELETE', `/v3/users/${userId}`);
      },
      createGroup: async (name, domainId) => idOf(await api('POST', '/v3/groups', { group: { name, domain_id: domainId } }), 'group'),
      addUserToGroup: async (groupId, userId) => {
        await api('PUT', `/v3/groups/${groupId}/users/${userId}`);
      },
      removeUserFromGroup: async (groupId, userId) => {
        await api('DELETE', `/v3/groups/${groupId}/users/${userId}`);
      },
      grantSystemRole: async (userId, roleName) => {
        const roles = (await api('GET', `/v3/roles?name=${encodeURIComponent(roleName)}`)) as { roles?: { id?: unknown }[] };
        const roleId = roles.roles?.[0]?.id;
        if (typeof roleId !== 'string') throw new Error(`Keystone has no role ${roleName}`);
        await api('PUT', `/v3/system/users/${userId}/roles/${roleId}`);
      },
      freeze: () => child?.kill('SIGSTOP'),
      thaw: () => child?.kill('SIGCONT'),
      stop,
    };
  } catch (err) {
    child?.kill('SIGKILL');
    process.removeListener('exit', killOnExit);
    await postgres.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function waitUntilReady(url: string, proc: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < READY_ATTEMPTS; i++) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`keystone-wsgi-public exited at start:\n${output()}`);
    const ok = await fetch(`${url}/v3`, { signal: AbortSignal.timeout(2000) }).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, READY_INTERVAL_MS));
  }
  throw new Error(`Keystone did not answer on ${url} within ${(READY_ATTEMPTS * READY_INTERVAL_MS) / 1000} s:\n${output()}`);
}

/** A system-scoped token (`scope.system.all`) for a user of domain `default`. */
export async function systemToken(url: string, name: string, password: string): Promise<string> {
  const res = await fetch(`${url}/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name, domain: { id: 'default' }, password } } },
        scope: { system: { all: true } },
      },
    }),
    signal: AbortSignal.timeout(15_000),
  });
  await res.text();
  const token = res.headers.get('x-subject-token');
  if (res.status !== 201 || !token) throw new Error(`Keystone refused a system token for ${name}: ${res.status}`);
  return token;
}
