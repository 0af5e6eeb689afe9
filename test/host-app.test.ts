/**
 * The broker inside a host Express app, as users mount it: the host's body parsers, helmet,
 * cors, compression, morgan and cookie-parser in front of it; broker.router at the issuer's path
 * between the host's own routes, 404 and error handlers; `trust proxy` with forwarded headers; a
 * host on Express 4; two brokers in one app. Real HTTP on 127.0.0.1, openid-client as the relying
 * party. Each host app starts once, the first time a test asks for it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, test } from '@jest/globals';
import compression from 'compression';
import cookieParser from 'cookie-parser';
import cors from 'cors';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import morgan from 'morgan';
import * as oidc from 'openid-client';
import { pino } from 'pino';
import { createBroker, type Broker } from '../lib/broker.js';
import { createRegistry, type AnyConnectorModule, type ConnectorRegistry } from '../lib/connector.js';
import { PAGE_CSP } from '../lib/send-page.js';
import { connectorModules, connectors } from '../strategies/index.js';
import { createMockPassword, mockPassword, type MockPasswordConfig } from '../strategies/mockPassword/index.js';
import { startChromium } from './browser/chromium.js';
import { TEST_CLIENT } from './helpers/broker.js';
import { enterUserCode, pollOnce } from './helpers/device.js';
import { basicAuth, cookieBrowser, getPage, leaksNothing, postForm } from './helpers/http.js';
import { discover, login, startLogin } from './helpers/rp.js';

/** Express 4, installed under another name (`express4`: npm:express@4); it ships no types of its own. */
// @ts-expect-error no declaration file for the aliased package
import express4Import from 'express4';

type HostApp = ((req: http.IncomingMessage, res: http.ServerResponse) => void) & {
  use(...args: unknown[]): unknown;
  get(...args: unknown[]): unknown;
  set(...args: unknown[]): unknown;
};
const express4 = express4Import as (() => HostApp) & { urlencoded(options: object): unknown; json(): unknown };

const KUBECTL = { id: 'kubectl', public: true, name: 'Kubernetes' };
const CONNECTORS = [
  { type: 'mockCallback', id: 'mock', name: 'Example' },
  { type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: 'trout' } },
];
const PASSWORD = { username: 'kilgore', password: 'trout' };

interface Host {
  issuer: string;
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  broker: Broker;
  /** The broker's log lines, parsed. */
  log: { level: number; msg: string; err?: { message?: string } }[];
}

interface HostOptions {
  /** The issuer's path (default `/dex`). */
  path?: string;
  /** The issuer's origin, when it is not the server's own (an https issuer behind a proxy). */
  issuerOrigin?: string;
  /** Config merged over the default (issuer, memory storage, the test client and kubectl, both connectors). */
  config?: Record<string, unknown>;
  /** Express 4 instead of Express 5. */
  express4?: boolean;
}

const started: { server: http.Server; brokers: Broker[] }[] = [];
afterAll(async () => {
  for (const { server, brokers } of started) {
    server.closeAllConnections();
    server.close();
    for (const b of brokers) await b.close();
  }
});

async function newBroker(issuer: string, config: Record<string, unknown> = {}, registry: ConnectorRegistry = connectors): Promise<{ broker: Broker; log: Host['log'] }> {
  const log: Host['log'] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      log.push(JSON.parse(String(chunk)) as Host['log'][number]);
      done();
    },
  });
  const broker = await createBroker(
    {
      issuer,
      storage: { type: 'memory' },
      oauth2: { skipApprovalScreen: true },
      staticClients: [{ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], name: 'Example App' }, KUBECTL],
      connectors: CONNECTORS,
      ...config,
    },
    { connectors: registry, logger: pino({ level: 'info' }, sink) },
  );
  return { broker, log };
}

/**
 * A host app on 127.0.0.1: `setup(app, broker)` builds it (the host's middleware, the broker
 * mounted its way, the host's routes). Started once per file: memoized by `name`.
 */
const hosts = new Map<string, Promise<Host>>();
function host(name: string, setup: (app: HostApp, broker: Broker) => void, options: HostOptions = {}): Promise<Host> {
  let found = hosts.get(name);
  if (!found) {
    found = (async () => {
      const server = http.createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const issuer = `${options.issuerOrigin ?? origin}${options.path ?? '/dex'}`;
      const { broker, log } = await newBroker(issuer, options.config);
      const app = options.express4 ? express4() : (express() as unknown as HostApp);
      setup(app, broker);
      server.on('request', app);
      started.push({ server, brokers: [broker] });
      return { issuer, origin, broker, log };
    })();
    hosts.set(name, found);
  }
  return found;
}

