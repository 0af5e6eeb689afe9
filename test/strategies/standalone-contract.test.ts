/**
 * The Passport contract of the strategies used alone (README "Using a strategy alone with
 * Passport"), across connector types: what a strategy does with a config it is constructed with,
 * and how `passport.authenticate(name, options)` ends for a Passport user. Each connector's own
 * standalone test drives its login through its fake; here, what holds for all of them.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import passport from 'passport';
import { ConfigError } from '../../lib/errors.js';
import type { Identity } from '../../lib/identity.js';
import { AtlassianCrowdStrategy } from '../../strategies/atlassian-crowd/index.js';
import { AuthProxyStrategy } from '../../strategies/authproxy/index.js';
import { BitbucketCloudStrategy } from '../../strategies/bitbucket-cloud/index.js';
import { GiteaStrategy } from '../../strategies/gitea/index.js';
import { configSchema as githubConfig, GitHubStrategy } from '../../strategies/github/index.js';
import { GitLabStrategy } from '../../strategies/gitlab/index.js';
import { GoogleStrategy } from '../../strategies/google/index.js';
import { KeystoneStrategy } from '../../strategies/keystone/index.js';
import { LdapStrategy } from '../../strategies/ldap/index.js';
import { LinkedInStrategy } from '../../strategies/linkedin/index.js';
import { MicrosoftStrategy } from '../../strategies/microsoft/index.js';
import { OidcStrategy } from '../../strategies/oidc/index.js';
import { OpenShiftStrategy } from '../../strategies/openshift/index.js';
import { SamlStrategy, type SamlConfig } from '../../strategies/saml/index.js';
import { resolveSettings } from '../../strategies/saml/config.js';
import { CLIENT_ID, CLIENT_SECRET, GitHubFake } from '../fakes/github/index.js';
import { cookieBrowser, type CookieBrowser } from '../helpers/http.js';
import type { Slapd } from '../servers/slapd.js';
import { ldapConfig, passwords, startSeededSlapd } from './ldap/directory.js';

/** What a JavaScript caller, or a config read from JSON or the environment, may hand a constructor. */
function unchecked<T>(config: Record<string, unknown>): T {
  return config as T;
}

/** The ConfigError a constructor threw, or why it was not one. */
function configErrorOf(build: () => unknown): ConfigError | string {
  try {
    build();
    return 'constructed';
  } catch (err) {
    return err instanceof ConfigError ? err : `threw ${String(err)}`;
  }
}

