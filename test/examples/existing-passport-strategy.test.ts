/** examples/existing-passport-strategy: a passport-openidconnect setup handed to the broker, against a real OpenID provider. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { Broker } from '../../lib/index.js';
import { createBrokerWithExistingStrategy } from '../../examples/existing-passport-strategy.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { login } from '../helpers/rp.js';
import { encodeSubject } from '../../lib/tokens/subject.js';
import { answerInteractions, startOidcProvider, type RunningOidcProvider } from '../servers/oidc-provider.js';

let op: RunningOidcProvider;
let broker: Broker;
const server = http.createServer();
let issuer: string;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dex`;
  op = await startOidcProvider({
    users: { alice: { name: 'Alice Liddell', email: 'alice@example.org', email_verified: true } },
    redirectURIs: ['http://127.0.0.1/unused'],
    extraClients: [
      {
        client_id: 'my-passport-app',
        client_secret: 'its-secret',
        redirect_uris: [`${issuer}/callback/corp`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
  });
  broker = await createBrokerWithExistingStrategy(issuer, { issuer: op.issuer, clientID: 'my-passport-app', clientSecret: 'its-secret' }, [
    { id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI] },
  ]);
  server.on('request', broker.app);
}, 30_000);

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await broker?.close();
  await op?.close();
});

test('the existing strategy logs users in and the broker issues its tokens, with Dex sub for connector corp', async () => {
  const { claims } = await login(issuer, { connectorId: 'corp', scope: 'openid email profile', onPage: answerInteractions(op.issuer, 'alice') });
  expect(claims).toMatchObject({ iss: issuer, sub: encodeSubject('alice', 'corp'), email: 'alice@example.org', email_verified: true, name: 'Alice Liddell' });
});