/** A full code flow through the mock connector, then /userinfo with the access token. */
async function codeFlowAndUserinfo(issuer: string): Promise<void> {
  const { config, tokens, claims } = await login(issuer, { connectorId: 'mock' });
  expect(claims.sub).toBe('Cg0wLTM4NS0yODA4OS0wEgRtb2Nr');
  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub!);
  expect(info.email).toBe('kilgore@kilgore.trout');
}

/** The password connector's form, filled in by the test browser, then the token exchange. */
async function passwordFormLogin(issuer: string): Promise<void> {
  const { claims } = await login(issuer, { connectorId: 'pw', password: PASSWORD });
  expect(claims.sub).toBe('Cg0wLTM4NS0yODA4OS0wEgJwdw');
}

/** The device flow: /device/code, the user code typed on /device, one poll of /token. */
async function deviceFlow(issuer: string): Promise<void> {
  const code = await postForm(`${issuer}/device/code`, { client_id: KUBECTL.id, scope: 'openid email' });
  expect(code.status).toBe(200);
  const done = await enterUserCode(String(code.body.verification_uri_complete));
  expect(done.page?.body).toContain('Return to your device');
  const poll = await pollOnce(issuer, String(code.body.device_code), { client_id: KUBECTL.id });
  expect(poll).toMatchObject({ status: 200, body: { token_type: 'bearer' } });
}

/** The same request as openid-client's token exchange, with a bogus code: answered, not left hanging. */
async function tokenAnswers(issuer: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = postForm(`${issuer}/token`, { grant_type: 'authorization_code', code: 'no-such-code', redirect_uri: TEST_CLIENT.redirectURI }, basicAuth());
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('/token did not answer within 5 s')), 5000).unref());
  return Promise.race([answer, timeout]);
}

/** /token with a bogus code, from a browser page on `origin`. */
function tokenAnswersFrom(issuer: string, origin: string): Promise<{ status: number; headers: Headers }> {
  return postForm(`${issuer}/token`, { grant_type: 'authorization_code', code: 'no-such-code', redirect_uri: TEST_CLIENT.redirectURI }, { ...basicAuth(), origin });
}