describe('a strategy built with a bad config throws a ConfigError naming the key, when it is built', () => {
  const redirectURI = 'https://app.example.com/callback';
  const openshiftEndpoints = { authorizationURL: 'https://oauth.cluster.example/oauth/authorize', tokenURL: 'https://oauth.cluster.example/oauth/token' };

  test('SAML without ca or caData (and without insecureSkipSignatureValidation): refused, never a strategy that takes unsigned responses', () => {
    const config = unchecked<SamlConfig>({ ssoURL: 'https://idp.example/sso', redirectURI, usernameAttr: 'name', emailAttr: 'email' });
    const err = configErrorOf(() => new SamlStrategy(config));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([{ path: 'ca', message: expect.stringMatching(/ca.*caData/) }]);
    // The settings themselves fail closed too: no certificate is never "trust every response".
    expect(() => resolveSettings(config)).toThrow(ConfigError);
  });

  test('Google with required groups but no Admin Directory passed: refused, never a strategy that lets any Google account in', () => {
    const config = { clientID: 'id', clientSecret: 'secret', redirectURI, groups: ['admins@example.com'], serviceAccountFilePath: '/etc/dexpress/sa.json', domainToAdminEmail: { '*': 'admin@example.com' } };
    const err = configErrorOf(() => new GoogleStrategy(unchecked(config), undefined));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([{ path: 'groups', message: expect.stringMatching(/directoryFor/) }]);
  });

  const cases: [string, string, () => unknown][] = [
    ['GitHubStrategy', 'clientID', () => new GitHubStrategy(unchecked({ clientID: '', clientSecret: 'secret', redirectURI }))],
    ['GitLabStrategy', 'clientSecret', () => new GitLabStrategy(unchecked({ clientID: 'id', redirectURI }))],
    ['GiteaStrategy', 'clientID', () => new GiteaStrategy(unchecked({ clientSecret: 'secret', redirectURI }))],
    ['BitbucketCloudStrategy', 'clientSecret', () => new BitbucketCloudStrategy(unchecked({ clientID: 'id', clientSecret: '', redirectURI }))],
    ['MicrosoftStrategy', 'clientSecret', () => new MicrosoftStrategy(unchecked({ clientID: 'id', redirectURI }))],
    ['LinkedInStrategy', 'clientSecret', () => new LinkedInStrategy(unchecked({ clientID: 'id', redirectURI }))],
    ['GoogleStrategy', 'clientID', () => new GoogleStrategy(unchecked({ clientSecret: 'secret', redirectURI }), undefined)],
    ['OpenShiftStrategy', 'clientID', () => new OpenShiftStrategy(unchecked({ issuer: 'https://api.cluster.example:6443', clientSecret: 'secret', redirectURI }), openshiftEndpoints)],
    ['GitHubStrategy', 'redirectURI', () => new GitHubStrategy(unchecked({ clientID: 'id', clientSecret: 'secret', redirectURI: '/callback' }))],
    ['AuthProxyStrategy', 'userHeader', () => new AuthProxyStrategy(unchecked({ userHeader: '' }))],
    ['OidcStrategy', 'issuer', () => new OidcStrategy(unchecked({ clientID: 'id', clientSecret: 'secret', redirectURI }))],
    ['AtlassianCrowdStrategy', 'baseURL', () => new AtlassianCrowdStrategy(unchecked({ clientID: 'app', clientSecret: 'secret' }))],
    ['KeystoneStrategy', 'keystoneHost', () => new KeystoneStrategy(unchecked({ keystoneHost: 'keystone:5000', domain: 'default', keystoneUsername: 'admin', keystonePassword: 'pw' }))],
  ];
  test.each(cases)('%s without a valid %s', (_name, key, build) => {
    const err = configErrorOf(build);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.path)).toContain(key);
  });
});

/**
 * An app as a Passport user writes one, on its own Passport instance, around GitHubStrategy and
 * LdapStrategy: `/login` starts the GitHub login, and each callback route ends it with the
 * `passport.authenticate` options its path names; `/ldap` takes the password form. Every route
 * answers the Identity without its connectorData; the error middleware records what reached it.
 */
const github = new GitHubFake();
let slapd: Slapd;
let server: http.Server;
let appURL = '';
const errors: unknown[] = [];

function shown(req: Request, res: Response): void {
  const { connectorData: _, ...user } = req.user as Identity;
  res.json(user);
}

function contractApp(authenticator: passport.PassportStatic): express.Express {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ secret: 'standalone contract', resave: false, saveUninitialized: false }));
  app.use(authenticator.session());
  app.get('/login', authenticator.authenticate('gh'));
  app.get('/cb/redirect', authenticator.authenticate('gh', { failureRedirect: '/failed', failureMessage: true }), shown);
  app.get('/cb/fail-with-error', authenticator.authenticate('gh', { failWithError: true }), shown);
  app.get('/cb/no-session', authenticator.authenticate('gh', { session: false }), shown);
  app.post('/ldap', authenticator.authenticate('ldap', { failureMessage: true }), shown);
  app.post('/ldap/no-groups', authenticator.authenticate('ldap', { session: false, scopes: { offlineAccess: false, groups: false } }), shown);
  // A custom callback with a bug: it takes every user who logs in to have an account in the app.
  const accounts = new Map([['alice', { role: 'admin' }]]);
  app.post('/ldap/role', (req, res, next) => {
    authenticator.authenticate('ldap', { session: false }, (err: unknown, user: Identity | false) => {
      if (err) return next(err);
      if (!user) return res.status(401).json(null);
      res.json({ role: accounts.get(user.userId)!.role });
    })(req, res, next);
  });
  app.get('/failed', (req, res) => {
    res.status(401).json({ messages: (req.session as { messages?: string[] }).messages ?? [] });
  });
  app.get('/me', (req, res) => {
    if (req.user) shown(req, res);
    else res.status(401).json(null);
  });
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(err);
    res.status(err.status ?? 500).json({ error: err.name });
  });
  return app;
}

