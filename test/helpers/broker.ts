/**
 * Starts a broker for a test file: memory storage (unless given), a static client, 127.0.0.1 on
 * a free port, the issuer `http://127.0.0.1:<port>/dex`. Call `close()` in afterAll.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Strategy } from 'passport';
import { pino } from 'pino';
import { createBroker, type Broker } from '../../lib/broker.js';
import type { ConnectorRegistry } from '../../lib/connector.js';
import type { Clock, Storage } from '../../lib/storage/index.js';
import { connectors as defaultRegistry } from '../../strategies/index.js';

export const TEST_CLIENT = {
  id: 'example-app',
  secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0',
  redirectURI: 'http://127.0.0.1:5555/callback',
} as const;

export interface TestBroker {
  issuer: string;
  /** `http://127.0.0.1:<port>`, without the issuer path. */
  origin: string;
  broker: Broker;
  close(): Promise<void>;
}

export interface StartOptions {
  registry?: ConnectorRegistry;
  passportStrategies?: Record<string, Strategy>;
  storage?: Storage;
  now?: Clock;
  /** Set DEXPRESS_TEST_LOG=1 to see the broker's log. */
  log?: boolean;
  /**
   * What the HTTP server hands requests to: `listener` (as `dexpress serve`: POST /token
   * straight to the token endpoint, the rest to Express) or `app` (the Express app alone, as
   * when the broker is mounted in an application). Default `listener`.
   */
  via?: 'listener' | 'app';
}

/**
 * `config` is merged over a minimal Dex config (issuer, memory storage, the test client). Pass a
 * function to build it from the issuer (connector redirect URIs that name `<issuer>/callback`).
 */
export async function startBroker(
  config: Record<string, unknown> | ((issuer: string) => Record<string, unknown>) = {},
  options: StartOptions = {},
): Promise<TestBroker> {
  let app: http.RequestListener | undefined;
  const server = http.createServer((req, res) => {
    if (app) app(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const issuer = `${origin}/dex`;
  const full = {
    issuer,
    storage: { type: 'memory' },
    oauth2: { skipApprovalScreen: true },
    staticClients: [{ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], name: 'Example App' }],
    ...(typeof config === 'function' ? config(issuer) : config),
  };
  let broker: Broker;
  try {
    broker = await createBroker(full, {
      connectors: options.registry ?? defaultRegistry,
      ...(options.passportStrategies ? { passportStrategies: options.passportStrategies } : {}),
      ...(options.storage ? { storage: options.storage } : {}),
      ...(options.now ? { now: options.now } : {}),
      logger: pino({ level: options.log || process.env.DEXPRESS_TEST_LOG ? 'debug' : 'silent' }),
    });
  } catch (err) {
    server.close();
    throw err;
  }
  app = options.via === 'app' ? broker.app : broker.listener;
  return {
    issuer,
    origin,
    broker,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await broker.close();
    },
  };
}
