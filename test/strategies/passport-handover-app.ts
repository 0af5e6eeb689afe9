/**
 * An app for testing a type's `fromPassportUser` without the broker: third-party Passport
 * strategies (passport-gitlab2, passport-bitbucket-oauth2...) in an express-session app, which
 * keeps passport-oauth2's state and PKCE verifier. `/login/<name>` starts a login with the
 * strategy registered as `<name>`; `/callback/<name>` ends it and answers what came of it:
 * - 200 `{ identity }`: what the strategy handed to `success()`, run through `mapUser`;
 * - 401 `{ failure }`: a Passport failure (a forged state...), with its message;
 * - 403 `{ error }`: the mapping refused the user (`AccessDeniedError`);
 * - 500 `{ error }`: the mapping failed (a profile it will not map...), with the message.
 * A strategy of our own registered beside them (its user is already an Identity) gives the
 * Identity to compare with, through the same app and the same fake user.
 *
 * Also, for such a strategy handed to the broker: a broker running the built-in connector beside
 * one with the strategy handed over (`builtInAndHandedOver`), the claims a login decides
 * (`userClaims`), and a login whose callback comes back with a forged state
 * (`expectForgedStateRefused`).
 */
import { expect } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import * as oidc from 'openid-client';
import session from 'express-session';
import passport from 'passport';
import type { Strategy } from 'passport-strategy';
import { AccessDeniedError, errorMessage } from '../../lib/errors.js';
import type { Identity } from '../../lib/identity.js';
import { startBroker, TEST_CLIENT, type StartOptions, type TestBroker } from '../helpers/broker.js';
import { cookieBrowser } from '../helpers/http.js';
import { discover } from '../helpers/rp.js';

export interface HandoverApp {
  url: string;
  close(): Promise<void>;
}

/** Maps what strategy `name` handed to `success()` into the Identity. */
export type MapUser = (name: string, user: unknown) => Identity | Promise<Identity>;

function answer(res: Response, name: string, user: unknown, mapUser: MapUser): void {
  Promise.resolve()
    .then(() => mapUser(name, user))
    .then(
      (identity) => res.json({ identity }),
      (err: unknown) => res.status(err instanceof AccessDeniedError ? 403 : 500).json({ error: errorMessage(err) }),
    );
}

/** Starts the app; each of `strategies` is built with its callback URL, `<app>/callback/<name>`. */
export async function startHandoverApp(strategies: Record<string, (callbackURL: string) => Strategy>, mapUser: MapUser): Promise<HandoverApp> {
  const app = express();
  app.use(session({ secret: 'handover test', resave: false, saveUninitialized: true }));
  app.get('/login/:name', (req, res, next) => passport.authenticate(String(req.params.name), { session: false })(req, res, next));
  app.get('/callback/:name', (req: Request, res: Response, next) => {
    const name = String(req.params.name);
    passport.authenticate(name, { session: false }, (err: unknown, user: unknown, info: { message?: string } | undefined) => {
      if (err) return res.status(500).json({ error: errorMessage(err) });
      if (!user) return res.status(401).json({ failure: info?.message });
      answer(res, name, user, mapUser);
    })(req, res, next);
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const [name, build] of Object.entries(strategies)) passport.use(name, build(`${url}/callback/${name}`));
  return {
    url,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * One login in a new browser with strategy `name`: `/login/<name>`, the upstream's authorization
 * endpoint (the fake approves at once), then the callback with the parameters `rewrite` leaves.
 */
export async function handoverLogin(
  app: HandoverApp,
  name: string,
  rewrite: (params: URLSearchParams) => void = () => {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const browser = cookieBrowser();
  const start = await browser.send(`${app.url}/login/${name}`);
  if (start.status !== 302 || !start.location) throw new Error(`/login/${name} answered ${start.status}: ${start.body}`);
  const upstream = await fetch(start.location, { redirect: 'manual' });
  const location = upstream.headers.get('location');
  if (upstream.status !== 302 || !location) throw new Error(`the authorization endpoint answered ${upstream.status}`);
  const back = new URL(location);
  if (`${back.origin}${back.pathname}` !== `${app.url}/callback/${name}`) throw new Error(`the upstream sent the browser to ${location}`);
  rewrite(back.searchParams);
  const res = await browser.send(back.toString());
  return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
}

/** An Identity without its connectorData (the upstream tokens): what two mappings of one user must agree on. */
export function identityClaims(identity: unknown): Omit<Identity, 'connectorData'> {
  const { connectorData: _, ...claims } = identity as Identity;
  return claims;
}

/** The claims that the user's login decides (not iat, exp, at_hash... which differ per login). */
export function userClaims(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(['sub', 'name', 'preferred_username', 'email', 'email_verified', 'groups'].map((k) => [k, claims[k]]));
}

/**
 * Two brokers with the same connector entry: `builtIn` runs the connector itself, `handedOver`
 * has `strategy` handed over for it. The strategy's callback, `<issuer>/callback/<connector id>`,
 * is known only once that broker listens: it is set then (passport-oauth2 keeps it in
 * `_callbackURL`), so build the strategy with any callback URL.
 */
export async function builtInAndHandedOver(
  connector: { type: string; id: string; name: string; config: Record<string, unknown> },
  strategy: Strategy,
  options: Omit<StartOptions, 'passportStrategies'> = {},
): Promise<{ builtIn: TestBroker; handedOver: TestBroker; close(): Promise<void> }> {
  const builtIn = await startBroker({ connectors: [connector] }, options);
  const handedOver = await startBroker({ connectors: [connector] }, { ...options, passportStrategies: { [connector.id]: strategy } });
  (strategy as unknown as { _callbackURL: string })._callbackURL = `${handedOver.issuer}/callback/${connector.id}`;
  return {
    builtIn,
    handedOver,
    close: async () => {
      await builtIn.close();
      await handedOver.close();
    },
  };
}

/**
 * A login at the broker with connector `connectorId` (a handed-over strategy), in one browser,
 * up to where the upstream sends the browser back to `<issuer>/callback/<connectorId>`; that
 * callback is then opened with `state` replaced by a forged value. The broker must answer with
 * a page (the state names no login in flight in this browser, so the answer never reaches the
 * strategy), and the upstream's code must not have been redeemed (`codeGrants`, the fake's count
 * of code grants, unchanged).
 */
export async function expectForgedStateRefused(issuer: string, connectorId: string, codeGrants: () => number): Promise<void> {
  const before = codeGrants();
  const res = await brokerCallbackWithForgedState(issuer, connectorId);
  expect(res.status).toBe(400);
  expect(res.body).toMatch(/Login expired/);
  expect(codeGrants()).toBe(before);
}

async function brokerCallbackWithForgedState(issuer: string, connectorId: string): Promise<{ status: number; body: string }> {
  const config = await discover(issuer);
  const start = oidc.buildAuthorizationUrl(config, { redirect_uri: TEST_CLIENT.redirectURI, scope: 'openid email', state: oidc.randomState(), connector_id: connectorId });
  const callbackPath = new URL(`${issuer}/callback/${connectorId}`).pathname;
  const browser = cookieBrowser();
  let next = start.toString();
  for (let step = 0; step < 10; step++) {
    const here = new URL(next);
    if (here.pathname === callbackPath) {
      here.searchParams.set('state', 'forged');
      return browser.send(here.toString());
    }
    const res = await browser.send(next);
    if (!res.location) throw new Error(`${here.pathname} answered ${res.status} before the callback: ${res.body.slice(0, 300)}`);
    next = new URL(res.location, next).toString();
  }
  throw new Error('the login never came back to the callback');
}
