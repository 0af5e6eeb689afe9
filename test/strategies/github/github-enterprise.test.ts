/**
 * GitHub Enterprise: `hostName` + `rootCA` against a fake served over TLS with a CA made in
 * the test. Emails must be verified here too (Dex trusts every Enterprise address).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { UpstreamError } from '../../../lib/errors.js';
import { configSchema, endpointsFor, GitHubStrategy, type GitHubConfig } from '../../../strategies/github/index.js';
import { fetchWithCA } from '../../../strategies/shared/tls.js';
import { CLIENT_ID, CLIENT_SECRET, GitHubFake } from '../../fakes/github/index.js';
import { driveLogin, makeTestCA, type TlsMaterial } from '../../fakes/platform.js';

let tls: TlsMaterial;
let fake: GitHubFake;
let trustingFetch: typeof fetch;
const scopes = { offlineAccess: false, groups: true };

beforeAll(async () => {
  tls = makeTestCA();
  fake = new GitHubFake({ enterprise: tls });
  await fake.listen();
  trustingFetch = fetchWithCA({ ca: tls.caPem });
  const base = { name: null, email: null, orgs: ['acme'], teams: [{ org: 'acme', name: 'Core', slug: 'core' }] };
  fake.add({ ...base, id: 1, login: 'alice', emails: [{ email: 'alice@corp.example', verified: true, primary: true, visibility: null }] });
  fake.add({ ...base, id: 2, login: 'bob', emails: [{ email: 'bob@corp.example', verified: false, primary: true, visibility: null }] });
});

afterAll(async () => {
  await fake.close();
  tls.cleanup();
});

function enterpriseConfig(over: Partial<GitHubConfig> = {}): GitHubConfig {
  return configSchema.parse({ clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, hostName: fake.hostName(), rootCA: tls.caPath, ...over });
}

test('derives the Enterprise endpoints from hostName, with the API under /api/v3', () => {
  expect(endpointsFor(enterpriseConfig())).toEqual({
    authorizationURL: `https://${fake.hostName()}/login/oauth/authorize`,
    tokenURL: `https://${fake.hostName()}/login/oauth/access_token`,
    apiURL: `https://${fake.hostName()}/api/v3`,
  });
});

test('logs in over TLS trusting the configured root CA', async () => {
  fake.oauth.approveAs = 'alice';
  const outcome = await driveLogin(new GitHubStrategy(enterpriseConfig({ orgs: [{ name: 'acme' }] })), scopes, { fetch: trustingFetch });
  expect(outcome).toMatchObject({ type: 'success', user: { userId: '1', email: 'alice@corp.example', groups: ['acme:Core'] } });
});

test('accepts the root CA as PEM text too', async () => {
  fake.oauth.approveAs = 'alice';
  const outcome = await driveLogin(new GitHubStrategy(enterpriseConfig({ rootCA: tls.caPem })), scopes, { fetch: trustingFetch });
  expect(outcome.type).toBe('success');
});

test('refuses an unverified Enterprise email, unlike Dex', async () => {
  fake.oauth.approveAs = 'bob';
  const outcome = await driveLogin(new GitHubStrategy(enterpriseConfig()), scopes, { fetch: trustingFetch });
  expect(outcome).toMatchObject({ type: 'fail', status: 403 });
});

test('without the root CA the certificate is not trusted: an upstream error, not a hang', async () => {
  fake.oauth.approveAs = 'alice';
  const { rootCA: _dropped, ...untrusting } = enterpriseConfig();
  const outcome = await driveLogin(new GitHubStrategy(untrusting), scopes, { fetch: trustingFetch });
  expect(outcome.type).toBe('error');
  expect((outcome as { error: unknown }).error).toBeInstanceOf(UpstreamError);
});
