/** Every example runs in a test. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { createApp as mountedApp } from '../../examples/mount-in-express.js';
import { createApp as standaloneApp } from '../../examples/passport-standalone.js';
import { login } from '../helpers/rp.js';

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

describe('examples/mount-in-express', () => {
  test('the app keeps its routes and the broker logs users in under /dex', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const issuer = `http://127.0.0.1:${port}/dex`;
    const { app, broker } = await mountedApp(issuer);
    server.on('request', app);
    closers.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await broker.close();
    });
    expect((await fetch(`http://127.0.0.1:${port}/api/status`)).status).toBe(200);
    const { claims } = await login(issuer, { connectorId: 'mock', scope: 'openid email' });
    expect(claims.email).toBe('kilgore@kilgore.trout');
  });
});

describe('examples/passport-standalone', () => {
  test('a right password logs in and the session carries the Identity', async () => {
    const agent = request.agent(standaloneApp());
    const res = await agent.post('/login').type('form').send({ username: 'kilgore', password: 'trout' });
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ userId: '0-385-28089-0', email: 'kilgore@kilgore.trout', emailVerified: true });
    expect((await agent.get('/me')).body.username).toBe('Kilgore Trout');
  });

  test('a wrong password is a 401', async () => {
    const res = await request(standaloneApp()).post('/login').type('form').send({ username: 'kilgore', password: 'nope' });
    expect(res.status).toBe(401);
  });
});
