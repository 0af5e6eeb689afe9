/**
 * The gitea strategy used alone, as README "Using a strategy alone with Passport" shows:
 * `passport.use`, express-session, `passport.authenticate` on the login and callback routes, the
 * login kept in the session. A browser with a cookie jar logs in through the fake Gitea.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import passport from 'passport';
import { DexpressError, UpstreamError, type Identity } from '../../../lib/index.js';
import { configSchema, GiteaStrategy } from '../../../strategies/gitea/index.js';
import { CLIENT_ID, CLIENT_SECRET, GiteaFake, type FakeGiteaUser } from '../../fakes/gitea/index.js';
import { cookieBrowser, leaksNothing, type CookieBrowser } from '../../helpers/http.js';

const fake = new GiteaFake();
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
  app.get('/auth/gitea', passport.authenticate('gitea'));
  app.get('/auth/gitea/callback', passport.authenticate('gitea'), (req, res) => {
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

/** A login: the app's /auth/gitea, Gitea approving as `as`, then the callback (changed by `rewrite`, if given). */
async function login(browser: CookieBrowser, as: string | undefined, rewrite?: (params: URLSearchParams) => void) {
  const back = await approvedCallback(browser, as);
  rewrite?.(back.searchParams);
  return browser.send(back.toString());
}

/** Starts a login in `browser` and returns the callback URL Gitea sends it back to. */
async function approvedCallback(browser: CookieBrowser, as: string | undefined): Promise<URL> {
  fake.oauth.approveAs = as;
  const start = await browser.send(`${appURL}/auth/gitea`);
  if (start.status !== 302 || !start.location) throw new Error(`/auth/gitea answered ${start.status}: ${start.body}`);
  const upstream = await fetch(start.location, { redirect: 'manual' });
  return new URL(upstream.headers.get('location')!);
}

async function expectLoggedOut(browser: CookieBrowser): Promise<void> {
  expect((await browser.send(`${appURL}/me`)).status).toBe(401);
}

function user(login: string, over: Partial<FakeGiteaUser> = {}): FakeGiteaUser {
  return fake.add({
    id: 70 + fake.users.size,
    login,
    fullName: `${login} Example`,
    email: `${login}@example.com`,
    emails: [{ email: `${login}@example.com`, verified: true, primary: true }],
    teams: [
      { org: 'acme', name: 'Owners' },
      { org: 'acme', name: 'devs' },
      { org: 'tools', name: 'ci' },
    ],
    ...over,
  });
}

beforeAll(async () => {
  await fake.listen();
  user('alice');
  user('bob', { teams: [{ org: 'acme', name: 'interns' }] });
  server = http.createServer(createApp());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  appURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Without `orgs` (or `loadAllGroups`) Gitea gives no groups: admit acme's devs and tools' members.
  const orgs = [{ name: 'acme', teams: ['devs'] }, { name: 'tools' }];
  const config = configSchema.parse({ baseURL: fake.oauth.url, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectURI: `${appURL}/auth/gitea/callback`, orgs });
  passport.use('gitea', new GiteaStrategy(config));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await fake.close();
});

beforeEach(() => {
  fake.oauth.clearFaults();
  appErrors.length = 0;
});

describe('GiteaStrategy alone with Passport', () => {
  test('a login ends with req.user the Identity Gitea maps (orgs and listed teams), kept in the session', async () => {
    const browser = cookieBrowser();
    const res = await login(browser, 'alice');
    expect(res.status).toBe(200);
    // As Dex, no scope is asked; alone, no upstream tokens are kept in the identity.
    expect(fake.oauth.lastScope).toBe('');
    const alice = { userId: '70', username: 'alice Example', preferredUsername: 'alice', email: 'alice@example.com', emailVerified: true, groups: ['acme', 'acme:devs', 'tools'] };
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

  test('Gitea answering access_denied on the callback is a 403 failure without a stack trace', async () => {
    const browser = cookieBrowser();
    const res = await login(browser, undefined);
    expect(res.status).toBe(403);
    expect(leaksNothing(res.body)).toBe(true);
    expect(appErrors).toEqual([]);
    await expectLoggedOut(browser);
  });

  test('a code Gitea refuses at its token endpoint (invalid_grant) is a 400 failure without a stack trace', async () => {
    const browser = cookieBrowser();
    const res = await login(browser, 'alice', (p) => p.set('code', 'not-a-code'));
    expect(res.status).toBe(400);
    expect(leaksNothing(res.body)).toBe(true);
    expect(appErrors).toEqual([]);
    await expectLoggedOut(browser);
  });

  test("Gitea's token endpoint failing reaches the app's error middleware as an UpstreamError (502), not a login", async () => {
    const browser = cookieBrowser();
    fake.oauth.fail('/login/oauth/access_token', { status: 503 });
    const res = await login(browser, 'alice');
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toEqual({ error: 'upstream_error' });
    expect(appErrors).toHaveLength(1);
    expect(appErrors[0]).toBeInstanceOf(UpstreamError);
    await expectLoggedOut(browser);
  });

  test('an org member in none of the listed teams is a 403 failure', async () => {
    const browser = cookieBrowser();
    const res = await login(browser, 'bob');
    expect(res.status).toBe(403);
    expect(leaksNothing(res.body)).toBe(true);
    await expectLoggedOut(browser);
  });
});
