/**
 * The `dexpress` command, run as a child process the way users run it: the capability table,
 * check-config's exit codes, and `serve` on the dev config's SQLite file, restarted.
 */
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { parse, stringify } from 'yaml';
import { connectorTypes } from '../lib/capabilities.js';
import { makeTestCA } from './fakes/platform.js';
import { TEST_CLIENT } from './helpers/broker.js';
import { basicAuth, postForm } from './helpers/http.js';
import { freePort } from './helpers/ports.js';
import { login } from './helpers/rp.js';

const BIN = join(process.cwd(), 'bin', 'dexpress.js');
const dir = mkdtempSync(join(tmpdir(), 'dexpress-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}


describe('dexpress connectors / check-config / help', () => {
  test('connectors prints every type of the capability table', () => {
    const { code, out } = run('connectors');
    expect(code).toBe(0);
    for (const type of connectorTypes) expect(out).toContain(type);
    expect(out).toMatch(/authproxy\s+no\s+no\s+no\s+alpha/);
  });

  test('check-config accepts the dev config', () => {
    const { code, out } = run('check-config', 'examples/config-dev.yaml');
    expect(code).toBe(0);
    expect(out).toContain('valid');
  });

  test('an invalid file exits 2 naming each dotted path', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'issuer: http://127.0.0.1:5556/dex\nstorage: {type: memory}\nconnectors:\n  - {type: mockPassword, id: pw, name: PW, config: {username: u}}\n  - {type: nope, id: x, name: X}\n');
    const { code, err } = run('check-config', file);
    expect(code).toBe(2);
    expect(err).toContain('connectors[0].config.password: is required');
    expect(err).toContain('connectors[1].type: unknown connector type "nope"');
  });

  test('broken YAML and a missing file exit 2 with a message', () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'issuer: [unclosed\n');
    expect(run('check-config', file)).toMatchObject({ code: 2 });
    const missing = run('serve', join(dir, 'missing.yaml'));
    expect(missing.code).toBe(2);
    expect(missing.err).toContain(`cannot read ${join(dir, 'missing.yaml')}: no such file`);
    expect(missing.err).not.toContain('invalid configuration');
  });

  test('serve and check-config without a file say what is missing', () => {
    for (const cmd of ['serve', 'check-config']) {
      const { code, err } = run(cmd);
      expect(code).toBe(2);
      expect(err).toContain(`dexpress ${cmd}: missing <config.yaml>`);
    }
  });

  test("check-config refuses what serve refuses: a redirectURI other than <issuer>/callback, with the connector's dotted path", () => {
    const file = join(dir, 'redirect.yaml');
    writeFileSync(
      file,
      'issuer: http://127.0.0.1:5556/dex\nstorage: {type: memory}\nweb: {http: "127.0.0.1:0"}\nconnectors:\n  - {type: github, id: gh, name: GitHub, config: {clientID: c, clientSecret: s, redirectURI: "http://127.0.0.1:5556/dex/callback/gh"}}\n',
    );
    const expected = "connectors[0].config.redirectURI: must be the broker's callback URL http://127.0.0.1:5556/dex/callback";
    for (const cmd of ['check-config', 'serve']) {
      const { code, err } = run(cmd, file);
      expect(code).toBe(2);
      expect(err).toContain(expected);
    }
  });

  test("a ConfigError from a connector's create() names its path under connectors[i].config", () => {
    const file = join(dir, 'create.yaml');
    writeFileSync(
      file,
      'issuer: http://127.0.0.1:5556/dex\nstorage: {type: memory}\nweb: {http: "127.0.0.1:0"}\nconnectors:\n  - {type: mockCallback, id: mock, name: Mock}\n  - {type: gitlab, id: gl, name: GitLab, config: {clientID: c, clientSecret: s, rootCAData: bm90IGEgY2VydA==}}\n',
    );
    const { code, err } = run('serve', file);
    expect(code).toBe(2);
    expect(err).toContain('connectors[1].config.rootCAData: is not a base64-encoded PEM certificate bundle');
  });

  test('web.tlsCert / web.tlsKey missing, not PEM or not matching: exit 2 naming the field, in check-config and serve', () => {
    const ca = makeTestCA();
    try {
      const files = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), other: join(dir, 'other.key'), ec: join(dir, 'ec.key'), junk: join(dir, 'junk.pem') };
      writeFileSync(files.cert, ca.cert);
      writeFileSync(files.key, ca.key);
      writeFileSync(files.junk, 'not a certificate\n');
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(files.other, privateKey.export({ type: 'pkcs8', format: 'pem' }));
      // A key of another type than the certificate's: OpenSSL does not compare the two.
      writeFileSync(files.ec, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
      const config = (tlsCert: string, tlsKey: string) => {
        const file = join(dir, 'tls.yaml');
        writeFileSync(file, stringify({ issuer: 'https://127.0.0.1:5556/dex', storage: { type: 'memory' }, web: { https: '127.0.0.1:0', tlsCert, tlsKey }, connectors: [{ type: 'mockCallback', id: 'mock', name: 'Mock' }] }));
        return file;
      };
      const cases: [string, string, string][] = [
        [join(dir, 'missing.crt'), files.key, `web.tlsCert: cannot read ${join(dir, 'missing.crt')}: no such file`],
        [files.junk, files.key, `web.tlsCert: ${files.junk} is not a PEM certificate`],
        [files.cert, files.junk, `web.tlsKey: ${files.junk} is not a PEM private key matching web.tlsCert`],
        [files.cert, files.other, `web.tlsKey: ${files.other} is not a PEM private key matching web.tlsCert`],
        [files.cert, files.ec, `web.tlsKey: ${files.ec} is not a PEM private key matching web.tlsCert`],
      ];
      for (const [cert, key, expected] of cases) {
        for (const cmd of ['check-config', 'serve']) {
          const { code, err } = run(cmd, config(cert, key));
          expect({ cmd, code, err }).toMatchObject({ cmd, code: 2, err: expect.stringContaining(expected) });
        }
      }
      expect(run('check-config', config(files.cert, files.key)).code).toBe(0);
    } finally {
      ca.cleanup();
    }
  }, 60_000);

  test('check-config refuses a listen address serve could not listen on, from the file or a flag', () => {
    const file = join(dir, 'bad-listen.yaml');
    writeFileSync(file, 'issuer: http://127.0.0.1:5556/dex\nstorage: {type: memory}\nweb: {http: "127.0.0.1:99999"}\nconnectors:\n  - {type: mockCallback, id: mock, name: Mock}\n');
    const fromFile = run('check-config', file);
    expect({ code: fromFile.code, err: fromFile.err }).toMatchObject({ code: 2, err: expect.stringContaining('web.http: "127.0.0.1:99999" is not a host:port address') });
    const plain = join(dir, 'no-listen.yaml');
    writeFileSync(plain, 'issuer: http://127.0.0.1:5556/dex\nstorage: {type: memory}\nconnectors:\n  - {type: mockCallback, id: mock, name: Mock}\n');
    const fromFlag = run('check-config', plain, '--web-http-addr=bogus');
    expect({ code: fromFlag.code, err: fromFlag.err }).toMatchObject({ code: 2, err: expect.stringContaining('web.http: "bogus" is not a host:port address') });
  });

  test("Dex's serve flags: check-config without web.http/https names the flags; with them, before or after the file, it is valid", () => {
    const file = join(dir, 'no-web.yaml');
    writeFileSync(file, 'issuer: http://127.0.0.1:5556/dex\nstorage: {type: memory}\nconnectors:\n  - {type: mockCallback, id: mock, name: Mock}\n');
    const bare = run('check-config', file);
    expect(bare.code).toBe(2);
    expect(bare.err).toContain('web: set web.http or web.https (or pass --web-http-addr / --web-https-addr)');
    expect(run('check-config', file, '--web-http-addr', '0.0.0.0:5556')).toMatchObject({ code: 0 });
    expect(run('check-config', '--web-http-addr=0.0.0.0:5556', '--telemetry-addr=0.0.0.0:5558', file)).toMatchObject({ code: 0 });
    const grpc = run('check-config', file, '--web-http-addr=:5556', '--grpc-addr', ':5557');
    expect(grpc.code).toBe(0);
    expect(grpc.err).toContain('warning: --grpc-addr is ignored: dexpress does not serve the gRPC API');
    expect(run('check-config', file, '--web-http-addr')).toMatchObject({ code: 2, err: expect.stringContaining('--web-http-addr needs a value') });
    expect(run('serve', file, '--nope=1')).toMatchObject({ code: 2, err: expect.stringContaining('unknown option "--nope"') });
    expect(run('help', 'serve').out).toContain('--web-http-addr <host:port>   web.http');
  });

  test('--help on every command, and unknown commands exit 2', () => {
    for (const cmd of ['serve', 'check-config', 'connectors']) expect(run(cmd, '--help')).toMatchObject({ code: 0 });
    expect(run('frobnicate').code).toBe(2);
  });
});

