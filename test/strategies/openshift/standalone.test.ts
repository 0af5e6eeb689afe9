/**
 * The openshift strategy used alone, as README "Using a strategy alone with Passport" shows, in
 * test/strategies/standalone-app.ts's app: a browser with a cookie jar logs in through the fake
 * cluster, over TLS with a CA made in the test (configured as `rootCA`). The checks every OAuth
 * connector passes are in standalone-oauth-checks.ts; here, what OpenShift asks for, how it
 * refuses a user in none of the required groups, and the config's CA trusted without a fetch.
 *
 * The README shows no standalone construction for openshift: the strategy needs the endpoints
 * the cluster's discovery document names. This follows what `strategies/openshift/index.ts`
 * exports and the constructor's doc says: `endpoints` from `discoverOpenShift`, `options.fetch`
 * the one discovery used (`fetchFor(config)` for the config's CA).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { configSchema, discoverOpenShift, fetchFor, OpenShiftStrategy, type OpenShiftConfig } from '../../../strategies/openshift/index.js';
import { fetchWithCA } from '../../../strategies/shared/tls.js';
import { CLIENT_ID, CLIENT_SECRET, OpenShiftFake } from '../../fakes/openshift/index.js';
import { makeTestCA, type TlsMaterial } from '../../fakes/platform.js';
import { oauthLogin, passportFailure, refusalOf, startStandaloneApp, type StandaloneApp } from '../standalone-app.js';
import { testStandaloneOAuthLogin } from '../standalone-oauth-checks.js';

let tls: TlsMaterial;
let fake: OpenShiftFake;
let app: StandaloneApp;
/** The same app around a strategy built without `options.fetch` (the last test). */
let caFromConfig: StandaloneApp;

/** The config for a strategy with this redirect URI: the cluster's CA as `rootCA`, members of `developers` only. */
function openShiftConfig(redirectURI: string): OpenShiftConfig {
  return configSchema.parse({ issuer: fake.oauth.url, clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectURI, rootCA: tls.caPath, groups: ['developers'] });
}

beforeAll(async () => {
  tls = makeTestCA();
  fake = new OpenShiftFake(tls);
  await fake.listen();
  fake.add({ name: 'alice', uid: '6d3e-alice-uid', fullName: 'Alice Example', groups: ['cluster-admins', 'developers'] });
  fake.add({ name: 'bob', uid: '6d3e-bob-uid', fullName: 'Bob', groups: ['viewers'] });
  // The browser trusts the test CA for the cluster's pages.
  const browserFetch = fetchWithCA({ ca: tls.caPem });
  app = await startStandaloneApp('openshift', async (redirectURI) => {
    const config = openShiftConfig(redirectURI);
    const clusterFetch = fetchFor(config)!;
    return new OpenShiftStrategy(config, await discoverOpenShift(config.issuer, clusterFetch), { fetch: clusterFetch });
  }, { browserFetch });
  caFromConfig = await startStandaloneApp('openshift-ca-from-config', async (redirectURI) => {
    const config = openShiftConfig(redirectURI);
    return new OpenShiftStrategy(config, await discoverOpenShift(config.issuer, fetchFor(config)!));
  }, { browserFetch });
});
afterAll(async () => {
  await app.close();
  await caFromConfig.close();
  await fake.close();
  tls.cleanup();
});
beforeEach(() => {
  fake.oauth.approveAs = 'alice';
});

describe('OpenShiftStrategy alone with Passport', () => {
  testStandaloneOAuthLogin({
    upstream: 'the cluster',
    app: () => app,
    fake: () => fake.oauth,
    user: 'alice',
    identity: { userId: '6d3e-alice-uid', username: 'alice', preferredUsername: 'alice', emailVerified: false, groups: ['cluster-admins', 'developers'] },
    identityFrom: 'uid, name, all groups, no email',
    stateMismatch: passportFailure(400, /state did not match/),
    refusedCode: passportFailure(400, /invalid_grant/),
    tokenPath: '/oauth/token',
  });

  test('a login asks the cluster for scope user:info', async () => {
    const { answer } = await oauthLogin(app);
    expect(answer.status).toBe(200);
    expect(fake.oauth.lastScope).toBe('user:info');
  });

  test('a user in none of the required groups is a 403 failure', async () => {
    fake.oauth.approveAs = 'bob';
    const { browser, answer } = await oauthLogin(app);
    expect(await refusalOf(app, browser, answer)).toEqual(passportFailure(403, /not in any of the required groups/));
  });

  // Built alone from a config naming the cluster's CA, without `options.fetch`: the strategy's own
  // calls (token, user) trust that CA too, not only the discovery it was handed a fetch for.
  test('a strategy built from a config with rootCA trusts that CA without being handed a fetch', async () => {
    const { answer } = await oauthLogin(caFromConfig);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ userId: '6d3e-alice-uid' });
  });
});