describe("the host's body parsers in front of the broker", () => {
  const textHost = () => host('text', (app, broker) => {
    app.use(express.text({ type: '*/*' }));
    app.use(broker.app);
  });
  const rawHost = () => host('raw', (app, broker) => {
    app.use(express.raw({ type: '*/*' }));
    app.use(broker.app);
  });

  test('express.text() reading every body first: /token answers from the text it left (it hung, waiting for a spent stream)', async () => {
    const { issuer } = await textHost();
    expect(await tokenAnswers(issuer)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    await codeFlowAndUserinfo(issuer);
  });

  test('express.text() first: the password form and the device flow read their forms from it', async () => {
    const { issuer } = await textHost();
    await passwordFormLogin(issuer);
    await deviceFlow(issuer);
  });

  test('express.raw() reading every body first: /token reads the form from the Buffer (it took the bytes as parameters "0", "1"...)', async () => {
    const { issuer } = await rawHost();
    expect(await tokenAnswers(issuer)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    await codeFlowAndUserinfo(issuer);
    await passwordFormLogin(issuer);
    await deviceFlow(issuer);
  });

  test('a middleware that drains the body and keeps nothing: /token answers server_error at once, and the log says what to change', async () => {
    const { issuer, log } = await host('drain', (app, broker) => {
      app.use((req: Request, _res: Response, next: NextFunction) => {
        req.on('end', () => next()).resume();
      });
      app.use(broker.app);
    });
    const answer = await tokenAnswers(issuer);
    expect(answer).toMatchObject({ status: 500, body: { error: 'server_error' } });
    expect(leaksNothing(JSON.stringify(answer.body))).toBe(true);
    expect(log.find((l) => l.msg === 'internal error')?.err?.message).toMatch(/read by a middleware in front of the broker.*Mount the broker before that middleware/);
  });

  test('an Express 4 host with express.json(), which sets req.body = {} without reading a form: /token reads the form itself (it saw no parameters: invalid_client)', async () => {
    const { issuer } = await host(
      'express4-json',
      (app, broker) => {
        app.use(express4.json());
        app.use(broker.app);
      },
      { express4: true },
    );
    await codeFlowAndUserinfo(issuer);
    await passwordFormLogin(issuer);
  });
});

describe('the middleware a typical host app has in front', () => {
  const fullHost = () => host('full-stack', (app, broker) => {
    app.use(
      helmet(),
      cors(),
      compression(),
      morgan('combined', { stream: { write: () => undefined } }),
      cookieParser('host-secret'),
      express.json(),
      express.urlencoded({ extended: true }),
    );
    app.get('/', (_req: Request, res: Response) => res.send('host home'));
    app.use(broker.app);
  });

  test('helmet, cors, compression, morgan, cookie-parser, json and urlencoded: the code flow, /userinfo, the password form, form_post and the device flow work', async () => {
    const { issuer } = await fullHost();
    await codeFlowAndUserinfo(issuer);
    await passwordFormLogin(issuer);
    const formPost = await login(issuer, { connectorId: 'mock', params: { response_mode: 'form_post' } });
    expect(formPost.claims.iss).toBe(issuer);
    await deviceFlow(issuer);
  });

  test('a parameter the extended parser read as nested (scope[x]=openid) is refused as not a plain field, a repeated one as sent twice', async () => {
    const { issuer } = await fullHost();
    const send = (body: string) =>
      fetch(`${issuer}/token`, { method: 'POST', headers: { ...basicAuth(), 'Content-Type': 'application/x-www-form-urlencoded' }, body }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    const nested = await send('grant_type=refresh_token&refresh_token=x&scope[x]=openid');
    expect(nested).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'The parameter "scope" is not a plain form field (was it sent as "scope[...]"?).' } });
    const twice = await send('grant_type=refresh_token&refresh_token=x&refresh_token=y');
    expect(twice).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'The parameter "refresh_token" was sent more than once.' } });
  });

  test("helmet's default Content-Security-Policy (form-action 'self', which blocks the redirect back to the client) gives way to the broker's on its pages; the host's pages keep it", async () => {
    const { issuer, origin } = await fullHost();
    const form = await startLogin(issuer, { connectorId: 'pw' });
    expect(form.page?.body).toContain('name="password"');
    expect(form.page?.headers.get('content-security-policy')).toBe(PAGE_CSP);
    const home = await getPage(`${origin}/`);
    expect(home.headers.get('content-security-policy')).toContain("form-action 'self'");
  });

  test("in Chromium behind helmet's defaults, the password form logs in and the browser lands on the client with a code (it was blocked: form-action 'self')", async () => {
    const clientApp = http.createServer((_req, res) => res.end('the client'));
    await new Promise<void>((resolve) => clientApp.listen(0, '127.0.0.1', resolve));
    const redirectURI = `http://127.0.0.1:${(clientApp.address() as AddressInfo).port}/callback`;
    const { issuer } = await host(
      'helmet-chromium',
      (app, broker) => {
        app.use(helmet());
        app.use(broker.app);
      },
      { config: { staticClients: [{ id: 'browser-app', secret: 'YnJvd3Nlci1hcHAtc2VjcmV0', redirectURIs: [redirectURI], name: 'Browser App' }] } },
    );
    const chromium = await startChromium();
    try {
      const page = await chromium.context.newPage();
      const query = new URLSearchParams({ client_id: 'browser-app', redirect_uri: redirectURI, response_type: 'code', scope: 'openid', state: 'helmet-state', connector_id: 'pw' });
      await page.goto(`${issuer}/auth?${query}`);
      await page.fill('input[name="login"]', PASSWORD.username);
      await page.fill('input[name="password"]', PASSWORD.password);
      await Promise.all([page.waitForURL(`${redirectURI}?**`, { timeout: 5000 }), page.click('button[type="submit"]')]);
      expect(new URL(page.url()).searchParams.get('state')).toBe('helmet-state');
    } finally {
      await chromium.close();
      clientApp.close();
    }
  });

  test("with web.headers setting a Content-Security-Policy, the broker's pages carry that one, not helmet's", async () => {
    const policy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";
    const { issuer } = await host(
      'helmet-web-headers',
      (app, broker) => {
        app.use(helmet());
        app.use(broker.app);
      },
      { config: { web: { headers: { 'Content-Security-Policy': policy } } } },
    );
    const form = await startLogin(issuer, { connectorId: 'pw' });
    expect(form.page?.headers.get('content-security-policy')).toBe(policy);
  });
});