beforeAll(async () => {
  slapd = await startSeededSlapd();
  await github.listen();
  github.add({ id: 11, login: 'alice', name: 'Alice', email: null, orgs: ['acme'], teams: [], emails: [{ email: 'alice@example.com', verified: true, primary: true, visibility: null }] });
  github.add({ id: 12, login: 'bob', name: 'Bob', email: null, orgs: ['acme'], teams: [], emails: [{ email: 'bob@example.com', verified: true, primary: true, visibility: null }] });
  const authenticator = new passport.Passport() as passport.PassportStatic;
  authenticator.serializeUser((user, done) => done(null, user));
  authenticator.deserializeUser((user: Identity, done) => done(null, user));
  server = http.createServer(contractApp(authenticator));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  appURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = githubConfig.parse({ clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectURI: `${appURL}/cb/redirect`, orgs: [{ name: 'acme' }] });
  authenticator.use('gh', new GitHubStrategy(config, { endpoints: github.endpoints() }));
  authenticator.use('ldap', new LdapStrategy(ldapConfig(slapd)));
}, 60_000);
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await github.close();
  await slapd?.close();
});
beforeEach(() => {
  errors.length = 0;
});

/** Starts a GitHub login in `browser`, approved upstream as `as` (undefined: refused); returns the callback's query. */
async function startGitHubLogin(browser: CookieBrowser, as: string | undefined): Promise<URLSearchParams> {
  const start = await browser.send(`${appURL}/login`);
  if (start.status !== 302 || !start.location) throw new Error(`/login answered ${start.status}`);
  github.oauth.approveAs = as;
  const upstream = await fetch(start.location, { redirect: 'manual' });
  return new URL(upstream.headers.get('location')!).searchParams;
}

describe('passport.authenticate options, as Passport users expect them', () => {
  test('failureRedirect with failureMessage: a forged state redirects there, and the message says why', async () => {
    const browser = cookieBrowser();
    const query = await startGitHubLogin(browser, 'alice');
    query.set('state', 'forged');
    const answer = await browser.send(`${appURL}/cb/redirect?${query}`);
    expect([answer.status, answer.location]).toEqual([302, '/failed']);
    expect(JSON.parse((await browser.send(`${appURL}/failed`)).body)).toEqual({ messages: [expect.stringMatching(/state did not match/)] });
    expect(errors).toEqual([]);
  });

  test("failWithError: the user refusing upstream reaches the error middleware as Passport's AuthenticationError, status 403", async () => {
    const browser = cookieBrowser();
    const query = await startGitHubLogin(browser, undefined);
    const answer = await browser.send(`${appURL}/cb/fail-with-error?${query}`);
    expect([answer.status, JSON.parse(answer.body)]).toEqual([403, { error: 'AuthenticationError' }]);
    expect(errors).toHaveLength(1);
  });

  test('session: false: the login sets req.user for the request and keeps no one in the session', async () => {
    const browser = cookieBrowser();
    const query = await startGitHubLogin(browser, 'alice');
    const answer = await browser.send(`${appURL}/cb/no-session?${query}`);
    expect([answer.status, JSON.parse(answer.body).userId]).toEqual([200, '11']);
    expect((await browser.send(`${appURL}/me`)).status).toBe(401);
  });
});

describe('password strategies alone', () => {
  test('scopes in the authenticate options are honoured as by the OAuth strategies: groups: false reads no groups', async () => {
    const form = { username: 'alice', password: passwords.alice };
    const [withGroups, without] = await Promise.all([cookieBrowser().post(`${appURL}/ldap`, form), cookieBrowser().post(`${appURL}/ldap/no-groups`, form)]);
    expect((JSON.parse(withGroups.body) as Identity).groups).toContain('admins');
    expect([without.status, (JSON.parse(without.body) as Identity).groups]).toEqual([200, []]);
  });
});

