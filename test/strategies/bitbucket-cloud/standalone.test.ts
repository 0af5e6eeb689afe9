/**
 * The bitbucket-cloud strategy used alone, as README "Using a strategy alone with Passport" shows:
 * `passport.use`, express-session, `passport.authenticate` on the login and callback routes, the
 * login kept in the session. A browser with a cookie jar logs in through the fake Bitbucket
 * Cloud (the strategy's `endpoints` option points it there instead of bitbucket.org).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import passport from 'passport';
import { DexpressError, UpstreamError, type Identity } from '../../../lib/index.js';
import { BitbucketCloudStrategy, configSchema } from '../../../strategies/bitbucket-cloud/index.js';
import { BitbucketFake, CLIENT_ID, CLIENT_SECRET, type FakeBitbucketUser } from '../../fakes/bitbucket-cloud/index.js';
import { cookieBrowser, leaksNothing, type CookieBrowser } from '../../helpers/http.js';

const fake = new BitbucketFake();
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
  app.get('/auth/bitbucket', passport.authenticate('bitbucket-cloud'));
  app.get('/auth/bitbucket/callback', passport.authenticate('bitbucket-cloud'), (req, res) => {
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

/** A login: the app's /auth/bitbucket, Bitbucket approving as `as`, then the callback (changed by `rewrite`, if given). */
async function login(browser: CookieBrowser, as: string | undefined, rewrite?: (params: URLSearchParams) => void) {
  const back = await approvedCallback(browser, as);
  rewrite?.(back.searchParams);
  return browser.send(back.toString());
}

/** Starts a login in `browser` and returns the callback URL Bitbucket sends it back to. */
async function approvedCallback(browser: CookieBrowser, as: string | undefined): Promise<URL> {
  fake.oauth.approveAs = as;
  const start = await browser.send(`${appURL}/auth/bitbucket`);
  if (start.status !== 302 || !start.location) throw new Error(`/auth/bitbucket answered ${start.status}: ${start.body}`);
  const upstream = await fetch(start.location, { redirect: 'manual' });
  return new URL(upstream.headers.get('location')!);
}

async function expectLoggedOut(browser: CookieBrowser): Promise<void> {
  expect((await browser.send(`${appURL}/me`)).status).toBe(401);
}

function user(nickname: string, over: Partial<FakeBitbucketUser> = {}): FakeBitbucketUser {
  return fake.add({
    uuid: `{${nickname}-0000-1111}`,
    accountId: `5f:${nickname}`,
    displayName: `${nickname} Example`,
    nickname,
    emails: [
      { email: `${nickname}.old@example.com`, is_primary: false, is_confirmed: true },
      { email: `${nickname}@example.com`, is_primary: true, is_confirmed: true },
    ],
    workspaces: [
      { slug: 'acme', permission: 'owner' },
      { slug: 'tools', permission: 'member' },
    ],
    ...over,
  });
}

beforeAll(async () => {
  await fake.listen();
  user('alice');
  user('carol', { emails: [{ email: 'carol@example.com', is_primary: true, is_confirmed: false }] });
  server = http.createServer(createApp());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  appURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = configSchema.parse({ clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectURI: `${appURL}/auth/bitbucket/callback` });
  passport.use('bitbucket-cloud', new BitbucketCloudStrategy(config, { endpoints: fake.endpoints() }));
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

describe('BitbucketCloudStrategy alone with Passport', () => {
  test('a login ends with req.user the Identity Bitbucket maps (UUID, primary confirmed email, workspaces), kept in the session', async () => {
    const browser = cookieBrowser();
    const res = await login(browser, 'alice');
    expect(res.status).toBe(200);
    // Alone, a login asks for groups (the workspaces) and keeps no upstream tokens; Bitbucket has no username to prefer.
    expect(fake.oauth.lastScope).toBe('account email');
    const alice = { userId: '{alice-0000-1111}', username: 'alice Example', email: 'alice@example.com', emailVerified: true, groups: ['acme', 'tools'] };
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

  test('Bitbucket answering access_denied on the callback is a 403 failure without a stack trace', async () => {
    const browser = cookieBrowser();
    const res = await login(browser, undefined);
    expect(res.status).toBe(403);
    expect(leaksNothing(res.body)).toBe(true);
    expect(appErrors).toEqual([]);
    await expectLoggedOut(browser);
  });

  test('a code Bitbucket refuses at its token endpoint (invalid_grant) is a 400 failure without a stack trace', async () => {
    const browser = cookieBrowser();
    const res = await login(browser, 'alice', (p) => p.set('code', 'not-a-code'));
    expect(res.status).toBe(400);
    expect(leaksNothing(res.body)).toBe(true);
    expect(appErrors).toEqual([]);
    await expectLoggedOut(browser);
  });

  test("Bitbucket's token endpoint failing reaches the app's error middleware as an UpstreamError (502), not a login", async () => {
    const browser = cookieBrowser();
    fake.oauth.fail('/site/oauth2/access_token', { status: 503 });
    const res = await login(browser, 'alice');
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toEqual({ error: 'upstream_error' });
    expect(appErrors).toHaveLength(1);
    expect(appErrors[0]).toBeInstanceOf(UpstreamError);
    await expectLoggedOut(browser);
  });

  test('a user without a confirmed primary email is a 403 failure', async () => {
    const browser = cookieBrowser();
    const res = await login(browser, 'carol');
    expect(res.status).toBe(403);
    expect(leaksNothing(res.body)).toBe(true);
    await expectLoggedOut(browser);
  });
});
