/**
 * The app of README.md's "Using a strategy alone with Passport", around one strategy: Passport
 * keeps the whole Identity in express-session, `/login` and `/callback` both run
 * `passport.authenticate(name)`, and `/me` shows who the session is logged in as (or, when no
 * one, the failure messages Passport kept with `failureMessage`). The one error middleware
 * STYLE.md asks for ends the app: a typed error's status and code, nothing else, and each error
 * is recorded in `errors` so a test can tell a refusal (a Passport failure) from an error.
 *
 * Also the browser side of a login: a cookie jar for the app, and the upstream's authorization
 * endpoint called without it (through `browserFetch`, for an upstream on a test CA).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import passport from 'passport';
import type { Strategy } from 'passport-strategy';
import { expect } from '@jest/globals';
import { DexpressError, UpstreamError } from '../../lib/errors.js';
import type { Identity } from '../../lib/identity.js';
import { cookieBrowser, leaksNothing, type CookieBrowser } from '../helpers/http.js';

export interface StandaloneApp {
  url: string;
  /** What reached the app's error middleware, oldest first (tests clear it when they need to). */
  errors: unknown[];
  /** How the browser reaches the upstream's pages (`fetch`, or one trusting a test CA). */
  browserFetch: typeof fetch;
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
export async function startStandaloneApp(
  name: string,
  build: (callbackURL: string) => Strategy | Promise<Strategy>,
  options: { browserFetch?: typeof fetch } = {},
): Promise<StandaloneApp> {
  keepWholeIdentityInSession();
  const errors: unknown[] = [];

  const app = express();
  app.use(session({ secret: 'standalone test', resave: false, saveUninitialized: false }));
  app.use(passport.session());
  app.get('/login', passport.authenticate(name, { failureMessage: true }), shown);
  app.get('/callback', passport.authenticate(name, { failureMessage: true }), shown);
  app.get('/me', (req, res) => {
    if (req.user) return shown(req, res);
    res.status(401).json({ error: 'not logged in', messages: (req.session as SessionWithMessages).messages ?? [] });
  });
  // Not a page a real app has: the whole Identity the session keeps, for tests of what a login keeps.
  app.get('/kept', (req, res) => {
    res.status(req.user ? 200 : 401).json(req.user ?? null);
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(err);
    const status = err instanceof UpstreamError ? err.status : 500;
    res.status(status).json({ error: err instanceof DexpressError ? err.code : 'server_error' });
  });

  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  passport.use(name, await build(`${url}/callback`));
  return {
    url,
    errors,
    browserFetch: options.browserFetch ?? fetch,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Starts an OAuth login in `browser` (a new one by default): `/login`, then the upstream's
 * authorization endpoint (the fake answers at once). Returns the callback URL the upstream sent
 * the browser back to, not yet opened.
 */
export async function startOAuthLogin(app: StandaloneApp, browser: CookieBrowser = cookieBrowser()): Promise<{ browser: CookieBrowser; callback: URL }> {
  const start = await browser.send(`${app.url}/login`);
  if (start.status !== 302 || !start.location) throw new Error(`/login answered ${start.status}: ${start.body}`);
  const upstream = await app.browserFetch(start.location, { redirect: 'manual' });
  const location = upstream.headers.get('location');
  if (upstream.status !== 302 || !location) throw new Error(`the authorization endpoint answered ${upstream.status}`);
  const callback = new URL(location);
  if (`${callback.origin}${callback.pathname}` !== `${app.url}/callback`) throw new Error(`the upstream sent the browser to ${location}`);
  return { browser, callback };
}

export interface OAuthRoundTrip {
  browser: CookieBrowser;
  /** The callback URL the upstream sent the browser back to (before any rewrite). */
  callback: URL;
  /** The app's answer to the callback. */
  answer: Awaited<ReturnType<CookieBrowser['send']>>;
}

/** One OAuth login in a new browser, opening the callback with the parameters `rewrite` leaves. */
export async function oauthLogin(app: StandaloneApp, rewrite: (params: URLSearchParams) => void = () => {}): Promise<OAuthRoundTrip> {
  const { browser, callback } = await startOAuthLogin(app);
  const sent = new URL(callback);
  rewrite(sent.searchParams);
  return { browser, callback, answer: await browser.send(sent.toString()) };
}

/** What `/me` answers in this browser. */
export async function whoAmI(app: StandaloneApp, browser: CookieBrowser): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await browser.send(`${app.url}/me`);
  return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
}

/** The whole Identity this browser's session keeps, connectorData included (null: none). */
export async function keptIdentity(app: StandaloneApp, browser: CookieBrowser): Promise<unknown> {
  return JSON.parse((await browser.send(`${app.url}/kept`)).body) as unknown;
}

/** How a request the app did not accept ended, as the browser sees it. */
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

/** The Refusal of a Passport failure with this status and one message matching `message`: no stack trace, no one logged in. */
export function passportFailure(status: number, message: RegExp): Refusal {
  return { status, stackFree: true, loggedIn: false, messages: [expect.stringMatching(message)] };
}