describe('broker.router at the issuer path among the host’s own routes', () => {
  const errors: unknown[] = [];
  const routed = () => host(
    'router',
    (app, broker) => {
      app.get('/sso/dex/host-before', (_req: Request, res: Response) => res.send('host route before'));
      app.use('/sso/dex', broker.router);
      app.get('/after', (_req: Request, res: Response) => res.send('host route after'));
      app.use((_req: Request, res: Response) => res.status(404).send('host 404'));
      app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
        errors.push(err);
        res.status(500).send('host error handler');
      });
    },
    { path: '/sso/dex' },
  );

  test('the broker answers under its path (its own 404 and errors included) and leaves every other path, and every error, to the host', async () => {
    const { issuer, origin } = await routed();
    await codeFlowAndUserinfo(issuer);
    expect((await getPage(`${issuer}/host-before`)).body).toBe('host route before');
    expect((await getPage(`${origin}/after`)).body).toBe('host route after');
    expect(await getPage(`${origin}/elsewhere`)).toMatchObject({ status: 404, body: 'host 404' });
    expect(await getPage(`${issuer}/nowhere`)).toMatchObject({ status: 404, body: expect.stringContaining('There is nothing at this address') });
    const badForm = await fetch(`${issuer}/auth/pw/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x='.padEnd(70_000, 'a') });
    expect(badForm.status).toBe(413);
    expect(errors).toEqual([]);
  });

  test('HEAD on discovery and /keys answers like GET without a body; OPTIONS on /token is the broker’s preflight', async () => {
    const { issuer } = await routed();
    for (const path of ['/.well-known/openid-configuration', '/keys']) {
      const head = await fetch(`${issuer}${path}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await head.text()).toBe('');
    }
    const preflight = await fetch(`${issuer}/token`, { method: 'OPTIONS', headers: { origin: 'https://spa.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
  });
});

