/**
 * The broker's routes relative to the issuer path, in one Express router: /token first (the hot
 * path), then the common middleware (request id, metrics, security headers, X-Remote-* stripping),
 * the API endpoints, the browser flow under a storage-backed session, and one error handler that
 * answers OAuth JSON on API paths and a page elsewhere.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import session from 'express-session';
import type { BrokerContext } from './context.js';
import { approvalDecision, approvalForm } from './endpoints/approval.js';
import { authorize, authorizeWithConnector } from './endpoints/authorize.js';
import { callback, connectorCallback } from './endpoints/callback.js';
import { deviceAuthorization, deviceCallback, deviceCodeEntry, deviceLoginWithConnector, verifyUserCode } from './endpoints/device.js';
import { discoveryDocument } from './endpoints/discovery.js';
import { healthz } from './endpoints/healthz.js';
import { keys } from './endpoints/keys.js';
import { logout } from './endpoints/logout.js';
import { passwordForm, passwordLogin } from './endpoints/password.js';
import { userinfo } from './endpoints/userinfo.js';
import { showError } from './send-page.js';
import { corsPolicy, oauthErrorFor, securityHeaders, startResponse, writeOAuthError } from './http-common.js';
import { adoptHostRawBody } from './host-body.js';
import { shuttingDown } from './request-gate.js';
import { StorageSessionStore } from './session-store.js';
import type { Storage } from './storage/index.js';

type Handler = (ctx: BrokerContext, req: Request, res: Response) => Promise<void>;

/** The first path segments of the broker's routes below (an issuer at the root shares the origin's paths with the host app). */
const ROOT_SEGMENTS = new Set(['.well-known', 'keys', 'healthz', 'token', 'userinfo', 'auth', 'callback', 'logout', 'approval', 'device', 'theme', 'static']);

/** Body size limits: forms are small; SAML responses posted to /callback can be larger. */
const FORM_LIMIT = '64kb';
const CALLBACK_LIMIT = '512kb';

async function sessionSecret(storage: Storage): Promise<string> {
  const found = await storage.find<string>('keys', 'session-secret');
  if (found) return found.value;
  const secret = randomBytes(32).toString('base64url');
  if (await storage.create('keys', 'session-secret', secret)) return secret;
  return (await storage.find<string>('keys', 'session-secret'))!.value;
}

/** For each authproxy connector, its callback path and the header names it reads (lower case). */
function authproxyHeaders(settings: BrokerContext['settings']): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const c of settings.connectors) {
    if (c.type !== 'authproxy') continue;
    const config = (c.config ?? {}) as Record<string, unknown>;
    const configured = Object.entries(config).filter(([k, v]) => k.endsWith('Header') && typeof v === 'string').map(([, v]) => (v as string).toLowerCase());
    const defaults = ['x-remote-user-id', 'x-remote-user', 'x-remote-user-name', 'x-remote-user-email', 'x-remote-group'];
    out.set(`/callback/${c.id}`, new Set([...defaults, ...configured]));
  }
  return out;
}

