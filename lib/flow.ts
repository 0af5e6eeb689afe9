/**
 * The steps of a browser login after `/auth` has checked the request: hand the user to the
 * connector, take the connector's answer (once), record the identity, ask for approval or not,
 * and send the code back to the client.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { AuthRequest } from './auth-request.js';
import { checkPeersTrust } from './grants/respond.js';
import type { ResponseMode } from './response-types.js';
import type { Grant } from './tokens/claims.js';
import type { Admit, BrokerAuthenticateOptions, LoginState } from './connector.js';
import type { BrokerContext, LoadedConnector } from './context.js';
import { AccessDeniedError, OAuthError, UpstreamError, errorMessage, publicSummary } from './errors.js';
import { assertIdentity, scopesFrom, type Identity, type JsonValue } from './identity.js';
import { addHandoverLogin, noteHandoverRedirect } from './handover-logins.js';
import { browserBinding, isBoundToBrowser, rememberLogin, saveSession } from './login-session.js';
import { runStrategy } from './run-strategy.js';
import { errorPage, type PageOptions } from './web/pages.js';
import { html } from './web/html.js';

export interface AuthCode {
  clientId: string;
  redirectURI: string;
  scopes: string[];
  nonce?: string;
  pkce?: AuthRequest['pkce'];
  connectorId: string;
  connectorType: string;
  claims: NonNullable<AuthRequest['identity']>['claims'];
  connectorData?: JsonValue;
  authTime: number;
}

/** What a redeemed code's record becomes (same kind and id): who redeemed it, and what it issued. */
export interface UsedCode {
  used: true;
  clientId: string;
  refreshId?: string;
}

/** A code record: not yet redeemed, or its tombstone. */
export function isUsedCode(record: AuthCode | UsedCode): record is UsedCode {
  return (record as Partial<UsedCode>).used === true;
}

/** Lifetime of an authorization code (RFC 6749 recommends at most ten minutes). */
export const AUTH_CODE_TTL_MS = 10 * 60_000;

export function approvalHmac(authReq: Pick<AuthRequest, 'id' | 'hmacKey'>): string {
  return createHmac('sha256', Buffer.from(authReq.hmacKey, 'base64url')).update(authReq.id).digest('base64url');
}

/**
 * The broker's pages have no script and load nothing from elsewhere but the configured logo.
 * `form-action` is left out on purpose: browsers apply it to the redirect that follows a form
 * post, which would block the approval page's redirect back to the client.
 */
export const PAGE_CSP = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; base-uri 'none'; frame-ancestors 'none'";

export function sendPage(res: Response, status: number, body: string): void {
  if (!res.get('Content-Security-Policy')) res.set('Content-Security-Policy', PAGE_CSP);
  res.status(status).type('html').set('Cache-Control', 'no-store').send(body);
}

export function showError(ctx: BrokerContext, res: Response, status: number, title: string, message: string, hint?: string): void {
  sendPage(res, status, errorPage(ctx.page, { title, message, ...(hint ? { hint } : {}) }));
}

/** The 403 page for a login step taken in another browser than the one that started the login (`isBoundToBrowser`). */
export function showStartedElsewhere(ctx: BrokerContext, res: Response, step: 'finished' | 'approved'): void {
  showError(ctx, res, 403, 'Login started elsewhere', `This login was started in another browser, so it cannot be ${step} in this one.`, 'Go back to the application and log in again from this browser (with cookies allowed for this site).');
}

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

/** The form field that marks a callback POST resubmitted from this origin (`resubmitSameSite`). */
const RESUBMITTED = 'dexpress_resubmitted';

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/** A callback POST not yet resubmitted: it may have come cross-site without the Lax cookie. */
export function mayResubmit(req: Request): boolean {
  return req.method === 'POST' && str((req.body as Record<string, unknown> | undefined)?.[RESUBMITTED]) !== '1';
}

/**
 * Answers a cross-site callback POST that came without the session cookie with a page that posts
 * the same fields to the same URL from this origin, so the browser sends its SameSite=Lax cookie
 * this time (a script submits it; without scripts, a button). Marked, so it happens once.
 */
