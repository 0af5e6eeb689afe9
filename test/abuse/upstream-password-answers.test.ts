/**
 * Upstream answers of the password connectors are untrusted input: `atlassian-crowd` and
 * `keystone` against a small stub speaking their REST APIs (good answers by default, one
 * malformed answer per test), `ldap` against a real slapd seeded with awkward entries. Through
 * the broker's password form and password grant, and the refresh grant: every refusal is an
 * error page or an OAuth error without internals, no login for an identity the upstream did not
 * properly vouch for, and a refresh answers invalid_grant or 503, never a 500.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { login, startLogin } from '../helpers/rp.js';
import type { Slapd } from '../servers/slapd.js';
import { ldapConfig, PEOPLE, startSeededSlapd } from '../strategies/ldap/directory.js';
import { expectErrorPage, expectRefreshRefused, HTML_200, INTERNALS, tokenRequest } from './upstream-checks.js';

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A stub upstream: `METHOD path` (without query) to an answer, good ones by default, one override at a time. */
class StubUpstream {
  url = '';
  private server = http.createServer((req, res) => {
    const key = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    req.resume();
    req.on('end', () => {
      const answer = this.overrides.get(key) ?? this.defaults.get(key) ?? { status: 404, body: { error: 'not found' } };
      const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      const type = typeof answer.body === 'string' ? 'text/html' : 'application/json';
      res.writeHead(answer.status, { 'content-type': type, ...answer.headers }).end(text);
    });
  });
  private overrides = new Map<string, Answer>();

  constructor(private readonly defaults: Map<string, Answer>) {}

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  answer(key: string, answer: Answer): void {
    this.overrides.set(key, answer);
  }

