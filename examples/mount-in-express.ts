/**
 * Mounting the broker inside an existing Express app, next to the app's own routes. The broker
 * serves everything under its issuer's path (`/dex` here); the app keeps the rest.
 *
 *   npx tsx examples/mount-in-express.ts      # then open http://127.0.0.1:5556/
 */
import express from 'express';
import { pathToFileURL } from 'node:url';
import { createBroker, type Broker } from '../lib/index.js';
import { connectors } from '../strategies/index.js';

export const exampleConfig = (issuer: string) => ({
  issuer,
  storage: { type: 'memory' },
  staticClients: [{ id: 'example-app', secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0', redirectURIs: ['http://127.0.0.1:5555/callback'], name: 'Example App' }],
  connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }],
  oauth2: { skipApprovalScreen: true },
});

export async function createApp(issuer = 'http://127.0.0.1:5556/dex'): Promise<{ app: express.Express; broker: Broker }> {
  const app = express();
  app.get('/', (_req, res) => {
    res.type('html').send(`<h1>My app</h1><p>The identity broker lives at <a href="${issuer}/.well-known/openid-configuration">${issuer}</a>.</p>`);
  });
  app.get('/api/status', (_req, res) => {
    res.json({ ok: true });
  });
  const broker = await createBroker(exampleConfig(issuer), { connectors });
  app.use(broker.app);
  return { app, broker };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { app } = await createApp();
  app.listen(5556, '127.0.0.1', () => console.log('http://127.0.0.1:5556/ (broker at /dex)'));
}
