/**
 * `rootCAs` and `insecureSkipVerify` against a real provider over HTTPS with a certificate from a
 * CA made for the test: every call (discovery, token, JWKS, userinfo) must trust that CA.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ConfigError, UpstreamError } from '../../../lib/errors.js';
import { oidc, type OidcConfig } from '../../../strategies/oidc/index.js';
import { upstreamFetch } from '../../../strategies/oidc/fetch.js';
import { OidcStrategy } from '../../../strategies/oidc/strategy.js';
import { makeTestCA, type TlsMaterial } from '../../fakes/platform.js';
import { CookieJar, signIn, startOidcProvider, type RunningOidcProvider } from '../../servers/oidc-provider.js';
import { brokerOptions, drive, expectOutcome, queryOf } from './drive.js';
import { upstreamUsers } from './users.js';

const CALLBACK = 'http://127.0.0.1:9/dex/callback';
const context = { id: 'tls', name: 'TLS', issuer: 'http://127.0.0.1:9/dex', callbackURL: CALLBACK, logger: console };
let ca: TlsMaterial;
let op: RunningOidcProvider;
let base: OidcConfig;

beforeAll(async () => {
  ca = makeTestCA();
  op = await startOidcProvider({ users: upstreamUsers, redirectURIs: [CALLBACK], tls: { key: ca.key, cert: ca.cert } });
  base = { issuer: op.issuer, clientID: op.clientID, clientSecret: op.clientSecret, getUserInfo: true };
});
afterAll(async () => {
  await op.close();
  ca.cleanup();
});

describe('TLS to the provider', () => {
  test('a provider whose CA is not trusted fails at start-up with an UpstreamError', async () => {
    await expect(oidc.create(base, context)).rejects.toBeInstanceOf(UpstreamError);
  });

  test('rootCAs as a file path: a whole login (discovery, token, keys, userinfo) over TLS', async () => {
    const strategy = new OidcStrategy({ ...base, rootCAs: [ca.caPath] }, 'tls');
    const options = brokerOptions(CALLBACK);
    const url = expectOutcome(await drive(strategy, { query: {} }, options), 'redirect').url;
    const callback = await signIn(url, 'alice', CALLBACK, new CookieJar(upstreamFetch([ca.caPem])));
    const outcome = expectOutcome(await drive(strategy, { query: queryOf(callback) }, options), 'success');
    expect(outcome.identity).toMatchObject({ userId: 'alice', email: 'alice@example.org', emailVerified: true });
  });

  test('rootCAs as PEM text and as base64 of the PEM', async () => {
    await expect(oidc.create({ ...base, rootCAs: [ca.caPem] }, context)).resolves.toHaveProperty('strategy');
    await expect(oidc.create({ ...base, rootCAs: [Buffer.from(ca.caPem).toString('base64')] }, context)).resolves.toHaveProperty('strategy');
  });

  test('insecureSkipVerify accepts any certificate', async () => {
    await expect(oidc.create({ ...base, insecureSkipVerify: true }, context)).resolves.toHaveProperty('strategy');
  });

  test('a rootCAs entry that is no certificate is a config error naming it', async () => {
    await expect(oidc.create({ ...base, rootCAs: [ca.caPem, 'not a certificate'] }, context)).rejects.toThrow(/rootCAs\[1\]/);
    await expect(oidc.create({ ...base, rootCAs: ['not a certificate'] }, context)).rejects.toBeInstanceOf(ConfigError);
  });
});
