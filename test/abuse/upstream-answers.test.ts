/**
 * Upstream answers are untrusted input too: each built-in OAuth/OIDC connector, through the
 * broker, against its fake answering malformed things (null, an array instead of an object,
 * wrong types, an HTML page with status 200, absurd `expires_in`) on the token endpoint and on
 * the user and groups APIs. Every login ends in an error page (4xx/5xx) without a stack trace or
 * an internal path, the client gets no code, and the broker serves the next good login. Where
 * the connector refreshes, the refresh grant answers an OAuth error (invalid_grant, or 503
 * temporarily_unavailable), never a 500.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRegistry } from '../../lib/connector.js';
import { createGitHubModule } from '../../strategies/github/index.js';
import { BitbucketFake } from '../fakes/bitbucket-cloud/index.js';
import { CLIENT_ID as GITEA_ID, CLIENT_SECRET as GITEA_SECRET, GiteaFake } from '../fakes/gitea/index.js';
import { CLIENT_ID as GH_ID, CLIENT_SECRET as GH_SECRET, GitHubFake } from '../fakes/github/index.js';
import { CLIENT_ID as GL_ID, CLIENT_SECRET as GL_SECRET, GitLabFake } from '../fakes/gitlab/index.js';
import { FakeGoogle } from '../fakes/google/index.js';
import { FakeLinkedIn } from '../fakes/linkedin/index.js';
import { FakeMicrosoft } from '../fakes/microsoft/index.js';
import { CLIENT_ID as OS_ID, CLIENT_SECRET as OS_SECRET, OpenShiftFake } from '../fakes/openshift/index.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { login } from '../helpers/rp.js';
import { bitbucketBroker, expectErrorPage, expectRefreshRefused, GITHUB_ALICE, HTML_200, refreshAt, withFault } from './upstream-checks.js';

describe('github', () => {
  const fake = new GitHubFake();
  let broker: TestBroker;

  beforeAll(async () => {
    await fake.listen();
    fake.add(GITHUB_ALICE);
    fake.oauth.approveAs = 'alice';
    const registry = createRegistry([createGitHubModule({ endpoints: fake.endpoints(), timeoutMs: 5000 })]);
    broker = await startBroker({ connectors: [{ type: 'github', id: 'github', name: 'GitHub', config: { clientID: GH_ID, clientSecret: GH_SECRET, orgs: [{ name: 'acme' }] } }] }, { registry });
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  test.each([
    ['/user is null', '/user', null],
    ['/user is an array', '/user', [{ id: 501, login: 'alice' }]],
    ['/user has an object id', '/user', { id: {}, login: 'alice' }],
    ['/user/emails is an object', '/user/emails', { email: 'alice@example.com', verified: true, primary: true }],
    ['/user/emails has a numeric email', '/user/emails', [{ email: 42, verified: true, primary: true }]],
    ['/user/teams has a string organization', '/user/teams', [{ name: 'Core', slug: 'core', organization: 'acme' }]],
    ['the token endpoint answers an HTML page', '/login/oauth/access_token', HTML_200],
    ['the token endpoint answers null', '/login/oauth/access_token', null],
  ])('%s: an error page', async (_what, path, body) => {
    await withFault(fake.oauth, path, { status: 200, body: body }, () => expectErrorPage(broker.issuer, { connectorId: 'github' }));
  });

  test('an absurd expires_in from the token endpoint: the login works, the token taken as expiring now', async () => {
    const { claims } = await withFault(fake.oauth, '/login/oauth/access_token', { status: 200, body: { ...fake.oauth.issue('alice', 'user:email read:org'), expires_in: 1e300 } }, () =>
      login(broker.issuer, { connectorId: 'github', scope: 'openid email groups offline_access' }),
    );
    expect(claims.email).toBe('alice@example.com');
  });

  test('the broker still logs in afterwards', async () => {
    const { claims } = await login(broker.issuer, { connectorId: 'github' });
    expect(claims.email).toBe('alice@example.com');
  });
});

describe('gitlab', () => {
  const fake = new GitLabFake();
  let broker: TestBroker;

  beforeAll(async () => {
    await fake.listen();
    fake.add({ id: 42, username: 'alice', name: 'Alice', email: 'alice@example.com', confirmedAt: '2024-01-01T00:00:00Z', groups: [{ id: 1, fullPath: 'platform', level: 50, direct: true }] });
    fake.oauth.approveAs = 'alice';
    broker = await startBroker({
      connectors: [{ type: 'gitlab', id: 'gitlab', name: 'GitLab', config: { baseURL: fake.oauth.url, clientID: GL_ID, clientSecret: GL_SECRET, groups: ['platform'] } }],
    });
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  test.each([
    ['/api/v4/user is null', '/api/v4/user', null],
    ['/api/v4/user has a boolean id', '/api/v4/user', { id: true, username: 'alice' }],
    ['/oauth/userinfo has groups as a string', '/oauth/userinfo', { sub: '42', groups: 'platform' }],
    ['/oauth/userinfo is an array', '/oauth/userinfo', ['platform']],
    ['the token endpoint answers an HTML page', '/oauth/token', HTML_200],
    ['the token endpoint answers a numeric access_token', '/oauth/token', { access_token: 42, token_type: 'Bearer' }],
  ])('%s: an error page', async (_what, path, body) => {
    await withFault(fake.oauth, path, { status: 200, body: body }, () => expectErrorPage(broker.issuer, { connectorId: 'gitlab' }));
  });

  test.each([
    ['an HTML page', HTML_200],
    ['null', null],
    ['an array', [{ access_token: 'x' }]],
  ])('a refresh answered with %s: an OAuth error, the process serving', async (_what, body) => {
    const { tokens } = await login(broker.issuer, { connectorId: 'gitlab' });
    await withFault(fake.oauth, '/oauth/token', { status: 200, body: body }, () => expectRefreshRefused(broker.issuer, tokens.refresh_token!));
  });

  test("a refresh answered with an absurd expires_in: the new tokens are kept, taken as expiring now, and the next refresh renews them", async () => {
    const { tokens } = await login(broker.issuer, { connectorId: 'gitlab' });
    const refreshGrants = fake.oauth.counts.refreshGrants;
    const answer = await withFault(fake.oauth, '/oauth/token', { status: 200, body: { ...fake.oauth.issue('alice', 'read_user openid'), expires_in: 1e300 } }, () =>
      refreshAt(broker.issuer, tokens.refresh_token!),
    );
    expect(answer.status).toBe(200);
    const next = await refreshAt(broker.issuer, String(answer.body.refresh_token));
    expect(next.status).toBe(200);
    expect(fake.oauth.counts.refreshGrants).toBe(refreshGrants + 1); // the renewal, with the refresh token of the faulty answer
  });

  test('the broker still logs in and refreshes afterwards', async () => {
    const { tokens } = await login(broker.issuer, { connectorId: 'gitlab' });
    expect((await refreshAt(broker.issuer, tokens.refresh_token!)).status).toBe(200);
  });
});

describe('gitea', () => {
  const fake = new GiteaFake();
  let broker: TestBroker;

  beforeAll(async () => {
    await fake.listen();
    fake.add({ id: 9, login: 'alice', fullName: 'Alice', email: 'alice@example.com', emails: [{ email: 'alice@example.com', verified: true, primary: true }], teams: [{ org: 'acme', name: 'devs' }] });
    fake.oauth.approveAs = 'alice';
    broker = await startBroker({
      connectors: [{ type: 'gitea', id: 'gitea', name: 'Gitea', config: { baseURL: fake.oauth.url, clientID: GITEA_ID, clientSecret: GITEA_SECRET, orgs: [{ name: 'acme' }] } }],
    });
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  test.each([
    ['/api/v1/user is a string', '/api/v1/user', 'alice'],
    ['/api/v1/user has an object id', '/api/v1/user', { id: {}, login: 'alice', email: 'alice@example.com' }],
    ['/api/v1/user/emails has a numeric email', '/api/v1/user/emails', [{ email: 42, verified: true, primary: true }]],
    ['/api/v1/user/teams has a null organization', '/api/v1/user/teams', [{ name: 'devs', organization: null }]],
    ['/api/v1/user/teams is an object', '/api/v1/user/teams', { data: [] }],
    ['the token endpoint answers null', '/login/oauth/access_token', null],
  ])('%s: an error page', async (_what, path, body) => {
    await withFault(fake.oauth, path, { status: 200, body: body }, () => expectErrorPage(broker.issuer, { connectorId: 'gitea' }));
  });

  test('the broker still logs in afterwards', async () => {
    const { claims } = await login(broker.issuer, { connectorId: 'gitea' });
    expect(claims.email).toBe('alice@example.com');
  });
});

describe('bitbucket-cloud', () => {
  const fake = new BitbucketFake();
  let broker: TestBroker;

  beforeAll(async () => {
    broker = await bitbucketBroker(fake);
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  test.each([
    ['/2.0/user is null', '/2.0/user', null],
    ['/2.0/user has a numeric uuid', '/2.0/user', { uuid: 7, username: 'alice' }],
    ['/2.0/user/emails has values as an object', '/2.0/user/emails', { values: { email: 'alice@example.com' } }],
    ['/2.0/user/emails has a numeric email', '/2.0/user/emails', { values: [{ email: 42, is_primary: true, is_confirmed: true }] }],
    ['/2.0/user/workspaces has a string workspace', '/2.0/user/workspaces', { values: [{ workspace: 'acme' }] }],
    ['the token endpoint answers an HTML page', '/site/oauth2/access_token', HTML_200],
  ])('%s: an error page', async (_what, path, body) => {
    await withFault(fake.oauth, path, { status: 200, body: body }, () => expectErrorPage(broker.issuer, { connectorId: 'bitbucket' }));
  });

  test('a refresh answered with an HTML page: an OAuth error', async () => {
    const { tokens } = await login(broker.issuer, { connectorId: 'bitbucket' });
    // Bitbucket renews only an access token about to expire (within 10 s): make it so.
    fake.oauth.accessTokenLifetime = 5;
    try {
      const again = await login(broker.issuer, { connectorId: 'bitbucket' });
      await withFault(fake.oauth, '/site/oauth2/access_token', { status: 200, body: HTML_200 }, () => expectRefreshRefused(broker.issuer, again.tokens.refresh_token!));
    } finally {
      fake.oauth.accessTokenLifetime = 7200;
    }
    expect((await refreshAt(broker.issuer, tokens.refresh_token!)).status).toBe(200);
  });
});

describe('openshift', () => {
  const fake = new OpenShiftFake();
  let broker: TestBroker;

  beforeAll(async () => {
    await fake.listen();
    fake.add({ name: 'alice', uid: 'uid-alice', fullName: 'Alice', groups: ['developers'] });
    fake.oauth.approveAs = 'alice';
    broker = await startBroker({
      connectors: [{ type: 'openshift', id: 'openshift', name: 'OpenShift', config: { issuer: fake.oauth.url, clientID: OS_ID, clientSecret: OS_SECRET, groups: ['developers'] } }],
    });
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  const USER = '/apis/user.openshift.io/v1/users/~';
  test.each([
    ['the user is null', null],
    ['the user has metadata as a string', { kind: 'User', metadata: 'alice', groups: ['developers'] }],
    ['the user has groups as a string', { kind: 'User', metadata: { name: 'alice', uid: 'uid-alice' }, groups: 'developers' }],
    ['the user has numeric groups', { kind: 'User', metadata: { name: 'alice', uid: 'uid-alice' }, groups: [1, 2] }],
  ])('%s: an error page', async (_what, body) => {
    await withFault(fake.oauth, USER, { status: 200, body: body }, () => expectErrorPage(broker.issuer, { connectorId: 'openshift' }));
  });

  test('the broker still logs in afterwards', async () => {
    const { claims } = await login(broker.issuer, { connectorId: 'openshift' });
    expect(claims.groups).toEqual(['developers']);
  });
});

describe('microsoft', () => {
  const TENANT = 'contoso.onmicrosoft.com';
  let fake: FakeMicrosoft;
  let broker: TestBroker;

  beforeAll(async () => {
    fake = new FakeMicrosoft();
    const url = await fake.listen();
    fake.addUser({ id: 'u-jane', displayName: 'Jane Doe', userPrincipalName: 'jane@contoso.onmicrosoft.com', groups: [{ id: 'g-1', displayName: 'Engineering', securityEnabled: true }] });
    fake.approveAs = 'u-jane';
    const config = { clientID: 'ms-client', clientSecret: 'ms-secret', apiURL: url, graphURL: url, tenant: TENANT };
    broker = await startBroker({ connectors: [{ type: 'microsoft', id: 'microsoft', name: 'Microsoft', config }] });
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  test.each([
    ['/v1.0/me is null', '/v1.0/me', null],
    ['/v1.0/me has an object id', '/v1.0/me', { id: {}, displayName: 'Jane', userPrincipalName: 'jane@contoso.onmicrosoft.com' }],
    ['getMemberGroups has value as a string', '/v1.0/me/getMemberGroups', { value: 'g-1' }],
    ['getByIds has numeric names', '/v1.0/directoryObjects/getByIds', { value: [{ id: 'g-1', displayName: 42 }] }],
    ['the token endpoint answers an HTML page', `/${TENANT}/oauth2/v2.0/token`, HTML_200],
  ])('%s: an error page', async (_what, path, body) => {
    await withFault(fake, path, { status: 200, body: body }, () => expectErrorPage(broker.issuer, { connectorId: 'microsoft' }));
  });

  test.each([
    ['null', null],
    ['an HTML page', HTML_200],
  ])('a refresh answered with %s: an OAuth error', async (_what, body) => {
    // The connector renews only an access token about to expire (within 10 s): make it so.
    fake.accessTokenLifetime = 5;
    try {
      const { tokens } = await login(broker.issuer, { connectorId: 'microsoft' });
      await withFault(fake, `/${TENANT}/oauth2/v2.0/token`, { status: 200, body: body }, () => expectRefreshRefused(broker.issuer, tokens.refresh_token!));
    } finally {
      fake.accessTokenLifetime = 3600;
    }
  });

  test('the broker still logs in afterwards', async () => {
    const { claims } = await login(broker.issuer, { connectorId: 'microsoft' });
    expect(claims.email).toBe('jane@contoso.onmicrosoft.com');
  });
});

describe('google', () => {
  let fake: FakeGoogle;
  let broker: TestBroker;

  beforeAll(async () => {
    fake = new FakeGoogle();
    const url = await fake.listen();
    fake.users.set('alice', { sub: '1101', name: 'Alice', email: 'alice@acme.example', email_verified: true, hd: 'acme.example' });
    fake.users.set('objectsub', { sub: {}, name: 'Odd', email: 'odd@acme.example', email_verified: true, hd: 'acme.example' });
    fake.users.set('objecthd', { sub: '5505', name: 'Hd', email: 'hd@acme.example', email_verified: true, hd: { domain: 'acme.example' } });
    const config = { clientID: fake.options.clientID, clientSecret: fake.options.clientSecret, issuer: url, hostedDomains: ['acme.example'] };
    broker = await startBroker({ connectors: [{ type: 'google', id: 'google', name: 'Google', config }] });
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  test.each(['objectsub', 'objecthd'])('a user with claims of the wrong type (%s): an error page', async (user) => {
    fake.approveAs = user;
    await expectErrorPage(broker.issuer, { connectorId: 'google' });
  });

  test('the broker still logs in afterwards', async () => {
    fake.approveAs = 'alice';
    const { claims } = await login(broker.issuer, { connectorId: 'google' });
    expect(claims.email).toBe('alice@acme.example');
  });
});

describe('linkedin', () => {
  let fake: FakeLinkedIn;
  let broker: TestBroker;

  beforeAll(async () => {
    fake = new FakeLinkedIn({ programmaticRefresh: false });
    const url = await fake.listen();
    fake.users.set('rosa', { sub: 'aBcDeF1234', name: 'Rosa Parks', email: 'rosa@example.org', email_verified: true });
    fake.users.set('arraysub', { sub: ['aBcDeF1234'], name: 'Odd', email: 'odd@example.org', email_verified: true });
    fake.users.set('objectname', { sub: 'zz99', name: { first: 'A' }, email: 'name@example.org', email_verified: 'yes' });
    const config = { clientID: fake.options.clientID, clientSecret: fake.options.clientSecret, issuer: `${url}/oauth` };
    broker = await startBroker({ connectors: [{ type: 'linkedin', id: 'linkedin', name: 'LinkedIn', config }] });
  });
  afterAll(async () => {
    await broker?.close();
    await fake.close();
  });

  test.each(['arraysub', 'objectname'])('a member with claims of the wrong type (%s): an error page', async (user) => {
    fake.approveAs = user;
    await expectErrorPage(broker.issuer, { connectorId: 'linkedin' });
  });

  test('the broker still logs in afterwards', async () => {
    fake.approveAs = 'rosa';
    const { claims } = await login(broker.issuer, { connectorId: 'linkedin' });
    expect(claims.email).toBe('rosa@example.org');
  });
});
