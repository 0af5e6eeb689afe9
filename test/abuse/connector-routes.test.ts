/**
 * Connector routes (`<issuer>/auth/<id>/<route>`, e.g. SAML metadata) looked up by a name from the
 * URL: names of Object.prototype members (`constructor`, `__proto__`, `toString`...) must be
 * unknown routes (404), not functions the broker calls (a 500). A connector of the test registry
 * with one route stands in for the SAML connector, whose routes object has the same shape.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRegistry, type ConnectorModule } from '../../lib/connector.js';
import { connectorModules } from '../../strategies/index.js';
import { mockCallback, type MockCallbackConfig } from '../../strategies/mockCallback/index.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { getPage, leaksNothing } from '../helpers/http.js';

const withRoutes = {
  ...mockCallback,
  create: () => ({
    ...mockCallback.create(),
    routes: { metadata: async () => ({ status: 200, contentType: 'application/samlmetadata+xml', body: '<EntityDescriptor/>' }) },
  }),
} satisfies ConnectorModule<MockCallbackConfig>;

let b: TestBroker;

beforeAll(async () => {
  b = await startBroker(
    { connectors: [{ type: 'mockCallback', id: 'idp', name: 'IdP' }] },
    { registry: createRegistry([...connectorModules.filter((m) => m.type !== 'mockCallback'), withRoutes]) },
  );
});
afterAll(() => b.close());

describe('connector routes', () => {
  test('the declared route is served', async () => {
    const res = await getPage(`${b.issuer}/auth/idp/metadata`);
    expect(res.status).toBe(200);
    expect(res.body).toBe('<EntityDescriptor/>');
  });

  test.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'])('%s is not a route: 404, no 5xx', async (name) => {
    const res = await getPage(`${b.issuer}/auth/idp/${name}`);
    expect(res.status).toBe(404);
    expect(leaksNothing(res.body)).toBe(true);
  });
});
