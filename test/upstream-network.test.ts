/**
 * How the broker reaches its upstreams in real networks, as Dex (Go's net/http) does: through the
 * proxy of HTTPS_PROXY / HTTP_PROXY with Go's NO_PROXY rules, and trusting a CA installed for the
 * whole process (NODE_EXTRA_CA_CERTS, the README's answer to Go's system store) even where a
 * connector adds its own root CA.
 *
 * `dexpress serve` runs as a child with the proxy variables set. The upstreams are the repo's
 * fakes on 127.0.0.1 but configured under names that do not resolve (`github.test`,
 * `gitea.test`): only the proxy written here maps them, so a login works only through it.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Agent, fetch as undiciFetch, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { stringify } from 'yaml';
import { proxyFor, ProxyEnvironmentError, readProxyEnvironment } from '../lib/proxy-environment.js';
import { proxyAgentFromEnvironment } from '../lib/upstream-agent.js';
import { upstreamFetch as oidcFetch } from '../strategies/oidc/fetch.js';
import { GitHubFake, CLIENT_ID as GITHUB_ID, CLIENT_SECRET as GITHUB_SECRET } from './fakes/github/index.js';
import { GiteaFake, CLIENT_ID as GITEA_ID, CLIENT_SECRET as GITEA_SECRET } from './fakes/gitea/index.js';
import type { TlsMaterial } from './fakes/platform.js';
import { cookieBrowser, leaksNothing } from './helpers/http.js';
import { freePort } from './helpers/ports.js';

const BIN = join(process.cwd(), 'bin', 'dexpress.js');
const REDIRECT = 'http://127.0.0.1:9/callback';
const dir = mkdtempSync(join(tmpdir(), 'dexpress-network-'));

describe("Go's proxy rules (golang.org/x/net/http/httpproxy)", () => {
  const via = (url: string, env: NodeJS.ProcessEnv) => proxyFor(new URL(url), readProxyEnvironment(env))?.href;
  const proxy = 'http://proxy.corp:3128/';

  test('HTTPS_PROXY for https: URLs, HTTP_PROXY for http: ones, and no fallback from one to the other', () => {
    expect(via('https://github.com/', { HTTPS_PROXY: proxy })).toBe(proxy);
    expect(via('http://gitea.corp/', { HTTPS_PROXY: proxy })).toBeUndefined();
    expect(via('https://github.com/', { HTTP_PROXY: proxy })).toBeUndefined();
    expect(via('http://gitea.corp/', { HTTP_PROXY: proxy })).toBe(proxy);
  });

  test('the upper-case variable wins over the lower-case one; a value without a scheme is http://', () => {
    expect(via('https://a.example/', { HTTPS_PROXY: 'upper:1', https_proxy: 'http://lower:2' })).toBe('http://upper:1/');
    expect(via('https://a.example/', { https_proxy: '10.0.0.1:3128' })).toBe('http://10.0.0.1:3128/');
  });

  test('localhost and loopback addresses are never proxied, whatever NO_PROXY says', () => {
    for (const url of ['https://localhost:8443/', 'https://127.0.0.1/', 'https://127.9.9.9/', 'https://[::1]:5556/', 'https://[::ffff:127.0.0.1]/']) {
      expect(via(url, { HTTPS_PROXY: proxy })).toBeUndefined();
    }
    expect(via('https://127.example/', { HTTPS_PROXY: proxy })).toBe(proxy);
  });

  test('NO_PROXY: domains with their subdomains, leading dot or *. for subdomains only, ports, IPs, CIDRs and *', () => {
    const env = { HTTPS_PROXY: proxy, NO_PROXY: ' Example.com, .corp.internal,*.svc.local, ldap.org:8443, 192.168.1.10, 10.0.0.0/8, fd00::/8' };
    const direct = ['https://example.com/', 'https://a.b.EXAMPLE.com/', 'https://x.corp.internal/', 'https://a.svc.local/', 'https://ldap.org:8443/', 'https://192.168.1.10/', 'https://10.200.0.1/', 'https://[fd00::1]/'];
    const proxied = ['https://badexample.com/', 'https://corp.internal/', 'https://svc.local/', 'https://ldap.org/', 'https://192.168.1.11/', 'https://11.0.0.1/', 'https://[fe80::1]/'];
    for (const url of direct) expect([url, via(url, env)]).toEqual([url, undefined]);
    for (const url of proxied) expect([url, via(url, env)]).toEqual([url, proxy]);
    expect(via('https://anything.example/', { HTTPS_PROXY: proxy, no_proxy: '*' })).toBeUndefined();
  });

  test('HTTP_PROXY is ignored in a CGI environment; a SOCKS proxy is refused by name rather than ignored', () => {
    expect(via('http://gitea.corp/', { HTTP_PROXY: proxy, REQUEST_METHOD: 'GET' })).toBeUndefined();
    expect(() => readProxyEnvironment({ HTTPS_PROXY: 'socks5://127.0.0.1:1080' })).toThrow(ProxyEnvironmentError);
    expect(() => readProxyEnvironment({ HTTPS_PROXY: 'socks5://127.0.0.1:1080' })).toThrow(/^HTTPS_PROXY: SOCKS proxies are not supported/);
  });
});

test('serve with a SOCKS proxy in HTTPS_PROXY (which Go takes and undici cannot) stops at start-up naming the variable', () => {
  const file = join(dir, 'socks.yaml');
  writeFileSync(file, stringify({ issuer: 'http://127.0.0.1:5556/dex', storage: { type: 'memory' }, web: { http: '127.0.0.1:0' }, connectors: [{ type: 'mockCallback', id: 'mock', name: 'Mock' }] }));
  const r = spawnSync(process.execPath, [BIN, 'serve', file], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, HTTPS_PROXY: 'socks5://127.0.0.1:1080' } });
  expect({ code: r.status, out: r.stdout, err: r.stderr }).toEqual({
    code: 1,
    out: '',
    err: 'dexpress: cannot start: HTTPS_PROXY: SOCKS proxies are not supported (use an HTTP proxy that answers CONNECT)\n',
  });
});

/** A throwaway CA, and a server certificate from it for `names` (and 127.0.0.1). */
function makeCA(label: string, names: string[]): TlsMaterial {
  const caDir = mkdtempSync(join(dir, `${label}-`));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: caDir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', `/CN=${label} CA`);
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${names[0]}`);
  writeFileSync(join(caDir, 'ext.cnf'), `subjectAltName=${[...names.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(',')}\n`);
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'ext.cnf');
  return {
    caPem: readFileSync(join(caDir, 'ca.pem'), 'utf8'),
    caPath: join(caDir, 'ca.pem'),
    key: readFileSync(join(caDir, 'server.key'), 'utf8'),
    cert: readFileSync(join(caDir, 'server.pem'), 'utf8'),
    cleanup: () => rmSync(caDir, { recursive: true, force: true }),
  };
}

interface ProxyLog {
  /** `CONNECT host:port` targets and absolute-URI requests, in order. */
  seen: string[];
  /** Proxy-Authorization headers received. */
  auth: (string | undefined)[];
}

/**
 * A forward proxy (CONNECT tunnels and absolute-URI requests) that maps every `*.test` name to
 * 127.0.0.1, and answers 407 unless the request carries Basic `user:pass`.
 */
async function startProxy(credentials: string): Promise<{ port: number; log: ProxyLog; close(): Promise<void> }> {
  const log: ProxyLog = { seen: [], auth: [] };
  const expected = `Basic ${Buffer.from(credentials).toString('base64')}`;
  const resolveHost = (host: string) => (host.endsWith('.test') ? '127.0.0.1' : host);
  const server = http.createServer((req, res) => {
    log.seen.push(`${req.method} ${req.url}`);
    log.auth.push(req.headers['proxy-authorization']);
    if (req.headers['proxy-authorization'] !== expected) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' }).end();
      return;
    }
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const upstream = http.request({ host: resolveHost(target.hostname), port: target.port || 80, method: req.method, path: `${target.pathname}${target.search}`, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    log.seen.push(`CONNECT ${req.url}`);
    log.auth.push(req.headers['proxy-authorization']);
    client.on('error', () => client.destroy());
    if (req.headers['proxy-authorization'] !== expected) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host = '', port = '443'] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), resolveHost(host), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    log,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

interface Served {
  issuer: string;
  output(): string;
  stop(): Promise<void>;
}

/** `dexpress serve` on `config` with `env` added to the environment, once it listens. */
async function startServe(name: string, config: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<Served> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/dex`;
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      issuer,
      storage: { type: 'memory' },
      web: { http: `127.0.0.1:${port}` },
      oauth2: { skipApprovalScreen: true },
      staticClients: [{ id: 'app', secret: 'app-secret', name: 'App', redirectURIs: [REDIRECT] }],
      ...config,
    }),
  );
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(https?_proxy|no_proxy|node_extra_ca_certs)$/i.test(k)));
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', file], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  while (!output.includes('listening on')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    issuer,
    output: () => output,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A browser that does not trust the test CAs and resolves `*.test` to 127.0.0.1 itself. */