interface Server {
  stop(): Promise<number | null>;
  /** Sends a signal and resolves to the exit code. */
  signal(name: NodeJS.Signals): Promise<number | null>;
  output: () => string;
  /** Resolves once the output contains `text` (lines printed together can arrive in separate chunks). */
  waitFor(text: string): Promise<void>;
}

function startServe(...args: string[]): Promise<Server> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${output}`)), 30_000);
    const check = () => {
      if (output.includes('listening on')) {
        clearTimeout(timer);
        resolve({
          output: () => output,
          waitFor: async (text) => {
            const deadline = Date.now() + 10_000;
            while (!output.includes(text)) {
              if (Date.now() > deadline) throw new Error(`serve never printed "${text}": ${output}`);
              await new Promise((r) => setTimeout(r, 20));
            }
          },
          stop: async () => {
            child.kill('SIGTERM');
            return exited;
          },
          signal: async (name) => {
            child.kill(name);
            return exited;
          },
        });
      }
    };
    child.stdout.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`serve exited: ${output}`));
    });
  });
}

test('serve the dev config; after a restart on the same SQLite file, keys, clients and refresh tokens still work', async () => {
  const port = await freePort();
  const config = parse(readFileSync('examples/config-dev.yaml', 'utf8')) as Record<string, unknown>;
  const issuer = `http://127.0.0.1:${port}/dex`;
  config.issuer = issuer;
  config.web = { http: `127.0.0.1:${port}` };
  const metricsPort = await freePort();
  config.telemetry = { http: `127.0.0.1:${metricsPort}` };
  config.storage = { type: 'sqlite3', config: { file: join(dir, 'dev.sqlite') } };
  config.staticClients = [{ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], name: 'Example App' }];
  const file = join(dir, 'dev.yaml');
  writeFileSync(file, stringify(config));

  const first = await startServe(file);
  let refreshToken: string;
  let kid: string;
  try {
    expect(first.output()).toContain('mock (mockCallback), local (password DB)');
    const { tokens, claims } = await login(issuer, { connectorId: 'mock', scope: 'openid email offline_access' });
    expect(claims.email).toBe('kilgore@kilgore.trout');
    refreshToken = tokens.refresh_token!;
    kid = ((await (await fetch(`${issuer}/keys`)).json()) as { keys: { kid: string }[] }).keys[0]!.kid;
    // The password DB of the dev config: admin@example.com / password.
    const pw = await login(issuer, { connectorId: 'local', scope: 'openid email', password: { username: 'admin@example.com', password: 'password' } });
    expect(pw.claims.email).toBe('admin@example.com');
    // Metrics and readiness on the telemetry address, not on the public one.
    await first.waitFor(`metrics on http://127.0.0.1:${metricsPort}/metrics`);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/dexpress_logins_total\{connector="mock",outcome="success"\} 1/);
    expect(metrics).toContain('dexpress_process_resident_memory_bytes');
    expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz/ready`)).status).toBe(200);
    expect((await fetch(`${issuer}/metrics`)).status).toBe(404);
  } finally {
    expect(await first.stop()).toBe(0);
  }

  const second = await startServe(file);
  try {
    const keys = (await (await fetch(`${issuer}/keys`)).json()) as { keys: { kid: string }[] };
    expect(keys.keys.map((k) => k.kid)).toContain(kid);
    const res = await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, basicAuth());
    expect(res.status).toBe(200);
    expect(res.body.id_token).toBeDefined();
  } finally {
    await second.stop();
  }
}, 90_000);

test('serve listens on --web-http-addr and --telemetry-addr when the file has no web block (Dex Helm chart)', async () => {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const file = join(dir, 'helm.yaml');
  writeFileSync(file, `issuer: http://127.0.0.1:${port}/dex\nstorage: {type: memory}\nconnectors:\n  - {type: mockCallback, id: mock, name: Mock}\n`);
  const server = await startServe(`--web-http-addr=127.0.0.1:${port}`, file, '--telemetry-addr', `127.0.0.1:${metricsPort}`);
  try {
    expect(server.output()).toContain(`listening on http://127.0.0.1:${port}`);
    await server.waitFor(`metrics on http://127.0.0.1:${metricsPort}/metrics`);
    expect((await fetch(`http://127.0.0.1:${port}/dex/.well-known/openid-configuration`)).status).toBe(200);
  } finally {
    expect(await server.stop()).toBe(0);
  }
}, 60_000);

