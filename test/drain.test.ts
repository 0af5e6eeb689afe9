/** Draining a server: idle keep-alive sockets do not hold it open; requests past the deadline are cut and counted. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from '@jest/globals';
import { drainable } from '../lib/drain.js';

async function listening(handler: http.RequestListener) {
  const server = http.createServer(handler);
  const drain = drainable(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, drain, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

test('an idle keep-alive connection does not delay the close', async () => {
  const { server, drain, url } = await listening((_req, res) => res.end('ok'));
  server.keepAliveTimeout = 60_000;
  const agent = new http.Agent({ keepAlive: true });
  await new Promise<void>((r) => http.get(url, { agent }, (res) => res.resume().on('end', r)));
  const started = Date.now();
  expect(await drain.drain(5000)).toBe(0);
  expect(Date.now() - started).toBeLessThan(1000);
  agent.destroy();
});

test('a request still running at the deadline is cut and counted', async () => {
  const { drain, url } = await listening(() => {
    /* never answers */
  });
  const failed = new Promise<string>((resolve) => http.get(url).on('error', (err) => resolve(err.message)));
  await new Promise((r) => setTimeout(r, 100));
  expect(await drain.drain(200)).toBe(1);
  expect(await failed).toMatch(/socket hang up|ECONNRESET/);
});