/** `token` is the token endpoint's listener (lib/endpoints/token.ts), which `serve` also calls directly. */
export async function buildRouter(ctx: BrokerContext, token: (req: Request, res: Response) => void): Promise<Router> {
  const { settings } = ctx;
  const router = express.Router();
  const wrap = (handler: Handler) => (req: Request, res: Response) => handler(ctx, req, res);
  const form = formParser(express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 100 }));
  const callbackForm = formParser(express.urlencoded({ extended: false, limit: CALLBACK_LIMIT, parameterLimit: 20 }));
  // Identity headers from an authenticating proxy count only on that authproxy connector's own
  // callback: `X-Remote-*`, and every header name an authproxy connector is configured to read
  // (`userHeader: X-Forwarded-User`...), are removed from every other request.
  const proxyHeaders = authproxyHeaders(settings);
  const allProxyHeaders = new Set([...proxyHeaders.values()].flatMap((names) => [...names]));
  const stripRemoteHeaders = (req: Request, _res: Response, next: NextFunction) => {
    const own = proxyHeaders.get(req.path);
    for (const name of Object.keys(req.headers)) {
      if ((name.startsWith('x-remote-') || allProxyHeaders.has(name)) && !own?.has(name)) delete req.headers[name];
    }
    next();
  };
  const security = securityHeaders(settings);
  /**
   * On every request: a request id, the duration metric, the security headers. A policy the host
   * app set in front of the broker (helmet's default has `form-action 'self'`, which blocks the
   * redirect back to the client after the password form or the approval page) gives way to the
   * broker's own: `web.headers`, else each page's.
   */
  const common = (req: Request, res: Response, next: NextFunction) => {
    res.removeHeader('Content-Security-Policy');
    res.locals.requestId = startResponse(req, res, security);
    if (!ctx.requests.enter(res)) {
      answerError(ctx, shuttingDown(), req, res);
      return;
    }
    const started = performance.now();
    res.on('finish', () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      ctx.metrics.observeRequest(typeof route === 'string' ? route : undefined, req.method, res.statusCode, (performance.now() - started) / 1000, Number(res.getHeader('content-length')) || 0);
    });
    next();
  };
  const cors = corsFor(settings.web);
  // With the issuer at the origin's root every path is under it: the host app's own routes and
  // 404 come after the broker, so a path outside the broker's leaves the router untouched (no
  // headers, no header stripping; broker.app answers the 404 itself when it is not mounted).
  if (!settings.issuerPath) router.use((req, _res, next) => next(ROOT_SEGMENTS.has(req.path.split('/')[1]!) ? undefined : 'router'));
  // The hot path first (bench/): /token does its own request id, headers, CORS, metrics and
  // errors, reads its own form body, and skips the rest of the router (serve skips Express too).
  router.post('/token', token);
  router.use(stripRemoteHeaders);
  router.use(common);

  const ownSession = session({
    name: 'dexpress_session',
    secret: await sessionSecret(ctx.storage),
    store: new StorageSessionStore(ctx.storage, ctx.now),
    resave: false,
    saveUninitialized: false,
    // An https issuer is often served by a TLS-terminating proxy talking plain HTTP to this
    // process: X-Forwarded-Proto then tells express-session the browser's connection is secure,
    // or it would never set the Secure cookie. (It only decides whether to set the cookie.)
    proxy: true,
    // Behind TLS the cookie must survive an IdP's cross-site POST back (SAML through an existing
    // Passport strategy), so it is SameSite=None; Secure. Forms it could be abused with carry
    // their own CSRF binding (password form, approval HMAC).
    cookie: settings.issuer.startsWith('https:')
      ? { httpOnly: true, sameSite: 'none', secure: true, path: settings.issuerPath || '/' }
      : { httpOnly: true, sameSite: 'lax', secure: false, path: settings.issuerPath || '/' },
  });
  // express-session does nothing when `req.session` is already set: a host app's session
  // middleware in front of the broker silently takes the login state into the host's session,
  // cookie and store. Said once, at the first such request.
  let foreignSessionReported = false;
  // An https issuer reached over plain HTTP without `X-Forwarded-Proto: https` (a proxy that does
  // not send it, as nginx does not unless told; Dex needs no cookie and works there): the Secure
  // cookie is withheld, and every browser login ends in "Login started elsewhere". Said once.
  let insecureReported = !settings.issuer.startsWith('https:');
  const browserSession: RequestHandler = (req, res, next) => {
    if (req.session && !foreignSessionReported) {
      foreignSessionReported = true;
      ctx.logger.warn(
        { path: req.originalUrl.split('?')[0] },
        "a session middleware of the host app ran before the broker's: the broker's login state goes into the host's session instead of its own. Mount the broker before the host's session middleware, or on a path that session does not cover",
      );
    }
    if (!insecureReported && !reachedOverHttps(req)) {
      insecureReported = true;
      ctx.logger.warn(
        { path: req.originalUrl.split('?')[0] },
        'the issuer is https, but a request came over plain HTTP without "X-Forwarded-Proto: https": the session cookie (Secure) is not set, so browser logins fail as "started in another browser". Have the TLS-terminating proxy send X-Forwarded-Proto: https',
      );
    }
    ownSession(req, res, next);
  };

  // `frontend.dir`, laid out as Dex's web directory: `themes/<theme>/` at /theme, `static/` at /static.
  if (settings.frontend.dir) {
    const assets = { dotfiles: 'deny' as const, index: false, fallthrough: true, maxAge: '1h' };
    router.use('/theme', express.static(path.join(settings.frontend.dir, 'themes', settings.frontend.theme), assets));
    router.use('/static', express.static(path.join(settings.frontend.dir, 'static'), assets));
  }
  router.get('/.well-known/openid-configuration', cors, (_req, res) => {
    res.set('Cache-Control', 'public, max-age=60').json(discoveryDocument(ctx));
  });
  router.get('/keys', cors, wrap(keys));
  router.get('/healthz', wrap(healthz));

  // One route per path, so the metrics name the path (a route of several is labelled with them all).
  for (const preflight of ['/token', '/userinfo', '/keys', '/.well-known/openid-configuration']) {
    router.options(preflight, cors, (_req, res) => {
      res.status(204).end();
    });
  }
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

  router.use((req, res) => answerNotFound(ctx, req, res));
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

/** The broker's form parser; a raw form that a host app's `express.text()` or `express.raw()` read first is parsed the same way. */
function formParser(parse: RequestHandler): RequestHandler {
  return (req, res, next) => {
    parse(req, res, (err?: unknown) => {
      if (err) return next(err);
      adoptHostRawBody(req);
      next();
    });
  };
}

/** Whether express-session (`proxy: true`) takes the connection for https: TLS here, or X-Forwarded-Proto's first value. */
function reachedOverHttps(req: Request): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted === true) return true;
  const proto = req.headers['x-forwarded-proto'];
  return typeof proto === 'string' && proto.split(',')[0]!.trim().toLowerCase() === 'https';
}

/** 404: OAuth JSON on API paths, a page elsewhere. */
export function answerNotFound(ctx: BrokerContext, req: Request, res: Response): void {
  if (wantsJson(req)) res.status(404).json({ error: 'not_found', error_description: 'No such endpoint.' });
  else showError(ctx, res, 404, 'Not found', 'There is nothing at this address.');
}

function wantsJson(req: Request): boolean {
  return ['/token', '/userinfo', '/keys', '/.well-known/openid-configuration', '/device/code'].includes(req.path);
}

/** The one error handler: OAuth JSON on API paths, a page elsewhere; internals only in the log. */
export function answerError(ctx: BrokerContext, err: unknown, req: Request, res: Response): void {
  if (res.headersSent) {
    ctx.logger.error({ err }, 'error after the response started');
    res.end();
    return;
  }
  const oauth = oauthErrorFor(err, ctx.logger, { path: req.path, requestId: res.locals.requestId });
  if (wantsJson(req)) {
    writeOAuthError(req, res, oauth);
  } else {
    showError(ctx, res, oauth.status, oauth.status >= 500 ? 'Something went wrong' : 'Bad request', oauth.description);
  }
}

function corsFor(web: BrokerContext['settings']['web']) {
  const corsHeaders = corsPolicy(web);
  return (req: Request, res: Response, next: NextFunction) => {
    const headers = corsHeaders(req.headers.origin);
    if (headers) res.set(headers);
    next();
  };
}
