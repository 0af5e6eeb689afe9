/**
 * `createBroker`: assembles the OpenID Connect provider from a Dex config and a connector
 * registry. The result is an Express app serving every endpoint under the issuer's path, to be
 * mounted in an existing app (`app.use(broker.app)`) or served alone (`serve`).
 */
import { capabilityLookup } from './capabilities.js';
import { existsSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Strategy } from 'passport';
import type { Logger } from 'pino';
import { clientAddressReader } from './client-address.js';
import { ClientRegistry } from './clients.js';
import { loadConfig } from './config/load.js';
import type { Settings } from './config/settings.js';
import type { ConnectorRegistry } from './connector.js';
import type { BrokerContext } from './context.js';
import { BrokerMountError } from './errors.js';
import { createLogger } from './logger.js';
import { LoginThrottle } from './throttle.js';
import { ConnectorDataSealer } from './sealing.js';
import { BrokerMetrics } from './metrics.js';
import { openStorage, type Clock, type Storage } from './storage/index.js';
import { KeyManager } from './tokens/keys.js';
import { TokenMinter } from './tokens/mint.js';
import { RefreshTokens } from './tokens/refresh.js';
import { answerError, answerNotFound, buildRouter } from './router.js';
import { loadConnectors } from './load-connectors.js';
import { tokenEndpoint } from './endpoints/token.js';
import { RequestGate } from './request-gate.js';
import { StorageHealth } from './storage-health.js';

/** How long `close()` lets the requests in flight finish before it closes storage under them. */
const CLOSE_GRACE_MS = 10_000;

export interface BrokerOptions {
  /** The connector registry (`connectors` from `dexpress/strategies`). */
  connectors: ConnectorRegistry;
  /**
   * Existing Passport strategies standing in for connectors, by connector id. The connector's
   * entry in the config gives the type, whose `fromPassportUser` mapping and capability row they get.
   * Their callback URL must be `<issuer>/callback/<connector id>`.
   */
  passportStrategies?: Record<string, Strategy>;
  logger?: Logger;
  /** Storage to use instead of opening `storage` from the config (tests). */
  storage?: Storage;
  /** The clock, in milliseconds (tests freeze it). */
  now?: Clock;
  /** Metrics registry to count into (`dexpress serve` exposes it on `telemetry.http`). */
  metrics?: BrokerMetrics;
}

export interface Broker {
  /** Serves every endpoint under the issuer's path; mount with `app.use(broker.app)`. */
  app: express.Express;
  /** The same endpoints relative to the issuer path, for mounting elsewhere. */
  router: Router;
  /**
   * `app` with a shortcut, as a `node:http` request listener: `POST <issuer path>/token` goes
   * straight to the token endpoint (the same answers, without Express), everything else to
   * `app`. `serve` listens with this.
   */
  listener: RequestListener;
  settings: Settings;
  storage: Storage;
  logger: Logger;
  metrics: BrokerMetrics;
  /**
   * Whether storage takes writes: a short-lived record written and deleted, as Dex's health check
   * does (each check reads; the write is asked again once 5 s old or failed). `/healthz` and the
   * telemetry listener's probes answer with it.
   */
  healthy(): Promise<boolean>;
  /**
   * Answers new requests 503 `temporarily_unavailable`, lets those in flight finish (10 s at
   * most), then stops timers and closes connectors and storage.
   */
  close(): Promise<void>;
}

