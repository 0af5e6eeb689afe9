/**
 * `/auth/:connector/login`: the password form of a password connector (ldap, crowd, keystone,
 * mockPassword, the password DB). The form is bound to its auth request: `state` names it and a
 * hidden `csrf` field carries an HMAC under the request's own key.
 */
import { createHmac } from 'node:crypto';
import type { Request, Response } from 'express';
import { authQueryOf, type AuthRequest } from '../auth-request.js';
import { secretsEqual } from '../clients.js';
import type { BrokerContext } from '../context.js';
import { AccessDeniedError, StorageUnavailableError, UpstreamError, publicSummary } from '../errors.js';
import { checkPassword } from '../flow.js';
import { finishLogin } from '../finish-login.js';
import { sendPage, showError, showStartedElsewhere } from '../send-page.js';
import { isBoundToBrowser } from '../login-session.js';
import { passwordPage } from '../web/pages.js';

function csrfToken(authReq: AuthRequest): string {
  return createHmac('sha256', Buffer.from(authReq.hmacKey, 'base64url')).update(`login:${authReq.id}`).digest('base64url');
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

async function loadRequest(ctx: BrokerContext, req: Request, res: Response): Promise<AuthRequest | undefined> {
  const state = str(req.query.state) || str((req.body as Record<string, unknown> | undefined)?.state);
  const rec = state ? await ctx.storage.find<AuthRequest>('authRequest', state) : undefined;
  if (!rec || rec.value.connectorId !== req.params.connector || rec.value.identity) {
    showError(ctx, res, 400, 'Login expired', 'This login has expired or was already completed.', 'Go back to the application and log in again.');
    return undefined;
  }
  return rec.value;
}

function render(ctx: BrokerContext, res: Response, authReq: AuthRequest, status: number, username: string, error?: string): void {
  const conn = ctx.connectors.get(authReq.connectorId!)!;
  sendPage(
    res,
    status,
    passwordPage(ctx.page, {
      action: ctx.url(`/auth/${encodeURIComponent(conn.id)}/login?state=${encodeURIComponent(authReq.id)}`),
      prompt: conn.connector.prompt ?? 'Username',
      username,
      csrf: csrfToken(authReq),
      ...(error ? { error } : {}),
      ...(authReq.redirectURI === ctx.url('/device/callback')
        ? { backHref: ctx.url('/device') }
        : ctx.connectors.size > 1
          ? { backHref: ctx.url(`/auth?${authQueryOf(authReq)}`) }
          : {}),
    }),
  );
}

export async function passwordForm(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  const authReq = await loadRequest(ctx, req, res);
  if (authReq) render(ctx, res, authReq, 200, '');
}

export async function passwordLogin(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  const authReq = await loadRequest(ctx, req, res);
  if (!authReq) return;
  const conn = ctx.connectors.get(authReq.connectorId!)!;
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (!secretsEqual(str(body.csrf), csrfToken(authReq))) {
    showError(ctx, res, 403, 'Login form expired', 'The form did not come from this login.', 'Reload the login page and try again.');
    return;
  }
  // The form's token is readable by whoever started the login: only the browser that started it
  // may post it (or another site could log a visitor in as the attacker).
  if (!isBoundToBrowser(req, authReq)) return showStartedElsewhere(ctx, res, 'finished');
  const username = str(body.login).trim();
  const password = str(body.password);
  if (username === '' || password === '') {
    render(ctx, res, authReq, 400, username, `Enter your ${(conn.connector.prompt ?? 'username').toLowerCase()} and your password.`);
    return;
  }
  const address = ctx.clientAddress(req);
  let guarded;
  try {
    guarded = await ctx.throttle.guard(conn.id, username, address, (admit) => checkPassword(ctx, req, res, conn, username, password, authReq.scopes, admit));
  } catch (err) {
    if (err instanceof StorageUnavailableError) throw err;
    ctx.metrics.logins.inc({ connector: conn.id, outcome: err instanceof AccessDeniedError ? 'refused' : 'failed' });
    if (err instanceof AccessDeniedError) {
      ctx.logger.info({ connector: conn.id, reason: err.message }, 'password login refused');
      showError(ctx, res, err.status, err.status === 403 ? 'Access denied' : 'Login failed', err.message, `You tried to log in with ${conn.name}.`);
      return;
    }
    ctx.logger.warn({ err, connector: conn.id }, 'password login failed');
    const message = err instanceof UpstreamError ? `${publicSummary(err, conn.name)}. Try again in a moment.` : `The login with ${conn.name} failed. Try again later.`;
    render(ctx, res, authReq, 502, username, message);
    return;
  }
  if (guarded.throttled) {
    ctx.logger.warn({ connector: conn.id, username, address }, 'password login throttled');
    res.set('Retry-After', String(guarded.retryAfter));
    render(ctx, res, authReq, 429, username, `Too many failed attempts. Try again in ${Math.ceil(guarded.retryAfter / 60)} minute${guarded.retryAfter > 60 ? 's' : ''}.`);
    return;
  }
  const identity = guarded.result;
  if (!identity) {
    ctx.metrics.logins.inc({ connector: conn.id, outcome: 'refused' });
    ctx.logger.info({ connector: conn.id, username, address }, 'password login refused: wrong credentials');
    render(ctx, res, authReq, 401, username, `Invalid ${(conn.connector.prompt ?? 'username').toLowerCase()} or password.`);
    return;
  }
  await finishLogin(ctx, req, res, authReq.id, identity);
}
