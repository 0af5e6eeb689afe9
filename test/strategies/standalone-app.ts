/**
 * The app of README.md's "Using a strategy alone with Passport", around one strategy: Passport
 * keeps the whole Identity in express-session, `/login` and `/callback` both run
 * `passport.authenticate(name)`, and `/me` shows who the session is logged in as (or, when no
 * one, the failure messages Passport kept with `failureMessage`). No error middleware: a strategy
 * that reports a refusal as an error instead of a failure shows Express's stack trace page.
 *
 * Also the browser side of an OAuth login: a cookie jar for the app, and the upstream's
 * authorization endpoint called without it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import session from 'express-session';
import passport from 'passport';
import type { Strategy } from 'passport-strategy';
import type { Identity } from '../../lib/identity.js';
import { cookieBrowser, leaksNothing, type CookieBrowser } from '../helpers/http.js';

export interface StandaloneApp {
  url: string;
  close(): Promise<void>;
}

type SessionWithMessages = { messages?: string[] };

/** The Identity without its connectorData, which is not for the browser (as in the README). */
function shown(req: Request, res: Response): void {
  const { connectorData: _, ...user } = req.user as Identity;
  res.json(user);
}

let serializersSet = false;

/** As the README: the whole Identity is the session's user (once per Passport instance). */
function keepWholeIdentityInSession(): void {
  if (serializersSet) return;
  serializersSet = true;
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user: Identity, done) => done(null, user));
}

/**
 * Starts the README's app on 127.0.0.1 with the strategy `build` makes, given the app's callback
 * URL (the redirect URI registered upstream), registered under `name`.
 */
export async function startStandaloneApp(name: string, build: (callbackURL: string) => Strategy | Promise<Strategy>): Promise<StandaloneApp> {
  keepWholeIdentityInSession();

  const app = express();
  app.use(session({ secret: 'standalone test', resave: false, saveUninitialized: false }));
  app.use(passport.session());
  app.get('/login', passport.authenticate(name, { failureMessage: true }), shown);
  app.get('/callback', passport.authenticate(name, { failureMessage: true }), shown);
  app.get('/me', (req, res) => {
    if (req.user) return shown(req, res);
    res.status(401).json({ error: 'not logged in', messages: (req.session as SessionWithMessages).messages ?? [] });
  });

  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  passport.use(name, await build(`${url}/callback`));
  return {
    url,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface OAuthRoundTrip {
  browser: CookieBrowser;
  /** The callback URL the upstream sent the browser back to (before any rewrite). */
  callback: URL;
  /** The app's answer to the callback. */
  answer: Awaited<ReturnType<CookieBrowser['send']>>;
}

/**
 * One OAuth login in a new browser: `/login`, the upstream's authorization endpoint (the fake
 * answers at once), then `/callback` with the parameters `rewrite` leaves.
 */
export async function oauthLogin(app: StandaloneApp, rewrite: (params: URLSearchParams) => void = () => {}): Promise<OAuthRoundTrip> {
  const browser = cookieBrowser();
  const start = await browser.send(`${app.url}/login`);
  if (start.status !== 302 || !start.location) throw new Error(`/login answered ${start.status}: ${start.body}`);
  const upstream = await fetch(start.location, { redirect: 'manual' });
  const location = upstream.headers.get('location');
  if (upstream.status !== 302 || !location) throw new Error(`the authorization endpoint answered ${upstream.status}`);
  const callback = new URL(location);
  if (`${callback.origin}${callback.pathname}` !== `${app.url}/callback`) throw new Error(`the upstream sent the browser to ${location}`);
  const sent = new URL(callback);
  rewrite(sent.searchParams);
  return { browser, callback, answer: await browser.send(sent.toString()) };
}

/** What `/me` answers in this browser. */
export async function whoAmI(app: StandaloneApp, browser: CookieBrowser): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await browser.send(`${app.url}/me`);
  return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
}

/** How a callback the app did not accept ended, as the browser sees it. */
export interface Refusal {
  status: number;
  /** The answer carries no stack trace or internal path. */
  stackFree: boolean;
  /** `/me` in the same browser still says no one is logged in. */
  loggedIn: boolean;
  /** The failure messages Passport kept in the session (`failureMessage`). */
  messages: unknown;
}

export async function refusalOf(app: StandaloneApp, browser: CookieBrowser, answer: { status: number; body: string }): Promise<Refusal> {
  const me = await whoAmI(app, browser);
  return { status: answer.status, stackFree: leaksNothing(answer.body), loggedIn: me.status !== 401, messages: me.body.messages };
}
