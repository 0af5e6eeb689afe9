/** examples/client-app: an Express app logging in through the broker as its client. */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { createClientApp } from '../../examples/client-app.js';
import { parse } from 'yaml';
import { loadConfig } from '../../lib/config/load.js';
import { connectors } from '../../strategies/index.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { browse, type CookieJar } from '../helpers/rp.js';

let broker: TestBroker;
const server = http.createServer();
let base: string;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  broker = await startBroker({
    connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }],
    staticClients: [{ id: 'client-app', secret: 'app-secret', redirectURIs: [`${base}/callback`], postLogoutRedirectURIs: [`${base}/`], name: 'Client app' }],
  });
  server.on('request', await createClientApp({ issuer: broker.issuer, clientId: 'client-app', clientSecret: 'app-secret', baseURL: base }));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await broker.close();
});

function cookieFor(jar: CookieJar, url: string): string {
  return [...(jar.get(new URL(url).host) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
}

test('log in through the broker, see the user, log out of both', async () => {
  const jar: CookieJar = new Map();
  // The browser goes app /login → broker → app /callback → app /, where it stops (no form there).
  const home = await browse(`${base}/login`, 'http://127.0.0.1:1/never', { jar });
  expect(home.page?.url).toBe(`${base}/`);
  expect(home.page?.body).toContain('Hello Kilgore Trout');
  const me = await fetch(`${base}/me`, { headers: { cookie: cookieFor(jar, base) } });
  expect(me.status).toBe(200);
  expect(await me.json()).toMatchObject({ iss: broker.issuer, aud: 'client-app', email: 'kilgore@kilgore.trout', name: 'Kilgore Trout' });

  const out = await browse(`${base}/logout`, 'http://127.0.0.1:1/never', { jar });
  expect(out.page?.body).toContain('Log in');
  expect((await fetch(`${base}/me`, { headers: { cookie: cookieFor(jar, base) } })).status).toBe(401);
});

test('a callback without a login in progress is refused', async () => {
  const res = await fetch(`${base}/callback?code=x&state=y`);
  expect(res.status).toBe(400);
});

test('run as in its header (npm start, then npx tsx examples/client-app.ts), the dev config registers its callback and its logout return', () => {
  const source = readFileSync('examples/client-app.ts', 'utf8');
  const baseURL = /baseURL: '([^']+)'/.exec(source)![1]!;
  const clientId = /clientId: '([^']+)'/.exec(source)![1]!;
  const { settings } = loadConfig(parse(readFileSync('examples/config-dev.yaml', 'utf8')), { connectors, env: {} });
  const client = settings.clients.find((c) => c.id === clientId)!;
  expect(client.redirectURIs).toContain(`${baseURL}/callback`);
  expect(client.postLogoutRedirectURIs).toContain(`${baseURL}/`);
});
