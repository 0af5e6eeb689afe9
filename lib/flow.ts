/**
 * The connector's part of a browser login after `/auth` has checked the request: hand the user to
 * the connector, take the connector's answer (once), and turn its outcome into the identity
 * (`finishLogin`) or a page saying why not.
 */
import type { Request, Response } from 'express';
import type { AuthRequest } from './auth-request.js';
import type { Admit, BrokerAuthenticateOptions, LoginState } from './connector.js';
import type { BrokerContext, LoadedConnector } from './context.js';
import { AccessDeniedError, UpstreamError, errorMessage, publicSummary } from './errors.js';
import { assertIdentity, scopesFrom, type Identity } from './identity.js';
import { addHandoverLogin, noteHandoverRedirect } from './handover-logins.js';
import { browserBinding, isBoundToBrowser, saveSession } from './login-session.js';
import { runStrategy } from './run-strategy.js';
import { showError, showStartedElsewhere } from './send-page.js';
import { mayResubmit, resubmitSameSite } from './callback-resubmit.js';
import { finishLogin } from './finish-login.js';

/** Reads and updates the auth request's `loginState` for a connector (compare-and-swap). */
function loginStateOf(ctx: BrokerContext, id: string): LoginState {
  return {
    async get() {
      return (await ctx.storage.find<AuthRequest>('authRequest', id))?.value.loginState;
    },
    async set(value) {
      for (let i = 0; i < 5; i++) {
        const rec = await ctx.storage.find<AuthRequest>('authRequest', id);
        if (!rec) throw new AccessDeniedError('This login has expired. Start again from the application.', 400);
        if (await ctx.storage.update('authRequest', id, rec.version, { ...rec.value, loginState: value })) return;
      }
      throw new Error('could not save the login state');
    },
  };
}

function brokerOptions(ctx: BrokerContext, authReq: AuthRequest, phase: 'login' | 'callback'): BrokerAuthenticateOptions {
  const conn = ctx.connectors.get(authReq.connectorId!)!;
  return {
    broker: true,
    phase,
    state: authReq.id,
    scopes: scopesFrom(authReq.scopes),
    callbackURL: conn.type === 'authproxy' ? ctx.url(`/callback/${conn.id}`) : ctx.url('/callback'),
    loginState: loginStateOf(ctx, authReq.id),
  };
}

/** The `browser` field of an auth request this browser starts (see `browserBinding`). */
export function bindingOf(req: Request): { browser?: string } {
  const browser = browserBinding(req);
  return browser === undefined ? {} : { browser };
}

/**
 * `/auth/:connector` after the auth request (with `bindingOf(req)`) is stored: start the
 * connector's login. The session, which may have just got its browser id, is stored first.
 */
export async function startConnectorLogin(ctx: BrokerContext, req: Request, res: Response, authReq: AuthRequest, conn: LoadedConnector): Promise<void> {
  if (conn.foreign) addHandoverLogin(req, conn.id, authReq.id);
  await saveSession(req);
  if (conn.connector.login) {
    res.redirect(303, ctx.url(`/auth/${encodeURIComponent(conn.id)}/login?state=${encodeURIComponent(authReq.id)}`));
    return;
  }
  await runConnector(ctx, req, res, authReq, conn, 'login');
}

/**
 * Checks a username and password with a password connector: its own `login`, or the existing
 * Passport strategy handed in for it (passport-ldapauth...), fed the form's fields. Resolves to
 * the identity, or null for wrong credentials. `admit` is the throttle's, for the connector.
 */
export async function checkPassword(ctx: BrokerContext, req: Request, res: Response, conn: LoadedConnector, username: string, password: string, scopes: string[], admit?: Admit): Promise<Identity | null> {
  if (!conn.foreign) return ctx.metrics.timeUpstream(conn.id, 'login', () => conn.connector.login!(username, password, scopesFrom(scopes), admit));
  req.body = { username, password };
  const outcome = await runStrategy(conn.foreign.strategy, req, res, {});
  if (outcome.type === 'success') return assertIdentity(await conn.foreign.toIdentity(outcome.user));
  if (outcome.type === 'fail') return null;
  if (outcome.type === 'error') throw outcome.error;
  throw new Error(`the Passport strategy of ${conn.id} ended in ${outcome.type}`);
}

/**
 * The upstream's answer: accepted once per auth request, from the browser that started it, on
 * the login's own callback path: `/callback/<id>` (`via`) for authproxy and handed-over Passport
 * strategies, `/callback` or `/callback/<its own id>` for the others (as Dex: "connector mismatch").
 */
