/**
 * `createBroker`: assembles the OpenID Connect provider from a Dex config and a connector
 * registry. The result is an Express app serving every endpoint under the issuer's path, to be
 * mounted in an existing app (`app.use(broker.app)`) or served alone (`serve`).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import session from 'express-session';
import type { Strategy } from 'passport';
import type { Logger } from 'pino';
import { ClientRegistry } from './clients.js';
import { loadConfig } from './config/load.js';
import type { Settings } from './config/settings.js';
import type { ConnectorRegistry } from './connector.js';
import type { BrokerContext, LoadedConnector } from './context.js';
import { approvalDecision, approvalForm } from './endpoints/approval.js';
import { authorize, authorizeWithConnector } from './endpoints/authorize.js';
import { callback, connectorCallback } from './endpoints/callback.js';
import { deviceAuthorization, deviceCallback, deviceCodeEntry, deviceLoginWithConnector, verifyUserCode } from './endpoints/device.js';
import { discoveryDocument } from './endpoints/discovery.js';
import { logout } from './endpoints/logout.js';
import { passwordForm, passwordLogin } from './endpoints/password.js';
import { token } from './endpoints/token.js';
import { userinfo } from './endpoints/userinfo.js';
import { ConfigError, OAuthError, StorageUnavailableError } from './errors.js';
import { showError } from './flow.js';
import { createLogger } from './logger.js';
import { createPasswordDB } from './password-db.js';
import { StorageSessionStore } from './session-store.js';
import { LoginThrottle } from './throttle.js';
import { ConnectorDataSealer } from './sealing.js';
import { BrokerMetrics } from './metrics.js';
import { openStorage, type Clock, type Storage } from './storage/index.js';
import { KeyManager } from './tokens/keys.js';
import { TokenMinter } from './tokens/mint.js';
import { RefreshTokens } from './tokens/refresh.js';

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
  settings: Settings;
  storage: Storage;
  logger: Logger;
  metrics: BrokerMetrics;
  /** Stops timers, closes connectors and storage. */
  close(): Promise<void>;
}

type Handler = (ctx: BrokerContext, req: Request, res: Response) => Promise<void>;

/** Body size limits: forms are small; SAML responses posted to /callback can be larger. */
const FORM_LIMIT = '64kb';
const CALLBACK_LIMIT = '512kb';