export async function createBroker(config: unknown, options: BrokerOptions): Promise<Broker> {
  const { settings, warnings } = loadConfig(config, { connectors: options.connectors });
  const logger = options.logger ?? createLogger(settings.logger);
  for (const w of warnings) logger.warn(w);
  const now = options.now ?? Date.now;
  const storage = options.storage ?? (await openStorage(settings.storage, now));
  // A start-up that fails from here on closes the storage it opened (a PostgreSQL pool would keep
  // its connections, and the process, alive).
  const closeOpened = async (err: unknown): Promise<never> => {
    if (!options.storage) await storage.close().catch(() => {});
    throw err;
  };
  const keys = new KeyManager(storage, { algorithm: settings.signer.algorithm, rotationMs: settings.signer.rotationMs, idTokensMs: settings.expiry.idTokensMs }, now);
  await keys.signingKey().catch(closeOpened);

  const connectors = await loadConnectors(settings, options, logger).catch(closeOpened);
  const capabilities = capabilityLookup(options.connectors);
  const ctx: BrokerContext = {
    settings,
    storage,
    keys,
    minter: new TokenMinter(settings.issuer, keys, settings.expiry.idTokensMs, capabilities, now),
    refreshTokens: new RefreshTokens(storage, settings.expiry.refreshTokens, now),
    clients: new ClientRegistry(settings.clients),
    throttle: new LoginThrottle(storage, now),
    sealer: new ConnectorDataSealer(settings.connectorDataKey),
    metrics: options.metrics ?? new BrokerMetrics(),
    connectors,
    capabilities,
    logger,
    now,
    page: pageOptions(settings),
    url: (path) => `${settings.issuerBase}${path}`,
    clientAddress: clientAddressReader(settings.web.clientRemoteIP, (peer, header) =>
      logger.warn(
        { ip: peer, header },
        `a request from ${peer} carried ${header}, which web.clientRemoteIP does not trust from it: if ${peer} is a proxy, every client behind it counts as ${peer} for the per-address login limits (so a hundred wrong passwords from anyone lock password logins for all); list it in web.clientRemoteIP.trustedProxies`,
      ),
    ),
    requests: new RequestGate(),
    health: new StorageHealth(storage, now),
  };

  // The token endpoint is the hot path: the router mounts it, and `listener` calls it directly.
  const token = tokenEndpoint(ctx);
  const router = await buildRouter(ctx, token).catch(closeOpened);
  const app = express();
  app.disable('x-powered-by');
  // No `trust proxy` of its own: mounted, `app` inherits the host's (Express does that unless
  // the sub-app sets it), and the host's logger (morgan's :remote-addr), which reads `req.ip`
  // after the broker answered, sees the client's address, not the proxy's. The broker reads no
  // `req.ip`: the client address for throttles and logs is `web.clientRemoteIP`'s, as in Dex.
  app.set('json escape', true);
  app.use(settings.issuerPath || '/', router);
  // Served alone (`serve`, `listener`), `app` answers every path; mounted, a path outside the
  // broker's goes on to the host's routes (the router passes them on only for an issuer at the root).
  let mounted = false;
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (mounted) next();
    else answerNotFound(ctx, req, res);
  });
  // An error passed on after the router's own handler already answered (express-session failing
  // to save once the response is out) would reach Express's final handler, which destroys the
  // socket under a keep-alive client's next request; it ends here instead.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => answerError(ctx, err, req, res));
  // `app` already serves under the issuer's path: mounted under a prefix it would answer at
  // <prefix><issuer path>, where no client looks. Refused when the host app is set up.
  app.on('mount', () => {
    if (app.mountpath !== '/') throw new BrokerMountError(app.mountpath, settings.issuerPath || '/');
    mounted = true;
  });

  const gcTimer = setInterval(() => {
    storage.gc().catch((err: unknown) => logger.warn({ err }, 'storage garbage collection failed'));
  }, 5 * 60_000);
  gcTimer.unref();

  const tokenPath = `${settings.issuerPath}/token`;
  const listener: RequestListener = (req, res) => {
    if (req.method === 'POST' && req.url === tokenPath) token(req, res);
    else app(req, res);
  };

  return {
    app,
    listener,
    router,
    settings,
    storage,
    logger,
    metrics: ctx.metrics,
    healthy: () => ctx.health.check(),
    async close() {
      const cut = await ctx.requests.close(CLOSE_GRACE_MS);
      if (cut > 0) logger.warn({ requests: cut }, 'closing the broker under requests still in flight');
      clearInterval(gcTimer);
      await Promise.allSettled([...connectors.values()].map((c) => c.connector.close?.()));
      if (!options.storage) await storage.close();
    },
  };
}

/** What every page shows: `frontend.issuer`, the logo, the theme, and a stylesheet from `frontend.dir`. */
function pageOptions(settings: Settings): BrokerContext['page'] {
  const { frontend } = settings;
  const themeDir = frontend.dir ? path.join(frontend.dir, 'themes', frontend.theme) : undefined;
  const logoURL = frontend.logoURL ?? (themeDir && existsSync(path.join(themeDir, 'logo.png')) ? `${settings.issuerBase}/theme/logo.png` : undefined);
  return {
    title: frontend.issuer,
    theme: frontend.theme,
    ...(logoURL ? { logoURL } : {}),
    ...(themeDir && existsSync(path.join(themeDir, 'styles.css')) ? { stylesheetURL: `${settings.issuerBase}/theme/styles.css` } : {}),
  };
}
