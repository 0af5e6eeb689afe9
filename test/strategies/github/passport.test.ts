/**
 * Used without the broker: the github strategy as an ordinary Passport strategy (state kept in
 * express-session), and an existing passport-github2 strategy mapped by `fromPassportUser`.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import express, { type Request, type Response } from 'express';
import session from 'express-session';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import passport from 'passport';
import { Strategy as PassportGitHub2, type Profile } from 'passport-github2';
import request from 'supertest';
import { AccessDeniedError } from '../../../lib/errors.js';
import { configSchema, createGitHubModule, GitHubStrategy, type GitHubConfig } from '../../../strategies/github/index.js';
import { identityFromPassportUser } from '../../../strategies/github/passport.js';
import { CLIENT_ID, CLIENT_SECRET, GitHubFake } from '../../fakes/github/index.js';

const fake = new GitHubFake();
/** A GitHub App: 8-hour user tokens with refresh tokens, for `passport-github2-app` below. */
const appFake = new GitHubFake({ tokens: 'github-app' });
const config: GitHubConfig = configSchema.parse({ clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, orgs: [{ name: 'acme' }] });
let server: http.Server;
let appURL = '';
let module: ReturnType<typeof createGitHubModule>;
let appModule: ReturnType<typeof createGitHubModule>;

/** The app: `/login/<name>` starts a login with that Passport strategy, `/cb/<name>` ends it and answers JSON. */
function app(): express.Express {
  const a = express();
  a.use(session({ secret: 'test', resave: false, saveUninitialized: true }));
  a.use(passport.initialize());
  a.get('/login/:name', (req, res, next) => passport.authenticate(String(req.params.name), { session: false })(req, res, next));
  a.get('/cb/:name', (req: Request, res: Response, next) =>
    passport.authenticate(String(req.params.name), { session: false }, (err: unknown, user: unknown, info: unknown) => {
      if (err) return res.status(500).json({ error: String(err) });
      if (!user) return res.status(403).json({ info });
      const name = String(req.params.name);
      if (!name.startsWith('passport-github2')) return res.json({ identity: user });
      const strict = name.endsWith('strict') ? { ...config } : configSchema.parse({ clientID: CLIENT_ID, clientSecret: CLIENT_SECRET });
      const mapper = name.startsWith('passport-github2-app') ? appModule : module;
      Promise.resolve(mapper.fromPassportUser(user, strict)).then(
        (identity) => res.json({ identity }),
        (e: unknown) => res.status(e instanceof AccessDeniedError ? 403 : 500).json({ error: String(e) }),
      );
    })(req, res, next),
  );
  return a;
}

/** Runs a login through the app: start, the fake approves as `as`, then the callback. */
async function loginThroughApp(name: string, as: string | undefined, tamperState = false): Promise<request.Response> {
  fake.oauth.approveAs = as;
  appFake.oauth.approveAs = as;
  const agent = request.agent(appURL);
  const start = await agent.get(`/login/${name}`);
  expect(start.status).toBe(302);
  const upstream = await fetch(start.headers.location!, { redirect: 'manual' });
  const back = new URL(upstream.headers.get('location')!);
  if (tamperState) back.searchParams.set('state', 'forged');
  return agent.get(`${back.pathname}${back.search}`);
}

function passportGitHub2(name: string, allRawEmails: boolean, handTokenOver: boolean): PassportGitHub2 {
  const s = new PassportGitHub2(
    { ...fake.passportGitHub2Options(`${appURL}/cb/${name}`), allRawEmails },
    (accessToken: string, refreshToken: string, profile: Profile, done: (err: Error | null, user?: Express.User) => void) =>
      done(null, handTokenOver ? { accessToken, refreshToken, profile } : profile),
  );
  s.name = name;
  return s;
}

/**
 * passport-github2 for the GitHub App, with the README's five-argument verify callback: node-oauth
 * sends no `Accept`, so GitHub answers the token endpoint form-encoded and `params.expires_in`
 * is the string "28800".
 */