export async function createBroker(config: unknown, options: BrokerOptions): Promise<Broker> {
  const { settings, warnings } = loadConfig(config, { connectors: options.connectors });
  const logger = options.logger ?? createLogger(settings.logger);
  for (const w of warnings) logger.warn(w);
  const now = options.now ?? Date.now;
  const storage = options.storage ?? (await openStorage(settings.storage, now));
  const keys = new KeyManager(storage, { algorithm: settings.signer.algorithm, rotationMs: settings.signer.rotationMs, idTokensMs: settings.expiry.idTokensMs }, now);
  await keys.signingKey();

  const connectors = await loadConnectors(settings, options, logger);
  const ctx: BrokerContext = {
    settings,
    storage,
    keys,
    minter: new TokenMinter(settings.issuer, keys, settings.expiry.idTokensMs, now),
    refreshTokens: new RefreshTokens(storage, settings.expiry.refreshTokens, now),
    clients: new ClientRegistry(settings.clients),
    throttle: new LoginThrottle(storage, now),
    sealer: new ConnectorDataSealer(settings.connectorDataKey),
    metrics: options.metrics ?? new BrokerMetrics(),
    connectors,
    logger,
    now,
    page: pageOptions(settings),
    url: (path) => `${settings.issuer}${path}`,
  };

  const router = await buildRouter(ctx);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(settings.issuerPath || '/', router);
  // An error passed on after the router's own handler already answered (express-session failing
  // to save once the response is out) would reach Express's final handler, which destroys the
  // socket under a keep-alive client's next request; it ends here instead.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => answerError(ctx, err, req, res));

  const gcTimer = setInterval(() => {
    storage.gc().catch((err: unknown) => logger.warn({ err }, 'storage garbage collection failed'));
  }, 5 * 60_000);
  gcTimer.unref();

  return {
    app,
    router,
    settings,
    storage,
    logger,
    metrics: ctx.metrics,
    async close() {
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
  const logoURL = frontend.logoURL ?? (themeDir && existsSync(path.join(themeDir, 'logo.png')) ? `${settings.issuer}/theme/logo.png` : undefined);
  return {
    title: frontend.issuer,
    theme: frontend.theme,
    ...(logoURL ? { logoURL } : {}),
    ...(themeDir && existsSync(path.join(themeDir, 'styles.css')) ? { stylesheetURL: `${settings.issuer}/theme/styles.css` } : {}),
  };
}

async function loadConnectors(settings: Settings, options: BrokerOptions, logger: Logger): Promise<Map<string, LoadedConnector>> {
  const out = new Map<string, LoadedConnector>();
  const foreignIds = Object.keys(options.passportStrategies ?? {});
  for (const id of foreignIds) {
    if (!settings.connectors.some((c) => c.id === id)) {
      throw new ConfigError([{ path: `passportStrategies.${id}`, message: `no connector with id "${id}" in the config` }]);
    }
  }
  for (const entry of settings.connectors) {
    const module = options.connectors.get(entry.type)!;
    const context = {
      id: entry.id,
      name: entry.name,
      issuer: settings.issuer,
      callbackURL: `${settings.issuer}/callback`,
      logger: logger.child({ connector: entry.id, type: entry.type }),
    };
    const connector = await module.create(entry.config as never, context);
    const foreignStrategy = options.passportStrategies?.[entry.id];
    let foreign: LoadedConnector['foreign'];
    if (foreignStrategy) {
      if (!module.fromPassportUser) {
        throw new ConfigError([{ path: `passportStrategies.${entry.id}`, message: `connector type "${entry.type}" cannot map a third-party Passport strategy` }]);
      }
      const map = module.fromPassportUser.bind(module);
      foreign = { strategy: foreignStrategy, toIdentity: (user) => map(user, entry.config as never) };
    }
    out.set(entry.id, {
      id: entry.id,
      type: entry.type,
      name: entry.name,
      connector,
      ...(foreign ? { foreign } : {}),
      ...(entry.grantTypes ? { grantTypes: entry.grantTypes } : {}),
    });
  }
  if (settings.passwordDB.enabled) {
    out.set('local', { id: 'local', type: 'local', name: 'Email', connector: createPasswordDB(settings.passwordDB.users) });
  }
  return out;
}

async function sessionSecret(storage: Storage): Promise<string> {
  const found = await storage.find<string>('keys', 'session-secret');
  if (found) return found.value;
  const secret = randomBytes(32).toString('base64url');
  if (await storage.create('keys', 'session-secret', secret)) return secret;
  return (await storage.find<string>('keys', 'session-secret'))!.value;
}

async function buildRouter(ctx: BrokerContext): Promise<Router> {
  const { settings } = ctx;
  const router = express.Router();
  const wrap = (handler: Handler) => (req: Request, res: Response) => handler(ctx, req, res);
  const form = express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 100 });
  const callbackForm = express.urlencoded({ extended: false, limit: CALLBACK_LIMIT, parameterLimit: 20 });
  const authproxyPaths = new Set([...ctx.connectors.values()].filter((c) => c.type === 'authproxy').map((c) => `/callback/${c.id}`));

  // Identity headers from an authenticating proxy count only on the authproxy callback.
  const stripRemoteHeaders = (req: Request, _res: Response, next: NextFunction) => {
    if (!authproxyPaths.has(req.path)) {
      for (const name of Object.keys(req.headers)) if (name.startsWith('x-remote-')) delete req.headers[name];
    }
    next();
  };
  const securityHeaders = { 'X-Frame-Options': 'DENY', 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', ...settings.web.headers };
  /** On every request: a request id, the duration metric (and tokens by grant), the security headers. */
  const common = (req: Request, res: Response, next: NextFunction) => {
    // A request id for the logs: the caller's X-Request-Id when it looks like one, else a new one.
    const given = req.get('x-request-id');
    const id = given && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomBytes(8).toString('hex');
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    const end = ctx.metrics.requests.startTimer();
    res.on('finish', () => {
      end({ route: (req.route as { path?: string } | undefined)?.path ?? 'unmatched', method: req.method, status: String(res.statusCode) });
      if (req.path === '/token' && res.statusCode === 200) {
        const grant = (req.body as Record<string, unknown> | undefined)?.grant_type;
        ctx.metrics.tokens.inc({ grant: typeof grant === 'string' ? grant : 'unknown' });
      }
    });
    for (const [k, v] of Object.entries(securityHeaders)) res.setHeader(k, v);
    next();
  };
  const cors = corsFor(settings.web.allowedOrigins);
  // The hot path first (bench/): /token reads its own form body and skips the rest of the router.
  router.post('/token', common, cors, wrap(token));
  router.use(stripRemoteHeaders);
  router.use(common);

  const browserSession = session({
    name: 'dexpress_session',
    secret: await sessionSecret(ctx.storage),
    store: new StorageSessionStore(ctx.storage),
    resave: false,
    saveUninitialized: false,
    // Behind TLS the cookie must survive an IdP's cross-site POST back (SAML through an existing
    // Passport strategy), so it is SameSite=None; Secure. Forms it could be abused with carry
    // their own CSRF binding (password form, approval HMAC).
    cookie: settings.issuer.startsWith('https:')
      ? { httpOnly: true, sameSite: 'none', secure: true, path: settings.issuerPath || '/' }
      : { httpOnly: true, sameSite: 'lax', secure: false, path: settings.issuerPath || '/' },
  });

  // `frontend.dir`, laid out as Dex's web directory: `themes/<theme>/` at /theme, `static/` at /static.
  if (settings.frontend.dir) {
    const assets = { dotfiles: 'deny' as const, index: false, fallthrough: true, maxAge: '1h' };
    router.use('/theme', express.static(path.join(settings.frontend.dir, 'themes', settings.frontend.theme), assets));
    router.use('/static', express.static(path.join(settings.frontend.dir, 'static'), assets));
  }
  router.get('/.well-known/openid-configuration', cors, (_req, res) => {
    res.set('Cache-Control', 'public, max-age=60').json(discoveryDocument(ctx));
  });
  router.get('/keys', cors, async (_req, res) => {
    res.set('Cache-Control', 'public, max-age=60, must-revalidate').json({ keys: await ctx.keys.publicKeys() });
  });
  router.get('/healthz', async (_req, res) => {
    try {
      await ctx.storage.ping();
      res.type('text').send('Health check passed');
    } catch {
      res.status(503).type('text').send('Health check failed: storage unavailable');
    }
  });

  router.options(['/token', '/userinfo', '/keys', '/.well-known/openid-configuration'], cors, (_req, res) => {
    res.status(204).end();
  });
  router.get('/userinfo', cors, wrap(userinfo));
  router.post('/userinfo', cors, form, wrap(userinfo));

  router.get('/auth', browserSession, wrap(authorize));
  router.post('/auth', browserSession, form, wrap(authorize));
  router.get('/auth/:connector/login', browserSession, wrap(passwordForm));
  router.post('/auth/:connector/login', browserSession, form, wrap(passwordLogin));
  router.get('/auth/:connector/:route', wrap(connectorRoute));
  router.get('/auth/:connector', browserSession, wrap(authorizeWithConnector));
  router.post('/auth/:connector', browserSession, form, wrap(authorizeWithConnector));
  router.get('/callback', browserSession, wrap(callback));
  router.post('/callback', browserSession, callbackForm, wrap(callback));
  router.get('/callback/:connector', browserSession, wrap(connectorCallback));
  router.post('/callback/:connector', browserSession, callbackForm, wrap(connectorCallback));
  router.get('/logout', browserSession, wrap(logout));
  router.post('/logout', browserSession, form, wrap(logout));
  router.get('/approval', browserSession, wrap(approvalForm));
  router.post('/approval', browserSession, form, wrap(approvalDecision));
  router.post('/device/code', form, wrap(deviceAuthorization));
  router.get('/device', browserSession, wrap(deviceCodeEntry));
  router.post('/device/auth/verify_code', browserSession, form, wrap(verifyUserCode));
  router.get('/device/login/:connector', browserSession, wrap(deviceLoginWithConnector));
  router.get('/device/callback', browserSession, wrap(deviceCallback));

  router.use((req, res) => {
    if (wantsJson(req)) res.status(404).json({ error: 'not_found', error_description: 'No such endpoint.' });
    else showError(ctx, res, 404, 'Not found', 'There is nothing at this address.');
  });
  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => answerError(ctx, err, req, res));
  return router;
}

