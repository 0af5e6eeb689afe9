/**
 * The openshift connector against a fake cluster over TLS (CA made in the test): discovery,
 * the user and groups, the groups filter, CA handling, no refresh, failures.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Connector } from '../../../lib/connector.js';
import { UpstreamError } from '../../../lib/errors.js';
import type { Identity } from '../../../lib/identity.js';
import { configSchema, createOpenShiftModule, openshift, type OpenShiftConfig } from '../../../strategies/openshift/index.js';
import { fetchWithCA } from '../../../strategies/shared/tls.js';
import { CLIENT_ID, CLIENT_SECRET, OpenShiftFake } from '../../fakes/openshift/index.js';
import { driveLogin, makeTestCA, type LoginOutcome, type TlsMaterial } from '../../fakes/platform.js';

let tls: TlsMaterial;
let fake: OpenShiftFake;
let trusting: typeof fetch;
const both = { offlineAccess: true, groups: true };
const context = {
  id: 'openshift',
  name: 'OpenShift',
  issuer: 'http://127.0.0.1:5556/dex',
  callbackURL: 'http://127.0.0.1:5556/dex/callback',
  logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
};

beforeAll(async () => {
  tls = makeTestCA();
  fake = new OpenShiftFake(tls);
  await fake.listen();
  trusting = fetchWithCA({ ca: tls.caPem });
  fake.add({ name: 'alice', uid: '6d3e-alice-uid', fullName: 'Alice Example', groups: ['cluster-admins', 'developers'] });
  fake.add({ name: 'bob', uid: '6d3e-bob-uid', fullName: 'Bob', groups: ['viewers'] });
});

afterAll(async () => {
  await fake.close();
  tls.cleanup();
});

function config(over: Partial<OpenShiftConfig> = {}): OpenShiftConfig {
  return configSchema.parse({ issuer: fake.oauth.url, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, rootCA: tls.caPath, ...over });
}

async function login(as: string, over: Partial<OpenShiftConfig> = {}, timeoutMs = 5000): Promise<LoginOutcome> {
  const connector = await createOpenShiftModule({ timeoutMs }).create(config(over), context);
  fake.oauth.approveAs = as;
  return driveLogin(connector.strategy, both, { fetch: trusting });
}

describe('login', () => {
  test('discovers the OAuth server and maps the user as Dex does, without an email', async () => {
    const outcome = await login('alice');
    expect(outcome.authorizeURL?.toString()).toContain(`${fake.oauth.url}/oauth/authorize?`);
    expect(fake.oauth.lastScope).toBe('user:info');
    expect(outcome).toMatchObject({ type: 'success' });
    expect((outcome as { user: Identity }).user).toEqual({
      userId: '6d3e-alice-uid',
      username: 'alice',
      preferredUsername: 'alice',
      emailVerified: false,
      groups: ['cluster-admins', 'developers'],
    });
  });

  test('the groups filter admits members (keeping all their groups) and refuses others with a 403', async () => {
    const ok = await login('alice', { groups: ['developers'] });
    expect((ok as { user: Identity }).user.groups).toEqual(['cluster-admins', 'developers']);
    expect(await login('bob', { groups: ['developers'] })).toMatchObject({ type: 'fail', status: 403 });
  });

  test('the rootCA may be given as PEM text or base64 of PEM', async () => {
    expect((await login('alice', { rootCA: tls.caPem })).type).toBe('success');
    expect((await login('alice', { rootCA: Buffer.from(tls.caPem).toString('base64') })).type).toBe('success');
  });

  test('insecureCA skips verification', async () => {
    const { rootCA: _dropped, ...rest } = config();
    expect((await login('alice', { ...rest, insecureCA: true })).type).toBe('success');
  });

  test('a cluster whose certificate is not trusted stops the start-up with an upstream error', async () => {
    const { rootCA: _dropped, ...untrusting } = config();
    await expect(openshift.create(untrusting, context)).rejects.toBeInstanceOf(UpstreamError);
  });

  test('a cluster that never answers is an upstream error within the timeout', async () => {
    fake.oauth.fail('/apis/user.openshift.io/v1/users/~', 'hang');
    try {
      const outcome = await login('alice', {}, 300);
      expect(outcome.type).toBe('error');
      expect((outcome as { error: Error }).error.message).toMatch(/timed out/);
    } finally {
      fake.oauth.clearFaults();
    }
  });

  test('a discovery document without endpoints is refused at start-up, naming the field', async () => {
    fake.oauth.fail('/.well-known/oauth-authorization-server', { status: 200, body: { issuer: fake.oauth.url } });
    try {
      await expect(openshift.create(config(), context)).rejects.toThrow(/authorization_endpoint/);
    } finally {
      fake.oauth.clearFaults();
    }
  });
});

test('offers no refresh (capability row: no refresh tokens)', async () => {
  const connector: Connector = await openshift.create(config(), context);
  expect(connector.refresh).toBeUndefined();
});
