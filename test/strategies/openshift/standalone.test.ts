/**
 * The openshift strategy used alone, as README "Using a strategy alone with Passport" shows:
 * `passport.use`, express-session, `passport.authenticate` on the login and callback routes, the
 * login kept in the session. A browser with a cookie jar logs in through the fake cluster, over
 * TLS with a CA made in the test (configured as `rootCA`).
 *
 * The README shows no standalone construction for openshift: the strategy needs the endpoints
 * the cluster's discovery document names. This follows what `strategies/openshift/index.ts`
 * exports and the constructor's doc says: `endpoints` from `discoverOpenShift`, `options.fetch`
 * the one discovery used (`fetchFor(config)` for the config's CA).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import passport from 'passport';
import { DexpressError, UpstreamError, type Identity } from '../../../lib/index.js';
import { configSchema, discoverOpenShift, fetchFor, OpenShiftStrategy, type OpenShiftConfig } from '../../../strategies/openshift/index.js';
import { fetchWithCA } from '../../../strategies/shared/tls.js';
import { CLIENT_ID, CLIENT_SECRET, OpenShiftFake } from '../../fakes/openshift/index.js';
import { makeTestCA, type TlsMaterial } from '../../fakes/platform.js';
import { cookieBrowser, leaksNothing, type CookieBrowser } from '../../helpers/http.js';

let tls: TlsMaterial;
let fake: OpenShiftFake;
/** The browser's fetch for the cluster's pages (it trusts the test CA). */
let browserFetch: typeof fetch;
let server: http.Server;
let appURL = '';
/** What reached the app's error middleware. */
const appErrors: unknown[] = [];

/** The README's app, with the one error middleware STYLE.md asks for (a typed error's status and code, nothing else). */
function createApp(): express.Express {
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user: Identity, done) => done(null, user));
  const app = express();
  app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
  app.use(passport.session());
  // By strategy name: the last test registers a second openshift strategy.
  app.get('/auth/:strategy', (req, res, next) => passport.authenticate(req.params.strategy)(req, res, next));
  app.get('/auth/:strategy/callback', (req, res, next) => passport.authenticate(req.params.strategy)(req, res, next), (req, res) => {
    const { connectorData: _, ...user } = req.user as Identity;
    res.json(user);
  });
  app.get('/me', (req, res) => {
    if (req.user) res.json(req.user);
    else res.status(401).json({ error: 'log in first' });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    appErrors.push(err);
    const status = err instanceof UpstreamError ? err.status : 500;
    res.status(status).json({ error: err instanceof DexpressError ? err.code : 'server_error' });
  });
  return app;
}

/** A login: the app's /auth/openshift, the cluster approving as `as`, then the callback (changed by `rewrite`, if given). */
async function login(browser: CookieBrowser, as: string | undefined, rewrite?: (params: URLSearchParams) => void, strategy = 'openshift') {
  const back = await approvedCallback(browser, as, strategy);
  rewrite?.(back.searchParams);
  return browser.send(back.toString());
}

/** Starts a login in `browser` and returns the callback URL the cluster sends it back to. */
async function approvedCallback(browser: CookieBrowser, as: string | undefined, strategy = 'openshift'): Promise<URL> {
  fake.oauth.approveAs = as;
  const start = await browser.send(`${appURL}/auth/${strategy}`);
  if (start.status !== 302 || !start.location) throw new Error(`/auth/${strategy} answered ${start.status}: ${start.body}`);
  const upstream = await browserFetch(start.location, { redirect: 'manual' });
  return new URL(upstream.headers.get('location')!);
}

async function expectLoggedOut(browser: CookieBrowser): Promise<void> {
  expect((await browser.send(`${appURL}/me`)).status).toBe(401);
}

beforeAll(async () => {
  tls = makeTestCA();
  fake = new OpenShiftFake(tls);
  await fake.listen();
  browserFetch = fetchWithCA({ ca: tls.caPem });
  fake.add({ name: 'alice', uid: '6d3e-alice-uid', fullName: 'Alice Example', groups: ['cluster-admins', 'developers'] });
  fake.add({ name: 'bob', uid: '6d3e-bob-uid', fullName: 'Bob', groups: ['viewers'] });
  server = http.createServer(createApp());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  appURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = openShiftConfig('openshift');
  const clusterFetch = fetchFor(config)!;
  passport.use('openshift', new OpenShiftStrategy(config, await discoverOpenShift(config.issuer, clusterFetch), { fetch: clusterFetch }));
});