describe("an exception in the app's own code after the strategy ended", () => {
  test('a custom callback throwing (a user the app has no account for) reaches the error middleware as a 500, as with passport-local: no hung request, no unhandled rejection ending the process', async () => {
    const answer = await fetch(`${appURL}/ldap/role`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'bob', password: passwords.bob }),
      signal: AbortSignal.timeout(5000),
    });
    expect([answer.status, await answer.json()]).toEqual([500, { error: 'TypeError' }]);
    expect(errors).toEqual([expect.any(TypeError)]);
  });
});

describe('state kept in express-session', () => {
  test('a callback replayed after its login succeeded is a 400 failure, and its code is not redeemed again', async () => {
    const browser = cookieBrowser();
    const query = await startGitHubLogin(browser, 'alice');
    expect((await browser.send(`${appURL}/cb/no-session?${query}`)).status).toBe(200);
    const redeemed = github.oauth.counts.codeGrants;
    const replay = await browser.send(`${appURL}/cb/fail-with-error?${query}`);
    expect([replay.status, github.oauth.counts.codeGrants, errors]).toEqual([400, redeemed, [expect.objectContaining({ name: 'AuthenticationError' })]]);
  });
});

describe('concurrent logins in one process do not mix users', () => {
  test('two browsers logging in to GitHub at once, finished in the other order, each end as their own user', async () => {
    const [a, b] = [cookieBrowser(), cookieBrowser()];
    const aliceQuery = await startGitHubLogin(a, 'alice');
    const bobQuery = await startGitHubLogin(b, 'bob');
    const [bob, alice] = await Promise.all([b.send(`${appURL}/cb/redirect?${bobQuery}`), a.send(`${appURL}/cb/redirect?${aliceQuery}`)]);
    expect([JSON.parse(alice.body).email, JSON.parse(bob.body).email]).toEqual(['alice@example.com', 'bob@example.com']);
    expect([JSON.parse((await a.send(`${appURL}/me`)).body).userId, JSON.parse((await b.send(`${appURL}/me`)).body).userId]).toEqual(['11', '12']);
  });

  test('LDAP logins of several users at once, one with a wrong password, each end as their own user or a 401 failure', async () => {
    const attempts = ['alice', 'bob', 'alice', 'bob', 'alice', 'bob'].map((uid, i) => ({ uid, password: i === 3 ? 'wrong' : passwords[uid as 'alice' | 'bob'] }));
    const answers = await Promise.all(attempts.map(({ uid, password }) => cookieBrowser().post(`${appURL}/ldap`, { username: uid, password })));
    expect(answers.map((r) => (r.status === 200 ? (JSON.parse(r.body) as Identity).userId : r.status))).toEqual(['alice', 'bob', 'alice', 401, 'alice', 'bob']);
    expect(errors).toEqual([]);
  });
});

/**
 * An app that installed dexpress, as tsc sees it: node_modules/dexpress holds package.json and the
 * declarations `npm run build` would ship (emitted here), and every other package of this checkout.
 */
async function installedForTypes(): Promise<{ app: string; dist: string }> {
  const app = mkdtempSync(join(tmpdir(), 'dexpress-types-'));
  const installed = join(app, 'node_modules', 'dexpress');
  mkdirSync(installed, { recursive: true });
  for (const name of readdirSync('node_modules')) if (name !== '.bin') symlinkSync(resolve('node_modules', name), join(app, 'node_modules', name));
  writeFileSync(join(installed, 'package.json'), readFileSync('package.json'));
  const dist = join(installed, 'dist');
  await promisify(execFile)(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--emitDeclarationOnly', '--declarationMap', 'false', '--outDir', dist]);
  return { app, dist };
}

/** The packages imported by the declarations an app reaches through package.json's exports map (`dir` holds dist's content). */
function packagesTypedThroughExports(dir: string, exportsMap: Record<string, string | Record<string, string>>): Set<string> {
  const entries = Object.values(exportsMap).flatMap((e) => (typeof e === 'string' ? [] : [e.types ?? '']));
  const pending = entries.flatMap((t) => {
    const rel = t.replace(/^\.\/dist\//, '');
    if (!rel.includes('*')) return [join(dir, rel)];
    const [before, after] = rel.split('*') as [string, string];
    return readdirSync(join(dir, before)).map((d) => join(dir, before, d, after)).filter((f) => existsSync(f));
  });
  const seen = new Set<string>();
  const packages = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/(?:from |import\()['"]([^'"]+)['"]/g)) {
      if (spec!.startsWith('.')) pending.push(join(dirname(file), spec!.replace(/\.js$/, '.d.ts')));
      else packages.add(spec!);
    }
  }
  return packages;
}