export async function handleCallback(ctx: BrokerContext, req: Request, res: Response, authReqId: string, via?: string): Promise<void> {
  const rec = await ctx.storage.find<AuthRequest>('authRequest', authReqId);
  if (!rec || !rec.value.connectorId) {
    showError(ctx, res, 400, 'Login expired', 'This login has expired or is unknown.', 'Go back to the application and log in again.');
    return;
  }
  const authReq = rec.value;
  const conn = ctx.connectors.get(rec.value.connectorId);
  if ((via !== undefined && via !== authReq.connectorId) || (via === undefined && (conn?.type === 'authproxy' || conn?.foreign))) {
    ctx.logger.warn({ connector: authReq.connectorId, via: via ?? '(generic)', requestId: res.locals.requestId }, 'callback refused: not the callback of the login\'s connector');
    showError(ctx, res, 400, 'Wrong login method', 'This answer came back for another login method than the one this login started with.', 'Go back to the application and log in again.');
    return;
  }
  if (!isBoundToBrowser(req, authReq)) {
    // Over plain HTTP the session cookie is SameSite=Lax, so an IdP's cross-site POST (SAML)
    // arrives without it: the browser posts the same fields once more from this origin, with it.
    if (mayResubmit(req)) return resubmitSameSite(ctx, req, res);
    ctx.logger.warn({ connector: authReq.connectorId, requestId: res.locals.requestId }, 'callback refused: the login was started in another browser');
    return showStartedElsewhere(ctx, res, 'finished');
  }
  if (authReq.callbackTaken || !(await ctx.storage.update('authRequest', authReqId, rec.version, { ...authReq, callbackTaken: true }))) {
    showError(ctx, res, 400, 'Login already used', 'This login was already completed.', 'Go back to the application and log in again.');
    return;
  }
  if (!conn) {
    showError(ctx, res, 400, 'Login expired', 'The login method of this login no longer exists.');
    return;
  }
  await runConnector(ctx, req, res, authReq, conn, 'callback');
}

async function runConnector(ctx: BrokerContext, req: Request, res: Response, authReq: AuthRequest, conn: LoadedConnector, phase: 'login' | 'callback'): Promise<void> {
  const strategy = conn.foreign?.strategy ?? conn.connector.strategy;
  const outcome = await ctx.metrics.timeUpstream(conn.id, phase, () => runStrategy(strategy, req, res, conn.foreign ? {} : brokerOptions(ctx, authReq, phase)));
  if (outcome.type === 'fail') ctx.metrics.logins.inc({ connector: conn.id, outcome: 'refused' });
  if (outcome.type === 'error') ctx.metrics.logins.inc({ connector: conn.id, outcome: outcome.error instanceof AccessDeniedError ? 'refused' : 'failed' });
  switch (outcome.type) {
    case 'handled':
      return;
    case 'redirect':
      if (conn.foreign && phase === 'login') {
        noteHandoverRedirect(req, conn.id, authReq.id, outcome.url);
        await saveSession(req);
      }
      res.redirect(outcome.status === 301 || outcome.status === 307 || outcome.status === 308 ? 302 : outcome.status, outcome.url);
      return;
    case 'success': {
      let identity: Identity;
      try {
        identity = assertIdentity(conn.foreign ? await conn.foreign.toIdentity(outcome.user) : outcome.user);
      } catch (err) {
        if (err instanceof AccessDeniedError) return loginRefused(ctx, res, conn, err.status, err.message);
        // A handed-over strategy's mapping may call the upstream (with the strategy's token).
        if (err instanceof UpstreamError) return upstreamUnavailable(ctx, res, conn, err);
        ctx.logger.error({ err, connector: conn.id }, 'connector returned an unusable identity');
        showError(ctx, res, 502, 'Login failed', `${conn.name} returned an incomplete identity: ${errorMessage(err)}.`, 'Ask your administrator to check the connector configuration.');
        return;
      }
      await finishLogin(ctx, req, res, authReq.id, identity);
      return;
    }
    case 'fail':
      return loginRefused(ctx, res, conn, outcome.status, outcome.message ?? 'The login was refused.');
    case 'pass':
      showError(ctx, res, 400, 'Login failed', `${conn.name} did not complete the login.`);
      return;
    case 'error': {
      const err = outcome.error;
      if (err instanceof AccessDeniedError) {
        ctx.logger.warn({ err, connector: conn.id }, 'connector login failed');
        return loginRefused(ctx, res, conn, err.status, err.message);
      }
      if (err instanceof UpstreamError) return upstreamUnavailable(ctx, res, conn, err);
      ctx.logger.warn({ err, connector: conn.id }, 'connector login failed');
      showError(ctx, res, 502, 'Login failed', `The login with ${conn.name} failed.`, 'Try again in a moment; if it keeps failing, contact your administrator.');
    }
  }
}

/** The upstream could not be reached or answered wrongly: logged with its details, summarised on the page. */
function upstreamUnavailable(ctx: BrokerContext, res: Response, conn: LoadedConnector, err: UpstreamError): void {
  ctx.logger.warn({ err, connector: conn.id }, 'connector login failed');
  showError(
    ctx,
    res,
    502,
    `${conn.name} is unavailable`,
    `The login could not be completed: ${publicSummary(err, conn.name)}.`,
    'Try again in a moment; if it keeps failing, contact your administrator.',
  );
}

function loginRefused(ctx: BrokerContext, res: Response, conn: LoadedConnector, status: number, message: string): void {
  const title = status === 403 ? 'Access denied' : 'Login failed';
  showError(ctx, res, status >= 400 && status < 500 ? status : 403, title, message, `You tried to log in with ${conn.name}.`);
}