export function resubmitSameSite(ctx: BrokerContext, req: Request, res: Response): void {
  const fields = Object.entries((req.body ?? {}) as Record<string, unknown>).filter(([k, v]) => k !== RESUBMITTED && typeof v === 'string') as [string, string][];
  const action = ctx.url(req.url);
  const body = html`<!doctype html><html><head><meta charset="utf-8"><title>Continue</title></head><body onload="HTMLFormElement.prototype.submit.call(document.forms[0])"><form method="post" action="${action}">${fields.map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}<input type="hidden" name="${RESUBMITTED}" value="1"><noscript><button type="submit">Continue</button></noscript></form></body></html>`;
  // No form-action: browsers apply it to the redirect after the post too (on to the client).
  res.set('Content-Security-Policy', "default-src 'none'; script-src 'unsafe-inline'; frame-ancestors 'none'");
  sendPage(res, 200, body.html);
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

/** Records the identity on the auth request, then approval or straight to the client. */
export async function finishLogin(ctx: BrokerContext, req: Request, res: Response, authReqId: string, identity: Identity): Promise<void> {
  const { connectorData: plainData, ...claims } = identity;
  const connectorData = ctx.sealer.seal(plainData);
  const authTime = Math.floor(ctx.now() / 1000);
  let authReq: AuthRequest | undefined;
  for (let i = 0; i < 5 && !authReq; i++) {
    const rec = await ctx.storage.find<AuthRequest>('authRequest', authReqId);
    if (!rec) return showError(ctx, res, 400, 'Login expired', 'This login has expired.', 'Go back to the application and log in again.');
    const next: AuthRequest = { ...rec.value, identity: { claims, ...(connectorData !== undefined ? { connectorData } : {}), authTime } };
    delete next.loginState;
    if (await ctx.storage.update('authRequest', authReqId, rec.version, next)) authReq = next;
  }
  if (!authReq) throw new Error('could not record the login');
  // Dex's audit line, with its keys: who logged in, through which connector (an email not verified upstream is marked as Dex marks it).
  ctx.logger.info(
    {
      connector_id: authReq.connectorId,
      user_id: claims.userId,
      username: claims.username,
      preferred_username: claims.preferredUsername ?? '',
      email: `${claims.email ?? ''}${claims.emailVerified ? '' : ' (unverified)'}`,
      groups: claims.groups,
      client: authReq.clientId,
      requestId: res.locals.requestId,
    },
    'login successful',
  );
  ctx.metrics.logins.inc({ connector: authReq.connectorId!, outcome: 'success' });
  await rememberLogin(req, { connectorId: authReq.connectorId!, claims, ...(connectorData !== undefined ? { connectorData } : {}), authTime });
  await saveSession(req);
  if (ctx.settings.oauth2.skipApprovalScreen && !authReq.prompt?.includes('consent')) {
    await sendAuthorizationResponse(ctx, res, authReqId);
    return;
  }
  res.redirect(303, ctx.url(`/approval?req=${encodeURIComponent(authReq.id)}&hmac=${encodeURIComponent(approvalHmac(authReq))}`));
}

/**
 * Consumes the auth request and answers the client: a code stored for `/token` when `code` was
 * asked for, an access token and an ID token when `token` and `id_token` were (the implicit and
 * hybrid flows; never a refresh token), sent in the query, the fragment or a form post.
 */
export async function sendAuthorizationResponse(ctx: BrokerContext, res: Response, authReqId: string): Promise<void> {
  const authReq = await ctx.storage.consume<AuthRequest>('authRequest', authReqId);
  if (!authReq?.identity || !authReq.connectorId) {
    showError(ctx, res, 400, 'Login expired', 'This login has expired or was already completed.', 'Go back to the application and log in again.');
    return;
  }
  const types = authReq.responseTypes ?? ['code'];
  const conn = ctx.connectors.get(authReq.connectorId);
  const grant: Grant = {
    clientId: authReq.clientId,
    connectorId: authReq.connectorId,
    connectorType: conn?.type ?? 'unknown',
    scopes: authReq.scopes,
    claims: authReq.identity.claims,
    ...(authReq.nonce ? { nonce: authReq.nonce } : {}),
    authTime: authReq.identity.authTime,
  };
  const answer: Record<string, string> = {};
  if (types.includes('code')) {
    const code = randomBytes(24).toString('base64url');
    const record: AuthCode = {
      clientId: grant.clientId,
      redirectURI: authReq.redirectURI,
      scopes: grant.scopes,
      ...(authReq.nonce ? { nonce: authReq.nonce } : {}),
      ...(authReq.pkce ? { pkce: authReq.pkce } : {}),
      connectorId: grant.connectorId,
      connectorType: grant.connectorType,
      claims: grant.claims,
      ...(authReq.identity.connectorData !== undefined ? { connectorData: authReq.identity.connectorData } : {}),
      authTime: authReq.identity.authTime,
    };
    await ctx.storage.create('authCode', code, record, { expiresAt: ctx.now() + AUTH_CODE_TTL_MS });
    answer.code = code;
  }
  if (types.includes('token') || types.includes('id_token')) {
    try {
      checkPeersTrust(ctx, grant.clientId, grant.scopes);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      redirectToClient(ctx, res, authReq, { error: 'invalid_scope', error_description: err.description });
      return;
    }
    const minted = await ctx.minter.mintFrontChannel(grant, { accessToken: types.includes('token'), idToken: types.includes('id_token'), ...(answer.code ? { code: answer.code } : {}) });
    if (minted.accessToken) Object.assign(answer, { access_token: minted.accessToken, token_type: 'bearer', expires_in: String(minted.expiresIn) });
    if (minted.idToken) answer.id_token = minted.idToken;
    // Counted with the token responses of /token, under the grant discovery names for them.
    ctx.metrics.tokens.inc({ grant: 'implicit' });
  }
  redirectToClient(ctx, res, authReq, answer);
}

/**
 * Sends parameters to the client's redirect URI, with `state` and `iss` (RFC 9207): in the
 * query, the fragment (implicit and hybrid flows) or a self-posting form (`form_post`).
 */
export function redirectToClient(
  ctx: BrokerContext,
  res: Response,
  target: { redirectURI: string; state?: string | undefined; responseMode?: ResponseMode | undefined },
  params: Record<string, string>,
): void {
  const all: Record<string, string> = { ...params, ...(target.state !== undefined ? { state: target.state } : {}), iss: ctx.settings.issuer };
  if (target.redirectURI === 'urn:ietf:wg:oauth:2.0:oob') {
    if (params.code) sendPage(res, 200, errorPage(ctx.page, { title: 'Login successful', message: `Your code: ${params.code}` }));
    else sendPage(res, 400, errorPage(ctx.page, { title: 'Login failed', message: `Error: ${params.error ?? 'unknown'}${params.error_description ? `: ${params.error_description}` : ''}` }));
    return;
  }
  if (target.responseMode === 'form_post') {
    const body = html`<!doctype html><html><head><meta charset="utf-8"><title>Submit</title></head><body onload="document.forms[0].submit()"><form method="post" action="${target.redirectURI}">${Object.entries(all).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}<noscript><button type="submit">Continue</button></noscript></form></body></html>`;
    res.set('Content-Security-Policy', "default-src 'none'; script-src 'unsafe-inline'; form-action *; frame-ancestors 'none'");
    sendPage(res, 200, body.html);
    return;
  }
  const url = new URL(target.redirectURI);
  if (target.responseMode === 'fragment') {
    url.hash = new URLSearchParams(all).toString();
    // Tokens in the Location header: not to be kept by any cache on the way.
    res.set('Cache-Control', 'no-store');
  } else {
    for (const [k, v] of Object.entries(all)) url.searchParams.set(k, v);
  }
  res.redirect(303, url.toString());
}

export type { PageOptions };