/** The config for a strategy registered as `name`: the cluster's CA as `rootCA`, members of `developers` only. */
function openShiftConfig(name: string): OpenShiftConfig {
  return configSchema.parse({
    issuer: fake.oauth.url,
    clientID: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectURI: `${appURL}/auth/${name}/callback`,
    rootCA: tls.caPath,
    groups: ['developers'],
  });
}

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await fake.close();
  tls.cleanup();
});

beforeEach(() => {
  fake.oauth.clearFaults();
  appErrors.length = 0;
});

describe('OpenShiftStrategy alone with Passport', () => {
  test('a login ends with req.user the Identity OpenShift maps (uid, name, all groups, no email), kept in the session', async () => {
    const browser = cookieBrowser();
    const res = await login(browser, 'alice');
    expect(res.status).toBe(200);
    expect(fake.oauth.lastScope).toBe('user:info');
    const alice = { userId: '6d3e-alice-uid', username: 'alice', preferredUsername: 'alice', emailVerified: false, groups: ['cluster-admins', 'developers'] };
    expect(JSON.parse(res.body)).toEqual(alice);
    const me = await browser.send(`${appURL}/me`);
    expect(JSON.parse(me.body)).toEqual(alice);
  });

  test('a callback with a forged state fails (400) before the code is spent, and logs nobody in', async () => {
    const browser = cookieBrowser();
    const grants = fake.oauth.counts.codeGrants;
    const res = await login(browser, 'alice', (p) => p.set('state', 'forged'));
    expect(res.status).toBe(400);
    expect(leaksNothing(res.body)).toBe(true);
    expect(fake.oauth.counts.codeGrants).toBe(grants);
    await expectLoggedOut(browser);
  });

  test('a callback without state fails (400) before the code is spent, and logs nobody in', async () => {
    const browser = cookieBrowser();
    const grants = fake.oauth.counts.codeGrants;
    const res = await login(browser, 'alice', (p) => p.delete('state'));
    expect(res.status).toBe(400);
    expect(fake.oauth.counts.codeGrants).toBe(grants);
    await expectLoggedOut(browser);
  });

  test("another browser's callback (its state and code) fails in this one; the browser that started it still logs in", async () => {
    const victim = cookieBrowser();
    const attacker = cookieBrowser();
    const back = await approvedCallback(attacker, 'alice');
    const res = await victim.send(back.toString());
    expect(res.status).toBe(400);
    await expectLoggedOut(victim);
    expect((await attacker.send(back.toString())).status).toBe(200);
  });

  test('The cluster answering access_denied on the callback is a 403 failure without a stack trace', async () => {
    const browser = cookieBrowser();
    const res = await login(browser, undefined);
    expect(res.status).toBe(403);
    expect(leaksNothing(res.body)).toBe(true);
    expect(appErrors).toEqual([]);
    await expectLoggedOut(browser);
  });

  test('a code the cluster refuses at its token endpoint (invalid_grant) is a 400 failure without a stack trace', async () => {
    const browser = cookieBrowser();
    const res = await login(browser, 'alice', (p) => p.set('code', 'not-a-code'));
    expect(res.status).toBe(400);
    expect(leaksNothing(res.body)).toBe(true);
    expect(appErrors).toEqual([]);
    await expectLoggedOut(browser);
  });

  test("The cluster's token endpoint failing reaches the app's error middleware as an UpstreamError (502), not a login", async () => {
    const browser = cookieBrowser();
    fake.oauth.fail('/oauth/token', { status: 503 });
    const res = await login(browser, 'alice');
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toEqual({ error: 'upstream_error' });
    expect(appErrors).toHaveLength(1);
    expect(appErrors[0]).toBeInstanceOf(UpstreamError);
    await expectLoggedOut(browser);
  });

  test('a user in none of the required groups is a 403 failure', async () => {
    const browser = cookieBrowser();
    const res = await login(browser, 'bob');
    expect(res.status).toBe(403);
    expect(leaksNothing(res.body)).toBe(true);
    await expectLoggedOut(browser);
  });

  // Built alone from a config naming the cluster's CA, without `options.fetch`: the strategy's own
  // calls (token, user) trust that CA too, not only the discovery it was handed a fetch for.
  test('a strategy built from a config with rootCA trusts that CA without being handed a fetch', async () => {
    const config = openShiftConfig('openshift-ca-from-config');
    passport.use('openshift-ca-from-config', new OpenShiftStrategy(config, await discoverOpenShift(config.issuer, fetchFor(config)!)));
    const res = await login(cookieBrowser(), 'alice', undefined, 'openshift-ca-from-config');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ userId: '6d3e-alice-uid' });
  });
});
