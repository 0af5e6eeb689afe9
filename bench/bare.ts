/**
 * The HTTP handling floor: a bare Express app whose POST /token parses the same form body and
 * answers a JSON body the size of a dexpress token response, signing nothing. Run as a child
 * process: `node --import tsx bench/bare.ts`; prints `{ "port" }` once it listens.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';

const body = {
  access_token: 'x'.repeat(700),
  token_type: 'bearer',
  expires_in: 86400,
  id_token: 'y'.repeat(760),
  refresh_token: 'z'.repeat(66),
};
const app = express();
app.disable('x-powered-by');
app.post('/token', express.urlencoded({ extended: false, limit: '64kb' }), (req, res) => {
  if (typeof (req.body as Record<string, unknown>).grant_type !== 'string') {
    res.status(400).json({ error: 'invalid_request' });
    return;
  }
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json(body);
});
const server = http.createServer(app);
server.keepAliveTimeout = 5000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
