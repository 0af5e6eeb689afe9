/**
 * The life of a `dexpress serve` process, run as a child the way users run it: start-up that
 * cannot succeed (storage it cannot use), signals (SIGHUP reloads the TLS certificate as Dex
 * does), and what it prints where.
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import { SqliteStorage } from '../lib/storage/sqlite.js';
import { makeTestCA } from './fakes/platform.js';
import { freePort } from './helpers/ports.js';

const BIN = join(process.cwd(), 'bin', 'dexpress.js');
const dir = mkdtempSync(join(tmpdir(), 'dexpress-lifecycle-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Root writes to any file: a check of file permissions runs the child as `nobody` instead. */
const unprivileged: SpawnOptions = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

function run(args: string[], options: SpawnOptions = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000, ...options });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function writeConfig(name: string, config: Record<string, unknown>): string {
  const file = join(dir, name);
  writeFileSync(file, stringify({ connectors: [{ type: 'mockCallback', id: 'mock', name: 'Mock' }], ...config }));
  chmodSync(file, 0o644);
  return file;
}

interface Serving {
  /** stdout and stderr as they came, and each apart. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Resolves once the output contains `text`. */
  waitFor(text: string): Promise<void>;
  /** Sends a signal (default SIGTERM); `exited` resolves to the exit code. */
  signal(name?: NodeJS.Signals): void;
  exited: Promise<number | null>;
}

/** `dexpress serve <args>`, resolved once it listens; rejects with its output if it exits first. */
function startServe(args: string[]): Promise<Serving> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let [output, stdout, stderr] = ['', '', ''];
  child.stdout!.on('data', (d: Buffer) => ((output += d.toString()), (stdout += d.toString())));
  child.stderr!.on('data', (d: Buffer) => ((output += d.toString()), (stderr += d.toString())));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (text: string) => {
    const deadline = Date.now() + 30_000;
    while (!output.includes(text)) {
      if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null) throw new Error(`serve never printed "${text}": ${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return waitFor('listening on').then(() => ({ output: () => output, stdout: () => stdout, stderr: () => stderr, waitFor, signal: (name = 'SIGTERM') => child.kill(name), exited }));
}

test('a SQLite file serve may read but not write: exit 1 at start-up naming the file, not a server whose every login is a 503', async () => {
  // The directory is writable (-wal and -shm can be created there), the file is not.
  const writable = join(dir, 'writable-dir');
  mkdirSync(writable);
  chmodSync(writable, 0o777);
  const db = join(writable, 'readonly.sqlite');
  const port = await freePort();
  const file = writeConfig('readonly.yaml', { issuer: `http://127.0.0.1:${port}/dex`, storage: { type: 'sqlite3', config: { file: db } }, web: { http: `127.0.0.1:${port}` } });
  // Served once, so it holds a signing key: start-up itself has nothing to write.
  const first = await startServe([file]);
  first.signal();
  expect(await first.exited).toBe(0);
  chmodSync(db, 0o444);
  const r = run(['serve', file], unprivileged);
  expect({ code: r.code, out: r.out, err: r.err }).toEqual({
    code: 1,
    out: '',
    err: `dexpress: cannot start: cannot write SQLite database ${db} (this process needs write access to the file and to its directory, for the -wal and -shm files)\n`,
  });
});

test('a SQLite file in a directory serve cannot write: exit 1 with the same message', async () => {
  const sub = join(dir, 'readonly-dir');
  const db = join(dir, 'fresh.sqlite');
  await new SqliteStorage(db).close();
  // The file is writable (mode 666), its directory is not: WAL needs to create -wal and -shm there.
  mkdirSync(sub);
  copyFileSync(db, join(sub, 'x.sqlite'));
  chmodSync(join(sub, 'x.sqlite'), 0o666);
  if (unprivileged.uid !== undefined) chownSync(sub, 0, 0);
  chmodSync(sub, 0o555);
  const port = await freePort();
  const file = writeConfig('readonly-dir.yaml', { issuer: `http://127.0.0.1:${port}/dex`, storage: { type: 'sqlite3', config: { file: join(sub, 'x.sqlite') } }, web: { http: `127.0.0.1:${port}` } });
  const r = run(['serve', file], unprivileged);
  expect(r.code).toBe(1);
  expect(r.err).toContain(`cannot write SQLite database ${join(sub, 'x.sqlite')}`);
});