const browserAgent = new Agent({ connect: { rejectUnauthorized: false } });

type Outcome = { landed: URL } | { status: number; body: string };

/**
 * A browser login through `connector`: the broker's redirects, the upstream's authorization
 * endpoint (which approves at once), then the broker's callback, where it calls the upstream.
 */
async function loginThrough(served: Served, connector: string): Promise<Outcome> {
  const browser = cookieBrowser();
  const query = new URLSearchParams({ client_id: 'app', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid email', state: 'st', connector_id: connector });
  let url = `${served.issuer}/auth?${query}`;
  for (let step = 0; step < 10; step++) {
    if (url.startsWith(REDIRECT)) return { landed: new URL(url) };
    const target = new URL(url);
    if (target.origin !== new URL(served.issuer).origin) {
      target.hostname = '127.0.0.1';
      const res = await undiciFetch(target, { redirect: 'manual', dispatcher: browserAgent });
      await res.body?.cancel();
      url = new URL(res.headers.get('location') ?? '', target).toString();
      continue;
    }
    const res = await browser.send(url);
    if (res.status < 300 || res.status > 399 || !res.location) return { status: res.status, body: res.body };
    url = new URL(res.location, url).toString();
  }
  throw new Error('the login went round in circles');
}

describe('dexpress serve through a proxy', () => {
  let ca: TlsMaterial;
  let otherCA: TlsMaterial;
  let github: GitHubFake;
  let githubBehindOtherCA: GitHubFake;
  let gitea: GiteaFake;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let served: Served;
  let proxyDown: Served;
  let wrongCredentials: Served;

  beforeAll(async () => {
    ca = makeCA('upstream', ['github.test']);
    otherCA = makeCA('installed', ['ghe2.test']);
    github = new GitHubFake({ enterprise: ca });
    githubBehindOtherCA = new GitHubFake({ enterprise: otherCA });
    gitea = new GiteaFake();
    await Promise.all([github.listen(), githubBehindOtherCA.listen(), gitea.listen()]);
    const alice = { id: 1, login: 'alice', name: 'Alice', email: null, orgs: [], teams: [], emails: [{ email: 'alice@corp.example', verified: true, primary: true, visibility: null }] };
    github.add(alice);
    githubBehindOtherCA.add(alice);
    github.oauth.approveAs = 'alice';
    githubBehindOtherCA.oauth.approveAs = 'alice';
    gitea.addUser('bob');
    gitea.oauth.approveAs = 'bob';
    proxy = await startProxy('user:p@ss');
    const portOf = (url: string) => new URL(url).port;
    const githubConnector = (id: string, host: string, url: string) => ({
      type: 'github',
      id,
      name: id,
      config: { clientID: GITHUB_ID, clientSecret: GITHUB_SECRET, hostName: `${host}:${portOf(url)}`, rootCA: ca.caPath },
    });
    const giteaConnector = (id: string, base: string) => ({ type: 'gitea', id, name: id, config: { clientID: GITEA_ID, clientSecret: GITEA_SECRET, baseURL: base } });
    const connectors = [
      githubConnector('ghe', 'github.test', github.oauth.url),
      // Its certificate is from a CA installed for the whole process, not the one in rootCA.
      githubConnector('ghe2', 'ghe2.test', githubBehindOtherCA.oauth.url),
      giteaConnector('gitea', `http://gitea.test:${portOf(gitea.oauth.url)}`),
      giteaConnector('direct', `http://direct.test:${portOf(gitea.oauth.url)}`),
      giteaConnector('loopback', gitea.oauth.url),
      githubConnector('ghe-loopback', '127.0.0.1', github.oauth.url),
    ];
    const proxyURL = `http://user:p%40ss@127.0.0.1:${proxy.port}`;
    [served, proxyDown, wrongCredentials] = await Promise.all([
      startServe('proxied', { connectors }, { HTTPS_PROXY: proxyURL, http_proxy: proxyURL, NO_PROXY: 'direct.test', NODE_EXTRA_CA_CERTS: otherCA.caPath }),
      startServe('proxy-down', { connectors: connectors.slice(0, 1) }, { HTTPS_PROXY: `http://127.0.0.1:${await freePort()}` }),
      startServe('wrong-credentials', { connectors: connectors.slice(0, 1) }, { HTTPS_PROXY: `http://user:wrong@127.0.0.1:${proxy.port}` }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([served?.stop(), proxyDown?.stop(), wrongCredentials?.stop()]);
    await Promise.all([github?.close(), githubBehindOtherCA?.close(), gitea?.close(), proxy?.close()]);
    await browserAgent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('serve says which proxies upstream calls go through, without the credentials', () => {
    expect(served.output()).toContain(`dexpress: upstream calls through proxy (https: http://127.0.0.1:${proxy.port}, http: http://127.0.0.1:${proxy.port}), not for NO_PROXY direct.test\n`);
    expect(served.output()).not.toContain('p%40ss');
  });

  test('GitHub Enterprise with rootCA logs in through a CONNECT tunnel, with Basic credentials from the proxy URL', async () => {
    const before = proxy.log.seen.length;
    const outcome = await loginThrough(served, 'ghe');
    expect(outcome).toEqual({ landed: expect.objectContaining({ search: expect.stringContaining('code=') }) });
    const port = new URL(github.oauth.url).port;
    expect(new Set(proxy.log.seen.slice(before))).toEqual(new Set([`CONNECT github.test:${port}`]));
    expect(proxy.log.auth.at(-1)).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`);
  });

  test('a connector without a CA of its own (global fetch) reaches an http: upstream through HTTP_PROXY as absolute-URI requests', async () => {
    const before = proxy.log.seen.length;
    const outcome = await loginThrough(served, 'gitea');
    expect(outcome).toEqual({ landed: expect.objectContaining({ search: expect.stringContaining('code=') }) });
    const base = `http://gitea.test:${new URL(gitea.oauth.url).port}`;
    expect(proxy.log.seen.slice(before)).toEqual(expect.arrayContaining([`POST ${base}/login/oauth/access_token`, `GET ${base}/api/v1/user`]));
  });

  test('a CA installed with NODE_EXTRA_CA_CERTS is trusted by a connector that also has a rootCA of its own (Go: system pool plus rootCA)', async () => {
    const outcome = await loginThrough(served, 'ghe2');
    expect(outcome).toEqual({ landed: expect.objectContaining({ search: expect.stringContaining('code=') }) });
  });

  test('NO_PROXY exempts its host (the direct connection fails here) and loopback is never proxied, with or without a rootCA', async () => {
    const before = proxy.log.seen.length;
    const direct = await loginThrough(served, 'direct');
    expect(direct).toMatchObject({ status: 502 });
    expect((direct as { body: string }).body).toMatch(/could not be reached|cannot be reached/i);
    const loopback = await loginThrough(served, 'loopback');
    expect(loopback).toEqual({ landed: expect.objectContaining({ search: expect.stringContaining('code=') }) });
    // A direct connection keeps the connector's rootCA.
    const loopbackWithCA = await loginThrough(served, 'ghe-loopback');
    expect(loopbackWithCA).toEqual({ landed: expect.objectContaining({ search: expect.stringContaining('code=') }) });
    expect(proxy.log.seen.slice(before)).toEqual([]);
  });

  test('a proxy that is down: the login page says the upstream cannot be reached (502), and serve keeps serving', async () => {
    const outcome = await loginThrough(proxyDown, 'ghe');
    expect(outcome).toMatchObject({ status: 502 });
    const { body } = outcome as { body: string };
    expect(body).toMatch(/could not be reached|cannot be reached/i);
    expect(leaksNothing(body)).toBe(true);
    expect((await fetch(`${proxyDown.issuer}/healthz`)).status).toBe(200);
  });

  test('a proxy that refuses the credentials (407): the same error page, and serve keeps serving', async () => {
    const outcome = await loginThrough(wrongCredentials, 'ghe');
    expect(outcome).toMatchObject({ status: 502 });
    expect((outcome as { body: string }).body).toMatch(/could not be reached|cannot be reached/i);
    expect((await fetch(`${wrongCredentials.issuer}/healthz`)).status).toBe(200);
  });

  test("oidc rootCAs and insecureSkipVerify follow a host app's proxyAgentFromEnvironment() installed after the connector was made", async () => {
    const trusting = oidcFetch([ca.caPath])!;
    const unverified = oidcFetch([], true)!;
    const url = `https://github.test:${new URL(github.oauth.url).port}/api/v3/user`;
    const previous = getGlobalDispatcher();
    const agent = proxyAgentFromEnvironment({ environment: readProxyEnvironment({ HTTPS_PROXY: `http://user:p%40ss@127.0.0.1:${proxy.port}` }) });
    setGlobalDispatcher(agent);
    try {
      const before = proxy.log.seen.length;
      expect((await trusting(url, { headers: { 'user-agent': 'test' } })).status).toBe(401);
      expect((await unverified(url, { headers: { 'user-agent': 'test' } })).status).toBe(401);
      expect(proxy.log.seen.slice(before)).toEqual([`CONNECT github.test:${new URL(github.oauth.url).port}`, `CONNECT github.test:${new URL(github.oauth.url).port}`]);
    } finally {
      setGlobalDispatcher(previous);
      await agent.close();
    }
  });
});
