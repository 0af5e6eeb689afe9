/** A self-hosted GitLab over TLS signed by a CA made in the test: `rootCAData` (base64 of PEM) makes it trusted. */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { UpstreamError } from '../../../lib/errors.js';
import { configSchema, GitLabStrategy } from '../../../strategies/gitlab/index.js';
import { fetchWithCA } from '../../../strategies/shared/tls.js';
import { CLIENT_ID, CLIENT_SECRET, GitLabFake } from '../../fakes/gitlab/index.js';
import { driveLogin, makeTestCA, type TlsMaterial } from '../../fakes/platform.js';

let tls: TlsMaterial;
let fake: GitLabFake;
const scopes = { offlineAccess: false, groups: true };

beforeAll(async () => {
  tls = makeTestCA();
  fake = new GitLabFake(tls);
  await fake.listen();
  fake.add({ id: 5, username: 'alice', name: 'Alice', email: 'alice@example.com', confirmedAt: '2024-01-01T00:00:00Z', groups: [{ id: 1, fullPath: 'ops', level: 30, direct: true }] });
  fake.oauth.approveAs = 'alice';
});

afterAll(async () => {
  await fake.close();
  tls.cleanup();
});

const base = () => ({ baseURL: fake.oauth.url, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET });

test('logs in when rootCAData holds the CA', async () => {
  const config = configSchema.parse({ ...base(), rootCAData: Buffer.from(tls.caPem).toString('base64') });
  const outcome = await driveLogin(new GitLabStrategy(config), scopes, { fetch: fetchWithCA({ ca: tls.caPem }) });
  expect(outcome).toMatchObject({ type: 'success', user: { userId: '5', groups: ['ops'] } });
});

test('without rootCAData the certificate is not trusted: an upstream error', async () => {
  const outcome = await driveLogin(new GitLabStrategy(configSchema.parse(base())), scopes, { fetch: fetchWithCA({ ca: tls.caPem }) });
  expect(outcome.type).toBe('error');
  expect((outcome as { error: unknown }).error).toBeInstanceOf(UpstreamError);
});