/** Whether an app that installed dexpress gets `name`'s types: the package ships them, or @types/<name> is a dependency. */
function typedForApps(name: string, dependencies: Record<string, string>): boolean {
  if (name.startsWith('node:') || name === 'dexpress' || name.startsWith('dexpress/')) return true;
  const pkg = name.startsWith('@') ? name.split('/').slice(0, 2).join('/') : name.split('/')[0]!;
  if (pkg.startsWith('@types/')) return pkg in dependencies;
  const own = JSON.parse(readFileSync(join('node_modules', pkg, 'package.json'), 'utf8')) as Record<string, unknown>;
  const shipsTypes = 'types' in own || 'typings' in own || existsSync(join('node_modules', pkg, 'index.d.ts')) || JSON.stringify(own.exports ?? {}).includes('"types"');
  return (pkg in dependencies && shipsTypes) || `@types/${pkg.replace(/^@(.*)\//, '$1__')}` in dependencies;
}

describe('the published types', () => {
  let installed: { app: string; dist: string };
  beforeAll(async () => {
    installed = await installedForTypes();
  }, 120_000);
  afterAll(() => rmSync(installed.app, { recursive: true, force: true }));

  test("every package the declarations behind the exports map import is typed for an app that installs dexpress (no 'Could not find a declaration file' under skipLibCheck: false)", () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; exports: Record<string, string | Record<string, string>> };
    const imported = packagesTypedThroughExports(installed.dist, pkg.exports);
    expect(imported.size).toBeGreaterThan(3);
    expect([...imported].filter((name) => !typedForApps(name, pkg.dependencies)).sort()).toEqual([]);
  });

  test("README's standalone code type-checks in an app (strict, skipLibCheck: false), the scopes and callbackURL options included, and a bad config is a type error", async () => {
    const snippet = [
      "import express from 'express';",
      "import passport from 'passport';",
      "import type { Identity } from 'dexpress';",
      "import { LdapStrategy } from 'dexpress/strategies/ldap';",
      "import { configSchema as gitlabConfig, GitLabStrategy } from 'dexpress/strategies/gitlab';",
      "passport.use('ldap', new LdapStrategy({ host: 'ldap.example.com:636', bindDN: 'cn=admin,dc=example,dc=org', bindPW: '', userSearch: { baseDN: 'ou=People,dc=example,dc=org', username: 'uid', idAttr: 'uid', emailAttr: 'mail', nameAttr: 'cn' } }));",
      "passport.use('gitlab', new GitLabStrategy(gitlabConfig.parse({ clientID: 'id', clientSecret: 'secret', redirectURI: 'https://app.example.com/cb' })));",
      '// @ts-expect-error: a config without clientSecret',
      "new GitLabStrategy({ clientID: 'id' });",
      'const app = express();',
      "app.post('/login', passport.authenticate('ldap', { failureMessage: true, scopes: { offlineAccess: false, groups: false } }), (req, res) => {",
      '  const { connectorData: _, ...user } = req.user as Identity;',
      '  res.json(user);',
      '});',
      "app.get('/cb', passport.authenticate('gitlab', { failureRedirect: '/login', callbackURL: 'https://app.example.com/cb' }));",
    ].join('\n');
    writeFileSync(join(installed.app, 'app.mts'), snippet);
    const compilerOptions = { strict: true, exactOptionalPropertyTypes: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'], noEmit: true, skipLibCheck: false };
    writeFileSync(join(installed.app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['app.mts'] }));
    const tsc = promisify(execFile)(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: installed.app });
    await expect(tsc.catch((err: { stdout?: string }) => Promise.reject(new Error(err.stdout)))).resolves.toBeDefined();
  }, 120_000);
});