async function connectorRoute(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  const conn = ctx.connectors.get(String(req.params.connector));
  const routes = conn?.connector.routes;
  const name = String(req.params.route);
  // Own keys only: `constructor`, `__proto__`, `toString`... are not routes.
  const route = routes && Object.hasOwn(routes, name) ? routes[name] : undefined;
  if (!route) {
    showError(ctx, res, 404, 'Not found', 'There is nothing at this address.');
    return;
  }
  const out = await route(req);
  res.status(out.status).type(out.contentType).send(out.body);
}

function wantsJson(req: Request): boolean {
  return ['/token', '/userinfo', '/keys', '/.well-known/openid-configuration', '/device/code'].includes(req.path);
}

/** The one error handler: OAuth JSON on API paths, a page elsewhere; internals only in the log. */
function answerError(ctx: BrokerContext, err: unknown, req: Request, res: Response): void {
  if (res.headersSent) {
    ctx.logger.error({ err }, 'error after the response started');
    res.end();
    return;
  }
  const status = typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
  const bodyError = typeof (err as { type?: unknown }).type === 'string' && (err as { type: string }).type.startsWith('entity.');
  let oauth: OAuthError;
  if (err instanceof OAuthError) oauth = err;
  else if (err instanceof StorageUnavailableError) oauth = new OAuthError('temporarily_unavailable', 'The service is temporarily unavailable. Try again shortly.', 503);
  else if (bodyError && status === 413) oauth = new OAuthError('invalid_request', 'The request body is too large.', 413);
  else if (bodyError || (status >= 400 && status < 500)) oauth = new OAuthError('invalid_request', 'The request body could not be read.', 400);
  else {
    ctx.logger.error({ err, path: req.path, requestId: res.locals.requestId }, 'internal error');
    oauth = new OAuthError('server_error', 'An internal error occurred.', 500);
  }
  if (oauth.status === 401 && req.get('authorization')?.toLowerCase().startsWith('basic')) res.set('WWW-Authenticate', 'Basic realm="dexpress"');
  if (wantsJson(req)) {
    res.status(oauth.status).set('Cache-Control', 'no-store').json({ error: oauth.code, error_description: oauth.description });
  } else {
    showError(ctx, res, oauth.status, oauth.status >= 500 ? 'Something went wrong' : 'Bad request', oauth.description);
  }
}

function corsFor(origins: string[]) {
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.get('origin');
    if (origin && (origins.includes('*') || origins.includes(origin))) {
      res.set({ 'Access-Control-Allow-Origin': origin, Vary: 'Origin', 'Access-Control-Allow-Headers': 'Authorization, Content-Type', 'Access-Control-Allow-Methods': 'GET, POST, OPTIONS' });
    }
    next();
  };
}