describe('serve stops without cutting requests in flight', () => {
  // "password" at bcrypt cost 15: checking it takes the broker a second or two.
  const SLOW_HASH = '$2b$15$3XEvqOVgf.jbrxUfS0WP6eSIj9utpGEP4Kf5MXkVAR7LC2MzQTc4m';

  test('a password grant in flight at SIGTERM completes with 200 and Connection: close, then serve exits 0', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}/dex`;
    const file = join(dir, 'drain.yaml');
    writeFileSync(
      file,
      stringify({
        issuer,
        storage: { type: 'memory' },
        web: { http: `127.0.0.1:${port}` },
        oauth2: { passwordConnector: 'local', grantTypes: ['authorization_code', 'password'] },
        staticClients: [{ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], name: 'App' }],
        enablePasswordDB: true,
        staticPasswords: [{ email: 'admin@example.com', hash: SLOW_HASH, username: 'admin', userID: '08a8684b-db88-4b73-90a9-3cd1661f5466' }],
      }),
    );
    const server = await startServe(file);
    const grant = postForm(`${issuer}/token`, { grant_type: 'password', username: 'admin@example.com', password: 'password', scope: 'openid' }, basicAuth());
    await new Promise((r) => setTimeout(r, 300));
    const exited = server.signal('SIGTERM');
    const res = await grant;
    expect(res.status).toBe(200);
    expect(res.body.id_token).toBeDefined();
    expect(res.headers.get('connection')).toBe('close');
    expect(await exited).toBe(0);
    expect(server.output()).toContain('SIGTERM received');
    // Not accepting any more.
    await expect(fetch(`${issuer}/healthz`)).rejects.toThrow();
  }, 60_000);
});
