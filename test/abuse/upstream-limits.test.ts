/**
 * The platforms' paging and rate limits, through the broker. An upstream that is rate limiting
 * (GitHub's primary 403 with `x-ratelimit-remaining: 0` and secondary 403 with `retry-after`,
 * 429 elsewhere) or failing (503) gives the "<X> is unavailable" 502 page at login and 503
 * `temporarily_unavailable` at refresh, the refresh token kept: never "access denied", never
 * invalid_grant, never a 500. Groups are read from every page, or the login fails closed; a
 * next-page link to another host is not followed with the token.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRegistry } from '../../lib/connector.js';
import { createGitHubModule } from '../../strategies/github/index.js';
import { BitbucketFake } from '../fakes/bitbucket-cloud/index.js';
import { CLIENT_ID as GITEA_ID, CLIENT_SECRET as GITEA_SECRET, GiteaFake } from '../fakes/gitea/index.js';
import { CLIENT_ID as GH_ID, CLIENT_SECRET as GH_SECRET, GitHubFake } from '../fakes/github/index.js';
import { CLIENT_ID as GL_ID, CLIENT_SECRET as GL_SECRET, GitLabFake } from '../fakes/gitlab/index.js';
import { FakeMicrosoft } from '../fakes/microsoft/index.js';
import type { Fault, OAuthFake } from '../fakes/platform.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { login, startLogin } from '../helpers/rp.js';
import { bitbucketBroker, GITHUB_ALICE, refreshAt, withFault } from './upstream-checks.js';

/** A login that must end on the "<name> is unavailable" 502 page. */
async function expectUnavailablePage(issuer: string, connectorId: string, name: string, scope?: string): Promise<void> {
  const result = await startLogin(issuer, { connectorId, ...(scope ? { scope } : {}) });
  expect(result.landed).toBeUndefined();
  expect(result.page?.status).toBe(502);
  expect(result.page?.body).toContain(`${name} is unavailable`);
}

/** A refresh under `fault` is a 503 temporarily_unavailable, and the same token refreshes once it is gone. */
async function expectRefreshKept(oauth: OAuthFake, issuer: string, refreshToken: string, path: string, fault: Fault): Promise<void> {
  oauth.fail(path, fault);
  try {
    const answer = await refreshAt(issuer, refreshToken);
    expect(answer).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable' } });
  } finally {
    oauth.clearFaults();
  }
  expect((await refreshAt(issuer, refreshToken)).status).toBe(200);
}

/** A server on another host (port) recording the authorization headers it is sent. */
async function elsewhere(): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers.authorization ?? '');
    res.setHeader('content-type', 'application/json');
    res.end('[]');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const RETRY = { 'retry-after': '30' };