describe('an issuer at the origin’s root (no path), mounted with app.use(broker.app)', () => {
  const rootHost = () => host(
    'root-issuer',
    (app, broker) => {
      app.use(broker.app);
      app.get('/app', (_req: Request, res: Response) => res.send('host route after'));
      app.use((_req: Request, res: Response) => res.status(404).send('host 404'));
    },
    { path: '' },
  );

  test("the host's routes and 404 after the broker are reached (the broker's 404 answered every path)", async () => {
    const { issuer } = await rootHost();
    await codeFlowAndUserinfo(issuer);
    const hostRoute = await getPage(`${issuer}/app`);
    expect(hostRoute).toMatchObject({ status: 200, body: 'host route after' });
    expect(hostRoute.headers.get('x-request-id')).toBeNull(); // the broker's response headers stay on its own paths
    expect(await getPage(`${issuer}/elsewhere`)).toMatchObject({ status: 404, body: 'host 404' });
    expect(await getPage(`${issuer}/auth/mock/nowhere/else`)).toMatchObject({ status: 404, body: expect.stringContaining('There is nothing at this address') });
  });

  test("a broker with such an issuer served alone (broker.listener, as serve does) answers an unknown path with its own 404", async () => {
    const alone = http.createServer();
    await new Promise<void>((resolve) => alone.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(alone.address() as AddressInfo).port}`;
    const { broker } = await newBroker(origin);
    started.push({ server: alone, brokers: [broker] });
    alone.on('request', broker.listener);
    expect(await getPage(`${origin}/elsewhere`)).toMatchObject({ status: 404, body: expect.stringContaining('There is nothing at this address') });
    expect(await getPage(`${origin}/keys`)).toMatchObject({ status: 200 });
  });
});

describe("Dex's CORS settings, web.allowedOrigins and web.allowedHeaders", () => {
  const SPA = 'https://spa.example';
  const corsHost = () => host(
    'cors',
    (app, broker) => {
      app.use(broker.app);
    },
    { config: { web: { allowedOrigins: [SPA], allowedHeaders: ['Authorization', 'X-Requested-With'] } } },
  );

  test('discovery, /keys, /token and /userinfo answer an allowed origin, and its preflight allows the configured headers (X-Requested-With was refused: only Authorization and Content-Type)', async () => {
    const { issuer } = await corsHost();
    for (const path of ['/.well-known/openid-configuration', '/keys', '/token', '/userinfo']) {
      const preflight = await fetch(`${issuer}${path}`, { method: 'OPTIONS', headers: { origin: SPA, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,x-requested-with' } });
      expect(preflight.headers.get('access-control-allow-origin')).toBe(SPA);
      expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase().split(/,\s*/)).toEqual(expect.arrayContaining(['authorization', 'x-requested-with']));
    }
    expect((await getPage(`${issuer}/keys`, { origin: SPA })).headers.get('access-control-allow-origin')).toBe(SPA);
    expect((await tokenAnswersFrom(issuer, SPA)).headers.get('access-control-allow-origin')).toBe(SPA);
  });

  test('another origin gets no CORS headers, on the preflight or the request', async () => {
    const { issuer } = await corsHost();
    const preflight = await fetch(`${issuer}/token`, { method: 'OPTIONS', headers: { origin: 'https://other.example', 'access-control-request-method': 'POST' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect((await getPage(`${issuer}/.well-known/openid-configuration`, { origin: 'https://other.example' })).headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('trust proxy and forwarded headers', () => {
  test('a forged X-Forwarded-Host changes neither the issuer, nor discovery, nor where the browser is sent', async () => {
    const { issuer } = await host('trust-proxy', (app, broker) => {
      app.set('trust proxy', true);
      app.use(broker.app);
    });
    const forged = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
    const discovery = await getPage(`${issuer}/.well-known/openid-configuration`, forged);
    expect(JSON.parse(discovery.body)).toMatchObject({ issuer, authorization_endpoint: `${issuer}/auth` });
    const config = await discover(issuer);
    const authorize = oidc.buildAuthorizationUrl(config, { redirect_uri: TEST_CLIENT.redirectURI, scope: 'openid', state: 'state-1234567', connector_id: 'mock' });
    const first = await getPage(authorize.toString(), forged);
    expect(first.location).toMatch(new RegExp(`^${issuer}/`));
  });

  test("the host's trust proxy holds for its access log on the broker's requests too (morgan logged the proxy's address: broker.app pinned trust proxy to false)", async () => {
    const lines: string[] = [];
    const { issuer, origin } = await host('trust-proxy-log', (app, broker) => {
      app.set('trust proxy', 'loopback');
      app.use(morgan(':remote-addr :url', { stream: { write: (line: string) => void lines.push(line.trim()) } }));
      app.use(broker.app);
      app.get('/home', (_req: Request, res: Response) => res.send('host'));
    });
    const viaProxy = { 'x-forwarded-for': '203.0.113.9' };
    await getPage(`${origin}/home`, viaProxy);
    await getPage(`${issuer}/keys`, viaProxy);
    await getPage(`${issuer}/healthz`, viaProxy);
    // morgan writes its line when the response has finished, which may be just after the client read it.
    for (let turn = 0; lines.length < 3 && turn < 1000; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toEqual(['203.0.113.9 /home', '203.0.113.9 /dex/keys', '203.0.113.9 /dex/healthz']);
  });

  test('an https issuer behind a TLS-terminating proxy: the session cookie is Secure once X-Forwarded-Proto says https, and the redirects name the issuer', async () => {
    const issuerOrigin = 'https://sso.example.com';
    const { origin } = await host(
      'https-proxy',
      (app, broker) => {
        app.set('trust proxy', 1);
        app.use(broker.app);
      },
      { issuerOrigin },
    );
    const browser = cookieBrowser();
    const proxied = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' };
    const query = new URLSearchParams({ client_id: TEST_CLIENT.id, redirect_uri: TEST_CLIENT.redirectURI, response_type: 'code', scope: 'openid', state: 'state-1234567', connector_id: 'pw' });
    const toConnector = await browser.send(`${origin}/dex/auth?${query}`, { headers: proxied });
    expect(toConnector.location).toMatch(/^https:\/\/sso\.example\.com\/dex\/auth\/pw/);
    const res = await fetch(toConnector.location!.replace(issuerOrigin, origin), { headers: proxied, redirect: 'manual' });
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('dexpress_session='));
    expect(cookie).toMatch(/; Secure/i);
    expect(cookie).toMatch(/; Path=\/dex/);
  });
});

describe('Express 4 and two brokers', () => {
  test("broker.router mounted in an Express 4 app: the code flow, the password form and the device flow work, and the broker's errors stay its own", async () => {
    const errors: unknown[] = [];
    const { issuer } = await host(
      'express4-router',
      (app, broker) => {
        app.use(express4.urlencoded({ extended: true }));
        app.use('/dex', broker.router);
        app.use((err: unknown, _req: unknown, res: Response, _next: unknown) => {
          errors.push(err);
          res.status(500).send('host error handler');
        });
      },
      { express4: true },
    );
    await codeFlowAndUserinfo(issuer);
    await passwordFormLogin(issuer);
    await deviceFlow(issuer);
    const notAForm = await postForm(`${issuer}/device/code`, { client_id: KUBECTL.id, scope: 'openid' }, { 'content-type': 'application/json' });
    expect(notAForm).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await getPage(`${issuer}/nowhere`)).toMatchObject({ status: 404, body: expect.stringContaining('There is nothing at this address') });
    expect(errors).toEqual([]);
  });

  test('two brokers in one app, at /a and /b: each serves its own issuer, and a code from one is not redeemed at the other', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const a = await newBroker(`${origin}/a`);
    const b = await newBroker(`${origin}/b`);
    started.push({ server, brokers: [a.broker, b.broker] });
    const app = express();
    app.use(a.broker.app);
    app.use(b.broker.app);
    server.on('request', app);
    await codeFlowAndUserinfo(`${origin}/a`);
    await codeFlowAndUserinfo(`${origin}/b`);
    const atA = await startLogin(`${origin}/a`, { connectorId: 'mock' });
    const code = atA.landed!.searchParams.get('code')!;
    const atB = await postForm(`${origin}/b/token`, { grant_type: 'authorization_code', code, redirect_uri: TEST_CLIENT.redirectURI }, basicAuth());
    expect(atB).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });
});

describe('broker.close() with a request in flight', () => {
  /** A password connector whose logins wait until the test lets them go on. */
  function heldPassword() {
    let arrived!: () => void;
    let release!: () => void;
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const module = {
      ...mockPassword,
      type: 'held',
      capabilities: { refresh: true, groups: true, preferredUsername: true, status: 'alpha' },
      create(config: MockPasswordConfig) {
        const made = createMockPassword(config);
        return {
          ...made,
          async login(username: string, password: string) {
            arrived();
            await released;
            return made.login(username, password);
          },
        };
      },
    } satisfies AnyConnectorModule;
    return { module, inFlight, release };
  }

  test('the request in flight gets its tokens before storage closes; close() waits for it; requests after it began are 503 temporarily_unavailable (they ran on closed SQLite: server_error)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dexpress-host-close-'));
    const held = heldPassword();
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { broker } = await newBroker(
      `${origin}/dex`,
      {
        storage: { type: 'sqlite3', config: { file: path.join(dir, 'dexpress.sqlite') } },
        connectors: [{ type: 'held', id: 'held', name: 'Held', config: { username: 'kilgore', password: 'trout' } }],
        oauth2: { skipApprovalScreen: true, passwordConnector: 'held' },
      },
      createRegistry([...connectorModules, held.module]),
    );
    const app = express();
    app.use(broker.app);
    server.on('request', app);
    try {
      const grant = { grant_type: 'password', username: 'kilgore', password: 'trout', scope: 'openid offline_access' };
      const answer = postForm(`${origin}/dex/token`, grant, basicAuth());
      await held.inFlight;
      let closed = false;
      const closing = broker.close().then(() => (closed = true));
      const late = await postForm(`${origin}/dex/token`, { grant_type: 'authorization_code', code: 'no-such-code', redirect_uri: TEST_CLIENT.redirectURI }, basicAuth());
      expect(late).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable' } });
      expect((await getPage(`${origin}/dex/keys`)).status).toBe(503);
      expect((await getPage(`${origin}/dex/auth?client_id=${TEST_CLIENT.id}`)).status).toBe(503);
      expect(closed).toBe(false);
      held.release();
      expect(await answer).toMatchObject({ status: 200, body: { token_type: 'bearer', refresh_token: expect.any(String) } });
      await closing;
      expect(closed).toBe(true);
    } finally {
      server.closeAllConnections();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