function passportGitHub2App(name: string): PassportGitHub2 {
  const s = new PassportGitHub2(
    appFake.passportGitHub2Options(`${appURL}/cb/${name}`),
    (accessToken: string, refreshToken: string, params: unknown, profile: Profile, done: (err: Error | null, user?: Express.User) => void) =>
      done(null, { accessToken, refreshToken, params, profile }),
  );
  s.name = name;
  return s;
}

beforeAll(async () => {
  await fake.listen();
  await appFake.listen();
  module = createGitHubModule({ endpoints: fake.endpoints(), timeoutMs: 5000 });
  appModule = createGitHubModule({ endpoints: appFake.endpoints(), timeoutMs: 5000 });
  const base = { name: 'A Person', email: null, teams: [{ org: 'acme', name: 'Core', slug: 'core' }] };
  fake.add({ ...base, id: 11, login: 'alice', orgs: ['acme'], emails: [{ email: 'alice@example.com', verified: true, primary: true, visibility: null }] });
  appFake.add({ ...base, id: 11, login: 'alice', orgs: ['acme'], emails: [{ email: 'alice@example.com', verified: true, primary: true, visibility: null }] });
  fake.add({ ...base, id: 12, login: 'bob', orgs: [], emails: [{ email: 'bob@example.com', verified: true, primary: true, visibility: null }] });
  fake.add({ ...base, id: 13, login: 'carol', orgs: ['acme'], emails: [{ email: 'carol@example.com', verified: false, primary: true, visibility: null }] });
  server = http.createServer(app());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  appURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  passport.use('dexpress-github', new GitHubStrategy(config, { name: 'dexpress-github', endpoints: fake.endpoints(), callbackURL: `${appURL}/cb/dexpress-github` }));
  passport.use(passportGitHub2('passport-github2-token-strict', false, true));
  passport.use(passportGitHub2('passport-github2-raw', true, false));
  passport.use(passportGitHub2('passport-github2-profile', false, false));
  passport.use(passportGitHub2App('passport-github2-app-strict'));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await fake.close();
  await appFake.close();
});

describe('GitHubStrategy as a plain Passport strategy', () => {
  test('logs a member in, keeping its state in the session', async () => {
    const res = await loginThroughApp('dexpress-github', 'alice');
    expect(res.status).toBe(200);
    expect(res.body.identity).toMatchObject({ userId: '11', email: 'alice@example.com', groups: ['acme:Core'] });
  });

  test('refuses a forged state', async () => {
    const res = await loginThroughApp('dexpress-github', 'alice', true);
    expect(res.status).toBe(403);
  });

  test('refuses a non-member with a failure, not an error', async () => {
    const res = await loginThroughApp('dexpress-github', 'bob');
    expect(res.status).toBe(403);
  });
});

