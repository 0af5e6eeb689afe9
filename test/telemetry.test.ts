/** The telemetry listener of `serve`: Dex's health paths (/healthz, /healthz/live, /healthz/ready) and /metrics. */
import http from 'node:http';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { serve, type RunningServer } from '../lib/server.js';
import { openStorage, type Storage } from '../lib/storage/index.js';
import { connectors } from '../strategies/index.js';
import { freePort } from './helpers/ports.js';

let running: RunningServer;
let storage: Storage;
let telemetry: string;
let storageDown = false;

beforeAll(async () => {
  const [web, tel] = [await freePort(), await freePort()];
  telemetry = `http://127.0.0.1:${tel}`;
  storage = await openStorage({ type: 'memory' } as Parameters<typeof openStorage>[0]);
  const ping = storage.ping.bind(storage);
  storage.ping = () => (storageDown ? Promise.reject(new Error('down')) : ping());
  running = await serve(
    { issuer: `http://127.0.0.1:${web}/dex`, storage: { type: 'memory' }, web: { http: `127.0.0.1:${web}` }, telemetry: { http: `127.0.0.1:${tel}` }, connectors: [{ type: 'mockCallback', id: 'mock', name: 'Mock' }] },
    { connectors, storage, logger: pino({ level: 'silent' }) },
  );
});
afterAll(() => running.close());

test('/healthz, /healthz/ready and /healthz/live answer 200 while storage answers; HEAD too', async () => {
  for (const path of ['/healthz', '/healthz/ready', '/healthz/live']) {
    expect((await fetch(telemetry + path)).status).toBe(200);
    expect((await fetch(telemetry + path, { method: 'HEAD' })).status).toBe(200);
  }
  expect(await (await fetch(`${telemetry}/healthz`)).json()).toEqual({ storage: { message: 'ok' } });
  expect(await (await fetch(`${telemetry}/healthz/live`)).text()).toBe('ok');
  expect((await fetch(`${telemetry}/healthz`, { method: 'POST' })).status).toBe(405);
});

test('with storage down, /healthz and /healthz/ready are 503 and /healthz/live stays 200', async () => {
  storageDown = true;
  try {
    expect((await fetch(`${telemetry}/healthz`)).status).toBe(503);
    expect((await fetch(`${telemetry}/healthz`, { method: 'HEAD' })).status).toBe(503);
    expect((await fetch(`${telemetry}/healthz/ready`)).status).toBe(503);
    expect((await fetch(`${telemetry}/healthz/live`)).status).toBe(200);
  } finally {
    storageDown = false;
  }
});

test('an address in use names the config field: web.http, telemetry.http', async () => {
  const [web, tel] = [await freePort(), await freePort()];
  const taken = http.createServer();
  await new Promise<void>((r) => taken.listen(web, '127.0.0.1', r));
  const options = { connectors, logger: pino({ level: 'silent' }) };
  const config = (webPort: number, telPort: number) => ({ issuer: `http://127.0.0.1:${webPort}/dex`, storage: { type: 'memory' }, web: { http: `127.0.0.1:${webPort}` }, telemetry: { http: `127.0.0.1:${telPort}` }, connectors: [{ type: 'mockCallback', id: 'mock', name: 'Mock' }] });
  try {
    await expect(serve(config(web, tel), options)).rejects.toThrow(`web.http 127.0.0.1:${web}: address already in use`);
    await expect(serve(config(tel, web), options)).rejects.toThrow(`telemetry.http 127.0.0.1:${web}: address already in use`);
  } finally {
    taken.close();
  }
});
