/** Mounting the broker in a host app: a prefix in front of broker.app is refused; a host session in front of the broker's is reported. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { expect, test } from '@jest/globals';
import express from 'express';
import session from 'express-session';
import { pino } from 'pino';
import { createBroker } from '../lib/broker.js';
import { connectors } from '../strategies/index.js';
import { TEST_CLIENT } from './helpers/broker.js';

const config = (issuer: string) => ({
  issuer,
  storage: { type: 'memory' },
  staticClients: [{ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI] }],
  connectors: [{ type: 'mockCallback', id: 'mock', name: 'Mock' }],
});

test('broker.app mounted under a prefix throws at app.use, naming broker.router; at / it mounts', async () => {
  const broker = await createBroker(config('http://127.0.0.1:1/sso/dex'), { connectors, logger: pino({ level: 'silent' }) });
  try {
    expect(() => express().use('/sso', broker.app)).toThrow(/broker\.app is mounted at "\/sso".*app\.use\('\/sso\/dex', broker\.router\)/);
    expect(() => express().use(broker.app)).not.toThrow();
  } finally {
    await broker.close();
  }
});

test("a host session middleware in front of the broker is reported once, at the first request that meets it", async () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dex`;
  const broker = await createBroker(config(issuer), { connectors, logger: pino({ level: 'info' }, sink) });
  const app = express();
  app.use(session({ secret: 'host', resave: false, saveUninitialized: true, name: 'host_sid' }));
  app.use(broker.app);
  server.on('request', app);
  try {
    const authorize = `${issuer}/auth?client_id=${TEST_CLIENT.id}&redirect_uri=${encodeURIComponent(TEST_CLIENT.redirectURI)}&response_type=code&scope=openid&state=xyzstate`;
    await fetch(authorize, { redirect: 'manual' });
    await fetch(authorize, { redirect: 'manual' });
    const warns = lines.map((l) => JSON.parse(l) as { level: number; msg: string; path?: string }).filter((l) => l.msg.includes("session middleware of the host app ran before the broker's"));
    expect(warns).toEqual([expect.objectContaining({ level: 40, path: '/dex/auth' })]);
  } finally {
    server.close();
    await broker.close();
  }
});