describe('passport-github2 handed to the broker as type github', () => {
  test('with the access token: the same mapping as the connector (verified email, org groups, token kept)', async () => {
    const res = await loginThroughApp('passport-github2-token-strict', 'alice');
    expect(res.status).toBe(200);
    expect(res.body.identity).toMatchObject({
      userId: '11',
      username: 'A Person',
      preferredUsername: 'alice',
      email: 'alice@example.com',
      emailVerified: true,
      groups: ['acme:Core'],
      connectorData: { accessToken: expect.any(String) },
    });
  });

  test('with the access token: a user outside the required org is refused', async () => {
    const res = await loginThroughApp('passport-github2-token-strict', 'bob');
    expect(res.status).toBe(403);
  });

  test('profile only, with allRawEmails: takes the primary verified address', async () => {
    const res = await loginThroughApp('passport-github2-raw', 'alice');
    expect(res.status).toBe(200);
    expect(res.body.identity).toEqual({
      userId: '11',
      username: 'A Person',
      preferredUsername: 'alice',
      email: 'alice@example.com',
      emailVerified: true,
      groups: [],
    });
  });

  test('profile only, with allRawEmails: refuses an unverified primary address', async () => {
    const res = await loginThroughApp('passport-github2-raw', 'carol');
    expect(res.status).toBe(403);
  });

  test('a profile without verification flags is refused, never mapped as verified', async () => {
    const res = await loginThroughApp('passport-github2-profile', 'alice');
    expect(res.status).toBe(500);
    expect(res.body.error).toMatch(/no verification flags/);
  });

  test("a GitHub App's refresh token is kept with the token's expiry: from params, or now when unknown (so the first refresh renews)", async () => {
    const read: string[] = [];
    const strategy = {
      identifyWithToken: async (token: string) => {
        read.push(token);
        return { userId: '11', username: 'A Person', emailVerified: true, groups: [] };
      },
    } as unknown as GitHubStrategy;
    const profile = { provider: 'github', id: '11', username: 'alice' };
    const before = Date.now();
    const withParams = await identityFromPassportUser({ accessToken: 'ghu_1', refreshToken: 'ghr_1', params: { expires_in: 28800 }, profile }, config, strategy);
    const expiry = Date.parse((withParams.connectorData as { expiry: string }).expiry);
    expect(withParams.connectorData).toMatchObject({ accessToken: 'ghu_1', refreshToken: 'ghr_1' });
    expect(expiry).toBeGreaterThanOrEqual(before + 28_800_000);
    expect(expiry).toBeLessThanOrEqual(Date.now() + 28_800_000);
    const unknown = await identityFromPassportUser({ accessToken: 'ghu_2', refreshToken: 'ghr_2', profile }, config, strategy);
    expect(Date.parse((unknown.connectorData as { expiry: string }).expiry)).toBeLessThanOrEqual(Date.now());
    const oauthApp = await identityFromPassportUser({ accessToken: 'gho_3', refreshToken: '', profile }, config, strategy);
    expect(oauthApp.connectorData).toEqual({ accessToken: 'gho_3' }); // an OAuth App's token does not expire
    expect(read).toEqual(['ghu_1', 'ghu_2', 'gho_3']);
    await expect(identityFromPassportUser({ accessToken: 7, profile }, config, strategy)).rejects.toThrow(/"accessToken" is not a string/);
    for (const expiresIn of ['8h', '0', '', '-5', 0, Number.NaN]) {
      await expect(identityFromPassportUser({ accessToken: 'ghu_4', refreshToken: 'ghr_4', params: { expires_in: expiresIn }, profile }, config, strategy)).rejects.toThrow(
        /"params.expires_in" is not a positive number of seconds/,
      );
    }
  });

  test("a GitHub App through the real package with params: GitHub's form-encoded expires_in (a string) gives the token's expiry", async () => {
    const before = Date.now();
    const res = await loginThroughApp('passport-github2-app-strict', 'alice');
    expect({ status: res.status, error: res.body.error }).toEqual({ status: 200, error: undefined });
    expect(res.body.identity).toMatchObject({ userId: '11', email: 'alice@example.com', groups: ['acme:Core'] });
    const kept = res.body.identity.connectorData as { accessToken: string; refreshToken: string; expiry: string };
    expect(kept).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String), expiry: expect.any(String) });
    expect(Date.parse(kept.expiry)).toBeGreaterThanOrEqual(before + 28_800_000);
    expect(Date.parse(kept.expiry)).toBeLessThanOrEqual(Date.now() + 28_800_000);
  });

  test("a token of another user than the profile's is refused, never mapped", async () => {
    const bobToken = String(fake.oauth.issue('bob', 'user:email read:org').access_token);
    const aliceProfile = { provider: 'github', id: '11', username: 'alice' };
    const open = configSchema.parse({ clientID: CLIENT_ID, clientSecret: CLIENT_SECRET });
    await expect(module.fromPassportUser({ accessToken: bobToken, refreshToken: '', profile: aliceProfile }, open)).rejects.toThrow(
      /belongs to another user than the profile/,
    );
  });

  test('profile only cannot satisfy a config that needs groups', async () => {
    await expect(
      module.fromPassportUser({ provider: 'github', id: '11', username: 'alice', emails: [] }, config),
    ).rejects.toThrow(/needs groups/);
  });
});