describe('github', () => {
  const fake = new GitHubFake();
  let broker: TestBroker;
  const primary: Fault = {
    status: 403,
    headers: { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 600), 'x-ratelimit-resource': 'core' },
    body: { message: 'API rate limit exceeded for user ID 501.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api', status: '403' },
  };
  const secondary: Fault = {
    status: 403,
    headers: { 'retry-after': '60' },
    body: { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits', status: '403' },
  };
  const tooMany: Fault = { status: 429, headers: RETRY, body: { message: 'API rate limit exceeded', status: '429' } };

  beforeAll(async () => {
    await fake.listen();
    fake.add(GITHUB_ALICE);
    fake.oauth.approveAs = 'alice';
    const registry = createRegistry([createGitHubModule({ endpoints: fake.endpoints(), timeoutMs: 5000 })]);
    broker = await startBroker(
      {
        connectors: [
          { type: 'github', id: 'github', name: 'GitHub', config: { clientID: GH_ID, clientSecret: GH_SECRET, orgs: [{ name: 'acme' }] } },
          { type: 'github', id: 'github-all', name: 'GitHub All', config: { clientID: GH_ID, clientSecret: GH_SECRET, loadAllGroups: true } },
        ],
      },
      { registry },
    );
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  const paths = ['/user', '/user/emails', '/user/teams', '/orgs/acme/members/alice'];
  const faults: [string, Fault][] = [
    ['the primary rate limit (403)', primary],
    ['a secondary rate limit (403, retry-after)', secondary],
    ['a 429', tooMany],
  ];
  const cases = paths.flatMap((path) => faults.map(([what, fault]) => [path, what, fault] as const));

  test.each(cases)('%s answering %s: the unavailable page at login', async (path, _what, fault) => {
    await withFault(fake.oauth, path, fault, () => expectUnavailablePage(broker.issuer, 'github', 'GitHub'));
  });

  test.each(cases)('%s answering %s: 503 at refresh, the token kept', async (path, _what, fault) => {
    const { tokens } = await login(broker.issuer, { connectorId: 'github', scope: 'openid email groups offline_access' });
    await expectRefreshKept(fake.oauth, broker.issuer, tokens.refresh_token!, path, fault);
  });

  test.each(faults)('/user/orgs answering %s with loadAllGroups: the unavailable page', async (_what, fault) => {
    await withFault(fake.oauth, '/user/orgs', fault, () => expectUnavailablePage(broker.issuer, 'github-all', 'GitHub All', 'openid email groups'));
  });

  test('a next-page Link to another host is not followed with the token: the unavailable page', async () => {
    const other = await elsewhere();
    try {
      const body = [{ name: 'Core', slug: 'core', organization: { login: 'acme' } }];
      const link = `<${other.url}/user/teams?page=2>; rel="next", <${other.url}/user/teams?page=2>; rel="last"`;
      await withFault(fake.oauth, '/user/teams', { status: 200, body, headers: { link } }, () => expectUnavailablePage(broker.issuer, 'github', 'GitHub'));
      expect(other.seen).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

describe('gitlab', () => {
  const fake = new GitLabFake();
  let broker: TestBroker;
  const groups = Array.from({ length: 5 }, (_, i) => ({ id: 100 + i, fullPath: `team-${i}`, level: 30, direct: true }));

  beforeAll(async () => {
    await fake.listen();
    fake.add({ id: 42, username: 'alice', name: 'Alice', email: 'alice@example.com', confirmedAt: '2024-01-01T00:00:00Z', groups });
    fake.oauth.approveAs = 'alice';
    const base = { baseURL: fake.oauth.url, clientID: GL_ID, clientSecret: GL_SECRET };
    broker = await startBroker({
      connectors: [
        { type: 'gitlab', id: 'gitlab', name: 'GitLab', config: { ...base, groups: ['team-0'] } },
        { type: 'gitlab', id: 'gitlab-inherited', name: 'GitLab Inherited', config: { ...base, inheritedGroups: true, groups: ['team-4'] } },
      ],
    });
  });
  afterEach(() => {
    fake.oauth.clearFaults();
    fake.maxPerPage = 100;
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  const tooMany: Fault = { status: 429, headers: { ...RETRY, 'ratelimit-remaining': '0' }, body: 'Retry later\n' };
  const cases: [string, string, string][] = [
    ['gitlab', 'GitLab', '/api/v4/user'],
    ['gitlab', 'GitLab', '/oauth/userinfo'],
    ['gitlab-inherited', 'GitLab Inherited', '/api/v4/groups'],
  ];

  test.each(cases)('%s: %s %s answering 429: the unavailable page at login', async (id, name, path) => {
    await withFault(fake.oauth, path, tooMany, () => expectUnavailablePage(broker.issuer, id, name));
  });

  test.each(cases)('%s: %s %s answering 429: 503 at refresh, the token kept', async (id, _name, path) => {
    const { tokens } = await login(broker.issuer, { connectorId: id });
    await expectRefreshKept(fake.oauth, broker.issuer, tokens.refresh_token!, path, tooMany);
  });

  test('groups on a later page count, however many a page holds (GitLab says the next page in x-next-page)', async () => {
    fake.maxPerPage = 2;
    const { claims } = await login(broker.issuer, { connectorId: 'gitlab-inherited', scope: 'openid email groups' });
    expect(claims.groups).toEqual(['team-4']);
  });

  test('the groups pages read at refresh too: a page shorter than asked does not end the login', async () => {
    const { tokens } = await login(broker.issuer, { connectorId: 'gitlab-inherited', scope: 'openid email groups offline_access' });
    fake.maxPerPage = 2;
    expect((await refreshAt(broker.issuer, tokens.refresh_token!)).status).toBe(200);
  });
});

describe('gitea', () => {
  const fake = new GiteaFake();
  let broker: TestBroker;

  beforeAll(async () => {
    await fake.listen();
    const teams = [...Array.from({ length: 5 }, (_, i) => ({ org: `other-${i}`, name: 'devs' })), { org: 'acme', name: 'devs' }];
    fake.add({ id: 9, login: 'alice', fullName: 'Alice', email: 'alice@example.com', emails: [{ email: 'alice@example.com', verified: true, primary: true }], teams });
    fake.oauth.approveAs = 'alice';
    broker = await startBroker({
      connectors: [{ type: 'gitea', id: 'gitea', name: 'Gitea', config: { baseURL: fake.oauth.url, clientID: GITEA_ID, clientSecret: GITEA_SECRET, orgs: [{ name: 'acme' }] } }],
    });
  });
  afterEach(() => {
    fake.oauth.clearFaults();
    fake.maxResponseItems = 50;
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  const tooMany: Fault = { status: 429, headers: RETRY, body: { message: 'rate limit exceeded', url: 'https://gitea.example/api/swagger' } };
  const paths = ['/api/v1/user', '/api/v1/user/emails', '/api/v1/user/teams'];

  test.each(paths)('%s answering 429: the unavailable page at login', async (path) => {
    await withFault(fake.oauth, path, tooMany, () => expectUnavailablePage(broker.issuer, 'gitea', 'Gitea'));
  });

  test.each(paths)('%s answering 429: 503 at refresh, the token kept', async (path) => {
    const { tokens } = await login(broker.issuer, { connectorId: 'gitea', scope: 'openid email offline_access' });
    await expectRefreshKept(fake.oauth, broker.issuer, tokens.refresh_token!, path, tooMany);
  });

  // Gitea gives no groups claim (as Dex): the login landing is the proof that the required org,
  // on the last page, was read.
  test('the required org on the last page of teams (MAX_RESPONSE_ITEMS below the asked limit) admits', async () => {
    fake.maxResponseItems = 2;
    const { claims } = await login(broker.issuer, { connectorId: 'gitea', scope: 'openid email groups' });
    expect(claims.email).toBe('alice@example.com');
  });
});

describe('bitbucket-cloud', () => {
  const fake = new BitbucketFake();
  let broker: TestBroker;

  beforeAll(async () => {
    broker = await bitbucketBroker(fake);
  });
  afterEach(() => {
    fake.oauth.clearFaults();
    fake.oauth.accessTokenLifetime = 7200;
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  const tooMany: Fault = { status: 429, headers: RETRY, body: { type: 'error', error: { message: 'Rate limit for this resource has been exceeded' } } };
  const paths = ['/2.0/user', '/2.0/user/emails', '/2.0/user/workspaces'];

  test.each(paths)('%s answering 429: the unavailable page at login', async (path) => {
    await withFault(fake.oauth, path, tooMany, () => expectUnavailablePage(broker.issuer, 'bitbucket', 'Bitbucket'));
  });

  test.each(paths)('%s answering 429: 503 at refresh, the token kept', async (path) => {
    const { tokens } = await login(broker.issuer, { connectorId: 'bitbucket' });
    await expectRefreshKept(fake.oauth, broker.issuer, tokens.refresh_token!, path, tooMany);
  });

  test('the token endpoint answering 429 at refresh: 503, the token kept', async () => {
    // Bitbucket renews only an access token about to expire (within 10 s): make it so.
    fake.oauth.accessTokenLifetime = 5;
    const { tokens } = await login(broker.issuer, { connectorId: 'bitbucket' });
    await expectRefreshKept(fake.oauth, broker.issuer, tokens.refresh_token!, '/site/oauth2/access_token', tooMany);
  });

  test('a `next` page on another host is not followed with the token: the unavailable page', async () => {
    const other = await elsewhere();
    try {
      const body = { pagelen: 1, page: 1, size: 2, values: [{ workspace: { slug: 'acme' } }], next: `${other.url}/2.0/user/workspaces?page=2` };
      await withFault(fake.oauth, '/2.0/user/workspaces', { status: 200, body }, () => expectUnavailablePage(broker.issuer, 'bitbucket', 'Bitbucket'));
      expect(other.seen).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

describe('microsoft', () => {
  const TENANT = 'contoso.onmicrosoft.com';
  let fake: FakeMicrosoft;
  let broker: TestBroker;

  beforeAll(async () => {
    fake = new FakeMicrosoft();
    const url = await fake.listen();
    const groups = Array.from({ length: 5 }, (_, i) => ({ id: `g-${i}`, displayName: `Group ${i}`, securityEnabled: true }));
    fake.addUser({ id: 'u-jane', displayName: 'Jane Doe', userPrincipalName: 'jane@contoso.onmicrosoft.com', groups });
    fake.approveAs = 'u-jane';
    const config = { clientID: 'ms-client', clientSecret: 'ms-secret', apiURL: url, graphURL: url, tenant: TENANT, groups: ['Group 4'] };
    broker = await startBroker({ connectors: [{ type: 'microsoft', id: 'microsoft', name: 'Microsoft', config }] });
  });
  afterEach(() => {
    fake.clearFaults();
    fake.accessTokenLifetime = 3600;
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  const graphError = (status: number, code: string) => ({ status, headers: RETRY, body: { error: { code, message: 'Too many requests or service unavailable.' } } });
  const paths = ['/v1.0/me', '/v1.0/me/getMemberGroups', '/v1.0/directoryObjects/getByIds'];
  const cases = paths.flatMap((path) => [[path, 429, 'TooManyRequests'] as const, [path, 503, 'serviceNotAvailable'] as const]);

  test.each(cases)('%s answering %s: the unavailable page at login', async (path, status, code) => {
    await withFault(fake, path, graphError(status, code), () => expectUnavailablePage(broker.issuer, 'microsoft', 'Microsoft'));
  });

  test.each(cases)('%s answering %s: 503 at refresh, the token kept', async (path, status, code) => {
    const { tokens } = await login(broker.issuer, { connectorId: 'microsoft' });
    await expectRefreshKept(fake, broker.issuer, tokens.refresh_token!, path, graphError(status, code));
  });

  test('the required group on the last getMemberGroups/getByIds page counts', async () => {
    const { claims } = await login(broker.issuer, { connectorId: 'microsoft', scope: 'openid email groups' });
    expect(claims.groups).toContain('Group 4');
  });

  test.each([
    ['429', 429, { error: 'temporarily_unavailable', error_description: 'AADSTS50196: The server terminated an operation because it encountered a client request loop.' }],
    ['400 temporarily_unavailable', 400, { error: 'temporarily_unavailable', error_description: 'AADSTS90055: The server is temporarily too busy to handle the request. Retry the request.' }],
    ['400 server_error', 400, { error: 'server_error', error_description: 'AADSTS90000: An internal error occurred.' }],
    ['500 server_error', 500, { error: 'server_error', error_description: 'AADSTS90000: An internal error occurred.' }],
  ])('the token endpoint answering %s at refresh: 503, the token kept', async (_what, status, body) => {
    // The connector renews only an access token about to expire (within 10 s): make it so.
    fake.accessTokenLifetime = 5;
    const { tokens } = await login(broker.issuer, { connectorId: 'microsoft' });
    await expectRefreshKept(fake, broker.issuer, tokens.refresh_token!, `/${TENANT}/oauth2/v2.0/token`, { status, headers: RETRY, body });
  });
});