  reset(): void {
    this.overrides.clear();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const passwordGrant = (issuer: string, username: string, password: string) =>
  tokenRequest(issuer, { grant_type: 'password', username, password, scope: 'openid email profile groups offline_access' });

/** A password-form login that must end on an error page (4xx/5xx) without internals and without a code. */
const expectFormRefused = (issuer: string, username: string, password: string, connectorId?: string) =>
  expectErrorPage(issuer, { password: { username, password }, ...(connectorId ? { connectorId } : {}) });

/** A password grant that must be refused with an OAuth error, no tokens. */
async function expectGrantRefused(issuer: string, username: string, password: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await passwordGrant(issuer, username, password);
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(answer.body.access_token).toBeUndefined();
  expect(typeof answer.body.error).toBe('string');
  expect(JSON.stringify(answer.body)).not.toMatch(INTERNALS);
  return answer;
}

async function refreshTokenOf(issuer: string, username: string, password: string): Promise<string> {
  const { status, body } = await passwordGrant(issuer, username, password);
  expect(status).toBe(200);
  return body.refresh_token as string;
}

describe('atlassian-crowd', () => {
  const API = '/crowd/rest/usermanagement/1';
  const crowdUser = { name: 'alice', key: '32769:aaaa', active: true, email: 'alice@example.org' };
  const stub = new StubUpstream(
    new Map<string, Answer>([
      [`POST ${API}/session`, { status: 201, body: { expand: 'user', token: 'crowd-session-token', user: { name: 'alice' } } }],
      [`GET ${API}/user`, { status: 200, body: crowdUser }],
      [`GET ${API}/user/group/nested`, { status: 200, body: { expand: 'group', groups: [{ name: 'staff' }] } }],
    ]),
  );
  let broker: TestBroker;

  beforeAll(async () => {
    await stub.listen();
    broker = await startBroker({
      connectors: [{ type: 'atlassian-crowd', id: 'crowd', name: 'Crowd', config: { baseURL: `${stub.url}/crowd`, clientID: 'dexpress', clientSecret: 'app-secret' } }],
      oauth2: { skipApprovalScreen: true, passwordConnector: 'crowd' },
    });
  });
  afterEach(() => stub.reset());
  afterAll(async () => {
    await broker?.close();
    await stub.close();
  });

  test('the stub’s good answers log in', async () => {
    const { claims } = await login(broker.issuer, { password: { username: 'alice', password: 'pw' } });
    expect(claims).toMatchObject({ email: 'alice@example.org', groups: ['staff'] });
  });

  test.each<[string, Answer]>([
    ['POST /session answers 200 with Crowd’s wrong-password error body', { status: 200, body: { reason: 'INVALID_USER_AUTHENTICATION', message: 'password was invalid' } }],
    ['POST /session answers 200 with an HTML page', { status: 200, body: HTML_200 }],
    ['POST /session answers 201 with null', { status: 201, body: null }],
  ])('%s: no login', async (_what, answer) => {
    stub.answer(`POST ${API}/session`, answer);
    await expectFormRefused(broker.issuer, 'alice', 'wrong');
    await expectGrantRefused(broker.issuer, 'alice', 'wrong');
  });

  test.each<[string, string, Answer]>([
    ['GET /user answers an HTML page with 200', '/user', { status: 200, body: HTML_200 }],
    ['GET /user answers a numeric key', '/user', { status: 200, body: { ...crowdUser, key: 32769 } }],
    ['GET /user answers "active" as a string', '/user', { status: 200, body: { ...crowdUser, active: 'true' } }],
    ['GET /user answers null', '/user', { status: 200, body: null }],
    ['GET /user answers another user than the one who authenticated', '/user', { status: 200, body: { ...crowdUser, name: 'mallory', key: '32769:mmmm' } }],
    ['the groups are an object', '/user/group/nested', { status: 200, body: { groups: { name: 'staff' } } }],
    ['a group name is a number', '/user/group/nested', { status: 200, body: { groups: [{ name: 42 }] } }],
    ['a group name is null', '/user/group/nested', { status: 200, body: { groups: [{ name: null }] } }],
  ])('%s: an error page and an OAuth error', async (_what, path, answer) => {
    stub.answer(`GET ${API}${path}`, answer);
    await expectFormRefused(broker.issuer, 'alice', 'pw');
    await expectGrantRefused(broker.issuer, 'alice', 'pw');
  });

  test('an inactive user Crowd still opened a session for: refused with a page saying so', async () => {
    stub.answer(`GET ${API}/user`, { status: 200, body: { ...crowdUser, active: false } });
    const page = await expectFormRefused(broker.issuer, 'alice', 'pw');
    expect(page.status).toBe(403);
    expect(page.body).toMatch(/inactive/);
  });

  test('a huge group list (every page full): refused, not a login with part of the groups', async () => {
    const full = { status: 200, body: { groups: Array.from({ length: 1000 }, (_, i) => ({ name: `g${i}` })) } };
    stub.answer(`GET ${API}/user/group/nested`, full);
    await expectGrantRefused(broker.issuer, 'alice', 'pw');
  });

  test.each<[string, string, string, Answer]>([
    ['GET /user answers an HTML page with 200', 'GET', '/user', { status: 200, body: HTML_200 }],
    ['GET /user answers a numeric key', 'GET', '/user', { status: 200, body: { ...crowdUser, key: 32769 } }],
    ['the session check answers 200 with an access-denied body', 'POST', '/session', { status: 200, body: { reason: 'APPLICATION_ACCESS_DENIED', message: 'denied' } }],
    ['the session check answers 500 with HTML', 'POST', '/session', { status: 500, body: HTML_200 }],
    ['the groups are a string', 'GET', '/user/group/nested', { status: 200, body: { groups: 'staff' } }],
  ])('refresh: %s: invalid_grant or 503', async (_what, method, path, answer) => {
    const refreshToken = await refreshTokenOf(broker.issuer, 'alice', 'pw');
    stub.answer(`${method} ${API}${path}`, answer);
    await expectRefreshRefused(broker.issuer, refreshToken);
  });
});

describe('keystone', () => {
  const USER_ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
  const OTHER_ID = 'ffffffffffffffffffffffffffffffff';
  const keystoneUser = { id: USER_ID, name: 'alice', email: 'alice@example.org', enabled: true, domain_id: 'default' };
  const token = { status: 201, body: { token: { user: { id: USER_ID, name: 'alice', domain: { id: 'default' } } } }, headers: { 'x-subject-token': 'gAAAA-token' } };
  const stub = new StubUpstream(
    new Map<string, Answer>([
      ['POST /v3/auth/tokens', token],
      [`GET /v3/users/${USER_ID}`, { status: 200, body: { user: keystoneUser } }],
      [`GET /v3/users/${USER_ID}/groups`, { status: 200, body: { groups: [{ id: 'g1', name: 'staff' }], links: {} } }],
      // So that a login handed another user (or a numeric id) is refused for that, not for a 404 on its groups.
      [`GET /v3/users/${OTHER_ID}/groups`, { status: 200, body: { groups: [], links: {} } }],
      ['GET /v3/users/42/groups', { status: 200, body: { groups: [], links: {} } }],
    ]),
  );
  let broker: TestBroker;

  beforeAll(async () => {
    await stub.listen();
    broker = await startBroker({
      connectors: [{ type: 'keystone', id: 'keystone', name: 'Keystone', config: { keystoneHost: stub.url, domain: 'default', keystoneUsername: 'admin', keystonePassword: 'admin-pw' } }],
      oauth2: { skipApprovalScreen: true, passwordConnector: 'keystone' },
    });
  });
  afterEach(() => stub.reset());
  afterAll(async () => {
    await broker?.close();
    await stub.close();
  });

  test('the stub’s good answers log in', async () => {
    const { claims } = await login(broker.issuer, { password: { username: 'alice', password: 'pw' } });
    expect(claims).toMatchObject({ email: 'alice@example.org', groups: ['staff'] });
  });

  test.each<[string, string, Answer]>([
    ['the token answer is HTML with 201', 'POST /v3/auth/tokens', { status: 201, body: HTML_200, headers: { 'x-subject-token': 't' } }],
    ['the token answer is 200 with an error body', 'POST /v3/auth/tokens', { status: 200, body: { error: { code: 401, message: 'The request you have made requires authentication.' } } }],
    ['the token answer has a numeric user id', 'POST /v3/auth/tokens', { ...token, body: { token: { user: { id: 42 } } } }],
    ['the user is null', `GET /v3/users/${USER_ID}`, { status: 200, body: { user: null } }],
    ['the user has a numeric id', `GET /v3/users/${USER_ID}`, { status: 200, body: { user: { ...keystoneUser, id: 42 } } }],
    ['the user read back is another user', `GET /v3/users/${USER_ID}`, { status: 200, body: { user: { ...keystoneUser, id: OTHER_ID, name: 'mallory' } } }],
    ['the groups are an object', `GET /v3/users/${USER_ID}/groups`, { status: 200, body: { groups: { name: 'staff' } } }],
    ['a group name is a number', `GET /v3/users/${USER_ID}/groups`, { status: 200, body: { groups: [{ id: 'g', name: 42 }] } }],
    ['the group list is truncated', `GET /v3/users/${USER_ID}/groups`, { status: 200, body: { groups: [{ id: 'g', name: 'staff' }], truncated: true } }],
  ])('%s: an error page and an OAuth error', async (_what, key, answer) => {
    stub.answer(key, answer);
    await expectFormRefused(broker.issuer, 'alice', 'pw');
    await expectGrantRefused(broker.issuer, 'alice', 'pw');
  });

  test('a user read back disabled: refused with a page saying so', async () => {
    stub.answer(`GET /v3/users/${USER_ID}`, { status: 200, body: { user: { ...keystoneUser, enabled: false } } });
    const page = await expectFormRefused(broker.issuer, 'alice', 'pw');
    expect(page.status).toBe(403);
    expect(page.body).toMatch(/disabled/);
    await expectGrantRefused(broker.issuer, 'alice', 'pw');
  });

  test.each<[string, string, Answer]>([
    ['the admin token answer is HTML', 'POST /v3/auth/tokens', { status: 200, body: HTML_200 }],
    ['the user answer is an error body with 200', `GET /v3/users/${USER_ID}`, { status: 200, body: { error: { code: 500, message: 'boom' } } }],
    ['the user is another user', `GET /v3/users/${USER_ID}`, { status: 200, body: { user: { ...keystoneUser, id: OTHER_ID } } }],
    ['the user is disabled', `GET /v3/users/${USER_ID}`, { status: 200, body: { user: { ...keystoneUser, enabled: false } } }],
    ['the groups are null', `GET /v3/users/${USER_ID}/groups`, { status: 200, body: { groups: null } }],
  ])('refresh: %s: invalid_grant or 503', async (_what, key, answer) => {
    const refreshToken = await refreshTokenOf(broker.issuer, 'alice', 'pw');
    stub.answer(key, answer);
    await expectRefreshRefused(broker.issuer, refreshToken);
  });
});

describe('ldap', () => {
  let slapd: Slapd;
  let broker: TestBroker;

  /** Awkward entries: a uid shared by two entries, a binary id, two uids on one entry, a DN with `+` and `\`. */
  const SEED = [
    ['dn: uid=dup,ou=contractors,' + PEOPLE, 'objectClass: inetOrgPerson', 'uid: dup', 'cn: Dup One', 'sn: One', 'mail: dup1@example.org', 'userPassword: dup-pw'].join('\n'),
    [`dn: cn=Dup Two,${PEOPLE}`, 'objectClass: inetOrgPerson', 'uid: dup', 'cn: Dup Two', 'sn: Two', 'mail: dup2@example.org', 'userPassword: dup-pw'].join('\n'),
    [`dn: uid=twovals,${PEOPLE}`, 'objectClass: inetOrgPerson', 'uid: twovals', 'uid: second', 'cn: Two Vals', 'sn: Vals', 'mail: twovals@example.org', 'userPassword: twovals-pw'].join('\n'),
    [`dn: cn=Plus+uid=plus\\5Cone,${PEOPLE}`, 'objectClass: inetOrgPerson', 'uid: plus\\one', 'cn: Plus', 'sn: Plus', 'mail: plus@example.org', 'userPassword: plus-pw'].join('\n'),
    ['dn: cn=a\\2Cb (x*),ou=groups,dc=example,dc=org', 'objectClass: groupOfNames', 'cn: a,b (x*)', `member: cn=Plus+uid=plus\\5Cone,${PEOPLE}`].join('\n'),
    ['dn: cn=outer,ou=groups,dc=example,dc=org', 'objectClass: groupOfNames', 'cn: outer', 'member: cn=a\\2Cb (x*),ou=groups,dc=example,dc=org'].join('\n'),
    // A referral to another server: slapd answers a search under it with result code 10 (referral).
    [`dn: ou=elsewhere,${PEOPLE}`, 'objectClass: referral', 'objectClass: extensibleObject', 'ou: elsewhere', 'ref: ldap://127.0.0.1:9/ou=people,dc=example,dc=org'].join('\n'),
  ].join('\n\n');

  beforeAll(async () => {
    slapd = await startSeededSlapd();
    await slapd.add(SEED);
    broker = await startBroker({
      connectors: [
        { type: 'ldap', id: 'ldap', name: 'Example LDAP', config: ldapConfig(slapd) },
        { type: 'ldap', id: 'referred', name: 'Referred LDAP', config: ldapConfig(slapd, { userSearch: { baseDN: `ou=elsewhere,${PEOPLE}` } }) },
      ],
      oauth2: { skipApprovalScreen: true, passwordConnector: 'ldap' },
    });
  }, 60_000);
  afterAll(async () => {
    await broker?.close();
    await slapd?.close();
  });

  test('a user search answered with a referral: an error page naming the directory, no internals', async () => {
    const result = await startLogin(broker.issuer, { connectorId: 'referred', password: { username: 'alice', password: 'alice-pw' } });
    expect(result.landed).toBeUndefined();
    expect(result.page?.status).toBe(502);
    expect(result.page?.body).toMatch(/Referred LDAP cannot be reached or is misconfigured/);
    expect(result.page?.body).not.toMatch(INTERNALS);
    expect(result.page?.body).not.toContain('elsewhere');
  });

  test('a username matching two entries: refused on the form and in the password grant', async () => {
    const page = await expectFormRefused(broker.issuer, 'dup', 'dup-pw', 'ldap');
    expect(page.status).toBe(502);
    await expectGrantRefused(broker.issuer, 'dup', 'dup-pw');
  });

  test('a DN with "+" and "\\" finds its groups, nested ones through a group DN with "," "(" "*"', async () => {
    const { claims } = await login(broker.issuer, { connectorId: 'ldap', password: { username: 'plus\\one', password: 'plus-pw' } });
    expect(claims.email).toBe('plus@example.org');
    expect([...(claims.groups as string[])].sort()).toEqual(['a,b (x*)', 'outer']);
  });

  test('an entry with two values of the id attribute is the same user whichever value logs in', async () => {
    const first = await passwordGrant(broker.issuer, 'twovals', 'twovals-pw');
    const second = await passwordGrant(broker.issuer, 'second', 'twovals-pw');
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    const sub = (t: unknown) => JSON.parse(Buffer.from(String(t).split('.')[1]!, 'base64url').toString()).sub as string;
    expect(sub(first.body.id_token)).toBe(sub(second.body.id_token));
  });

  test('a user whose username later matches two entries: refresh is invalid_grant', async () => {
    const refreshToken = await refreshTokenOf(broker.issuer, 'alice', 'alice-pw');
    await slapd.add([`dn: cn=Alice Twin,ou=contractors,${PEOPLE}`, 'objectClass: inetOrgPerson', 'uid: alice', 'cn: Alice Twin', 'sn: Twin', 'mail: twin@example.org'].join('\n'));
    expect(await expectRefreshRefused(broker.issuer, refreshToken)).toBe(400);
  });
});