/** GET over TLS trusting only `ca`: the status, or the TLS error's code. */
function httpsGet(url: string, ca: string): Promise<number | string> {
  return new Promise((resolve) => {
    https
      .get(url, { ca, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

test('web.http and web.https together; SIGHUP reloads web.tlsCert and web.tlsKey as Dex does, and a key that does not fit keeps the certificate in use', async () => {
  const [first, renewed] = [makeTestCA(), makeTestCA()];
  try {
    const cert = join(dir, 'hup.crt');
    const key = join(dir, 'hup.key');
    writeFileSync(cert, first.cert);
    writeFileSync(key, first.key);
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    const issuer = `https://127.0.0.1:${httpsPort}/dex`;
    const file = writeConfig('hup.yaml', { issuer, storage: { type: 'memory' }, web: { http: `127.0.0.1:${httpPort}`, https: `127.0.0.1:${httpsPort}`, tlsCert: cert, tlsKey: key } });
    const server = await startServe([file]);
    expect(server.output()).toContain(`listening on http://127.0.0.1:${httpPort}, https://127.0.0.1:${httpsPort}`);
    expect((await fetch(`http://127.0.0.1:${httpPort}/dex/healthz`)).status).toBe(200);
    expect(await httpsGet(`${issuer}/.well-known/openid-configuration`, first.caPem)).toBe(200);

    writeFileSync(cert, renewed.cert);
    writeFileSync(key, renewed.key);
    server.signal('SIGHUP');
    await server.waitFor('dexpress: SIGHUP received, reloaded web.tlsCert and web.tlsKey');
    expect(await httpsGet(`${issuer}/healthz`, renewed.caPem)).toBe(200);
    expect(await httpsGet(`${issuer}/healthz`, first.caPem)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');

    // Half-way through a renewal: the new certificate, the old key.
    writeFileSync(cert, first.cert);
    server.signal('SIGHUP');
    await server.waitFor(`dexpress: SIGHUP received, kept the certificate in use: web.tlsKey: ${key} is not a PEM private key matching web.tlsCert`);
    expect(await httpsGet(`${issuer}/healthz`, renewed.caPem)).toBe(200);

    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
  } finally {
    first.cleanup();
    renewed.cleanup();
  }
}, 60_000);

test("logger.format json: every line serve writes is a JSON entry on stderr, keyed as Dex's (level INFO/WARN, RFC 3339 time); nothing on stdout", async () => {
  const port = await freePort();
  const file = writeConfig('json.yaml', { issuer: `http://127.0.0.1:${port}/dex`, storage: { type: 'memory' }, web: { http: `127.0.0.1:${port}` }, logger: { level: 'info', format: 'json' }, grpc: { addr: ':5557' } });
  const server = await startServe([file]);
  server.signal('SIGTERM');
  expect(await server.exited).toBe(0);
  expect(server.stdout()).toBe('');
  const entries = server.stderr().trim().split('\n').map((line) => JSON.parse(line) as { level: string; time: string; msg: string });
  expect(entries).toEqual([
    { level: 'WARN', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), msg: 'grpc is not supported by dexpress and is ignored' },
    expect.objectContaining({ level: 'INFO', msg: `issuer http://127.0.0.1:${port}/dex` }),
    expect.objectContaining({ level: 'INFO', msg: 'connectors: mock (mockCallback)' }),
    expect.objectContaining({ level: 'INFO', msg: `listening on http://127.0.0.1:${port}` }),
    expect.objectContaining({ level: 'INFO', msg: 'SIGTERM received, finishing the requests in flight (SIGTERM again to exit now)' }),
  ]);
});

test('logger.format text (the default): the start-up lines are readable lines on stdout, log entries on stderr', async () => {
  const port = await freePort();
  const file = writeConfig('text.yaml', { issuer: `http://127.0.0.1:${port}/dex`, storage: { type: 'memory' }, web: { http: `127.0.0.1:${port}` }, grpc: { addr: ':5557' } });
  const server = await startServe([file]);
  server.signal('SIGINT');
  expect(await server.exited).toBe(0);
  expect(server.stdout()).toBe(
    `dexpress: issuer http://127.0.0.1:${port}/dex\ndexpress: connectors: mock (mockCallback)\ndexpress: listening on http://127.0.0.1:${port}\ndexpress: SIGINT received, finishing the requests in flight (SIGINT again to exit now)\n`,
  );
  expect(server.stderr()).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z WARN grpc is not supported by dexpress and is ignored\n$/);
});

test('no connector and no password DB: check-config and serve exit 2 naming connectors, as Dex refuses to start ("no connectors specified"); the password DB alone is enough', async () => {
  const port = await freePort();
  const base = { issuer: `http://127.0.0.1:${port}/dex`, storage: { type: 'memory' }, web: { http: `127.0.0.1:${port}` }, connectors: [] };
  const none = writeConfig('none.yaml', base);
  for (const cmd of ['check-config', 'serve']) {
    const r = run([cmd, none]);
    expect({ cmd, code: r.code, err: r.err }).toEqual({ cmd, code: 2, err: `${none}: invalid configuration\n  connectors: no connector is configured and enablePasswordDB is off, so nobody can log in\n` });
  }
  const passwordDB = writeConfig('password-db-only.yaml', { ...base, enablePasswordDB: true });
  expect(run(['check-config', passwordDB])).toMatchObject({ code: 0, out: expect.stringContaining('connectors: local (password DB)') });
});

test('an OIDC upstream down at start-up: serve starts with the other connectors, as Dex does, and opens it at its next use once the upstream answers; all connectors down still stops the start', async () => {
  const [port, upstreamPort] = [await freePort(), await freePort()];
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  const issuer = `http://127.0.0.1:${port}/dex`;
  const oidcConnector = { type: 'oidc', id: 'up', name: 'Upstream', config: { issuer: upstream, clientID: 'c', clientSecret: 's', redirectURI: `${issuer}/callback` } };
  const base = { issuer, storage: { type: 'memory' }, web: { http: `127.0.0.1:${port}` }, staticClients: [{ id: 'app', secret: 's', redirectURIs: ['http://127.0.0.1:5555/cb'], name: 'App' }] };

  const alone = run(['serve', writeConfig('oidc-alone.yaml', { ...base, connectors: [oidcConnector] })]);
  expect({ code: alone.code, err: alone.err }).toMatchObject({ code: 1, err: expect.stringContaining(`dexpress: cannot start: ${upstream}/.well-known/openid-configuration could not be reached`) });

  const server = await startServe([writeConfig('oidc-down.yaml', { ...base, connectors: [oidcConnector, { type: 'mockCallback', id: 'mock', name: 'Mock' }] })]);
  const discovery = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({ issuer: upstream, authorization_endpoint: `${upstream}/authorize`, token_endpoint: `${upstream}/token`, jwks_uri: `${upstream}/jwks`, response_types_supported: ['code'] }),
    );
  });
  try {
    expect(server.output()).toContain('connectors: up (oidc), mock (mockCallback)');
    expect(server.stderr()).toContain('ERROR connector up could not be opened; starting without it, it is opened again at its next use');
    const auth = (id: string) => fetch(`${issuer}/auth/${id}?client_id=app&redirect_uri=${encodeURIComponent('http://127.0.0.1:5555/cb')}&response_type=code&scope=openid&state=abcdefgh`, { redirect: 'manual' });
    expect((await auth('mock')).status).toBe(302);
    const down = await auth('up');
    expect(down.status).toBe(502);
    expect(await down.text()).not.toContain('ECONNREFUSED');

    await new Promise<void>((resolve) => discovery.listen(upstreamPort, '127.0.0.1', resolve));
    const up = await auth('up');
    expect(up.status).toBe(302);
    expect(up.headers.get('location')).toMatch(new RegExp(`^${upstream}/authorize\\?`));
    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
  } finally {
    server.signal('SIGKILL');
    discovery.close();
  }
});

test('web.http already in use: exit 1 naming the field and address, nothing on stdout', async () => {
  const port = await freePort();
  const taken = http.createServer();
  await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
  try {
    const r = run(['serve', writeConfig('in-use.yaml', { issuer: `http://127.0.0.1:${port}/dex`, storage: { type: 'memory' }, web: { http: `127.0.0.1:${port}` } })]);
    expect({ code: r.code, out: r.out, err: r.err }).toEqual({ code: 1, out: '', err: `dexpress: cannot start: web.http 127.0.0.1:${port}: address already in use\n` });
  } finally {
    taken.close();
  }
});

test('a second SIGTERM while a request is in flight exits 1 at once', async () => {
  // "password" at bcrypt cost 15: checking it takes the broker a second or two.
  const slowHash = '$2b$15$3XEvqOVgf.jbrxUfS0WP6eSIj9utpGEP4Kf5MXkVAR7LC2MzQTc4m';
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/dex`;
  const file = writeConfig('second-signal.yaml', {
    issuer,
    storage: { type: 'memory' },
    web: { http: `127.0.0.1:${port}` },
    oauth2: { passwordConnector: 'local', grantTypes: ['password'] },
    staticClients: [{ id: 'app', secret: 's', redirectURIs: ['http://127.0.0.1:5555/cb'], name: 'App' }],
    enablePasswordDB: true,
    staticPasswords: [{ email: 'admin@example.com', hash: slowHash, username: 'admin', userID: '08a8684b-db88-4b73-90a9-3cd1661f5466' }],
  });
  const server = await startServe([file]);
  const grant = fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('app:s').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=admin%40example.com&password=password&scope=openid',
  }).then((res) => res.status, () => 'cut');
  await new Promise((r) => setTimeout(r, 300));
  server.signal('SIGTERM');
  await server.waitFor('SIGTERM received');
  server.signal('SIGTERM');
  expect(await server.exited).toBe(1);
  expect(server.stderr()).toContain('dexpress: SIGTERM again, exiting now');
  expect(await grant).toBe('cut');
});

test('check-config refuses two listeners on one port, which serve could only fail on ("address already in use", against itself)', () => {
  const file = writeConfig('same-port.yaml', { issuer: 'http://127.0.0.1:5556/dex', storage: { type: 'memory' }, web: { http: '127.0.0.1:5556' } });
  expect(run(['check-config', file, '--telemetry-addr', '0.0.0.0:5556'])).toMatchObject({ code: 2, err: expect.stringContaining('telemetry.http: 0.0.0.0:5556 is also the address of web.http: each listener needs its own port') });
  expect(run(['check-config', file, '--web-https-addr', '127.0.0.1:5556'])).toMatchObject({ code: 2, err: expect.stringContaining('web.https: 127.0.0.1:5556 is also the address of web.http') });
  expect(run(['check-config', file, '--telemetry-addr', '127.0.0.2:5556'])).toMatchObject({ code: 0 });
  expect(run(['check-config', file, '--telemetry-addr', '127.0.0.1:5558'])).toMatchObject({ code: 0 });
});
