/**
 * What the abuse tests for upstream answers (test/abuse/upstream-*.test.ts) check through the
 * broker: a login ends on an error page and a refresh on an OAuth error, with no internals (a
 * stack trace, a file path) and no code or token for the client; and a fault forced on a fake
 * upstream for the length of one check.
 */
import { expect } from '@jest/globals';
import { createRegistry } from '../../lib/connector.js';
import { createBitbucketCloudModule } from '../../strategies/bitbucket-cloud/index.js';
import { BitbucketFake, CLIENT_ID as BB_ID, CLIENT_SECRET as BB_SECRET } from '../fakes/bitbucket-cloud/index.js';
import type { Fault } from '../fakes/platform.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { basicAuth, postForm } from '../helpers/http.js';
import { startLogin, type LoginOptions } from '../helpers/rp.js';

/** What a stack trace or an internal path looks like in a page or a JSON error. */
export const INTERNALS = /\n\s+at |node_modules|\/work\/|\.[jt]s:\d+|TypeError|RangeError|SyntaxError/;

/** A proxy's or a login wall's page, answered with status 200 where JSON was due. */
export const HTML_200 = '<!doctype html><html><body><h1>Sign in to continue</h1></body></html>';

/** A login that must end on an error page: 4xx/5xx, no internals, no code for the client. */
export async function expectErrorPage(issuer: string, options: LoginOptions): Promise<{ status: number; body: string }> {
  const result = await startLogin(issuer, options);
  expect(result.landed).toBeUndefined();
  const page = result.page!;
  expect(page.status).toBeGreaterThanOrEqual(400);
  expect(page.status).toBeLessThan(600);
  expect(page.body).not.toMatch(INTERNALS);
  return page;
}

/** A `/token` request as the test client sends it. */
export const tokenRequest = (issuer: string, form: Record<string, string>) => postForm(`${issuer}/token`, form, basicAuth());

/** The refresh grant at the broker. */
export const refreshAt = (issuer: string, refreshToken: string) => tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: refreshToken });

/** A refresh that must end in invalid_grant or 503 temporarily_unavailable, not a 500 or internals; its status. */
export async function expectRefreshRefused(issuer: string, refreshToken: string): Promise<number> {
  const { status, body } = await refreshAt(issuer, refreshToken);
  expect([400, 503]).toContain(status);
  expect(body.error).toBe(status === 503 ? 'temporarily_unavailable' : 'invalid_grant');
  expect(JSON.stringify(body)).not.toMatch(INTERNALS);
  return status;
}

/** Forces `fault` on `path` of a fake upstream for the length of `run`. */
export async function withFault<T>(upstream: { fail(path: string, fault: Fault): void; clearFaults(): void }, path: string, fault: Fault, run: () => Promise<T>): Promise<T> {
  upstream.fail(path, fault);
  try {
    return await run();
  } finally {
    upstream.clearFaults();
  }
}

/** Alice on the GitHub fake: in org acme (team Core), with one verified primary email. */
export const GITHUB_ALICE = {
  id: 501,
  login: 'alice',
  name: 'Alice',
  email: null,
  orgs: ['acme'],
  teams: [{ org: 'acme', name: 'Core', slug: 'core' }],
  emails: [{ email: 'alice@example.com', verified: true, primary: true, visibility: null }],
};

/** Alice on a listening Bitbucket fake (member of workspace acme), and a broker whose bitbucket-cloud connector requires acme. */
export async function bitbucketBroker(fake: BitbucketFake): Promise<TestBroker> {
  await fake.listen();
  fake.add({ uuid: '{a1}', accountId: '5f:a', displayName: 'Alice', nickname: 'alice', emails: [{ email: 'alice@example.com', is_primary: true, is_confirmed: true }], workspaces: [{ slug: 'acme', permission: 'member' }] });
  fake.oauth.approveAs = 'alice';
  const registry = createRegistry([createBitbucketCloudModule({ endpoints: fake.endpoints(), timeoutMs: 5000 })]);
  return startBroker({ connectors: [{ type: 'bitbucket-cloud', id: 'bitbucket', name: 'Bitbucket', config: { clientID: BB_ID, clientSecret: BB_SECRET, teams: ['acme'] } }] }, { registry });
}
