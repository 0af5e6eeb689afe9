/**
 * `/auth`: check the authorization request, then show the connector list or go straight to the
 * one connector (`connector_id`, or only one to choose from). `/auth/:connector`: check it
 * again, store the auth request and start the connector's login.
 */
import type { Request, Response } from 'express';
import {
  checkIdTokenHint,
  PageError,
  RedirectError,
  connectorsFor,
  newAuthRequestId,
  parseAuthRequest,
  singleParams,
  type AuthRequest,
} from '../auth-request.js';
import { checkPkceDowngrade } from '../pkce.js';

type ParsedAuthRequest = ReturnType<typeof parseAuthRequest>;
import type { BrokerContext } from '../context.js';
import type { ClientSettings } from '../config/settings.js';
import { connectorAllowed } from '../grants/respond.js';
import { bindingOf, startConnectorLogin } from '../flow.js';
import { redirectToClient, sendAuthorizationResponse } from '../authorization-response.js';
import { showError, sendPage } from '../send-page.js';
import { verifyIdTokenHint } from '../id-token-hint.js';
import { currentLogin } from '../login-session.js';
import { grantTypeOf, type ResponseMode } from '../response-types.js';
import { encodeSubject } from '../tokens/subject.js';
import { connectorListPage } from '../web/pages.js';
import { randomBytes } from 'node:crypto';

function requestParams(req: Request): Record<string, string | undefined> {
  return singleParams(req.method === 'POST' ? { ...(req.query as object), ...(req.body as object) } : req.query);
}

function failTo(parsed: { redirectURI: string; state?: string; responseMode?: ResponseMode }) {
  return (error: string, description: string): never => {
    throw new RedirectError(error, description, parsed.redirectURI, parsed.state, parsed.responseMode);
  };
}

/**
 * The connectors a login for this request may use: the client's, less those whose `grantTypes`
 * leave out its grant (`implicit` once tokens come from `/auth`), as Dex filters its list.
 */
function connectorsForRequest(ctx: BrokerContext, client: ClientSettings, parsed: Pick<ParsedAuthRequest, 'responseTypes'>): string[] {
  const grantType = grantTypeOf(parsed.responseTypes ?? ['code']);
  return connectorsFor(ctx, client).filter((id) => connectorAllowed(ctx, client.allowedConnectors, id, grantType));
}

/** Shows a PageError as a page and sends a RedirectError back to the client. */
export function answerAuthError(ctx: BrokerContext, res: Response, err: unknown): void {
  if (err instanceof PageError) {
    showError(ctx, res, err.status, err.title, err.message, 'Go back to the application and try again, or contact its administrator.');
    return;
  }
  if (err instanceof RedirectError) {
    redirectToClient(ctx, res, err, { error: err.code, error_description: err.description });
    return;
  }
  throw err;
}

export async function authorize(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  let parsed;
  let params;
  try {
    params = requestParams(req);
    parsed = parseAuthRequest(ctx, params);
    await checkIdTokenHint(ctx, parsed.idTokenHint, failTo(parsed));
    await checkPkceDowngrade(ctx, parsed.clientId, parsed.pkce, failTo(parsed));
  } catch (err) {
    return answerAuthError(ctx, res, err);
  }
  const client = ctx.clients.get(parsed.clientId)!;
  if (parsed.prompt?.includes('none')) return silentLogin(ctx, req, res, parsed);
  const ids = parsed.connectorId ? [parsed.connectorId] : connectorsForRequest(ctx, client, parsed);
  if (ids.length === 0) {
    const why = connectorsFor(ctx, client).length > 0 ? `none of its connectors allows the ${grantTypeOf(parsed.responseTypes ?? ['code'])} grant` : 'it may not use any of the configured connectors';
    showError(ctx, res, 400, 'No login method', `Client "${client.id}" cannot log in: ${why}.`);
    return;
  }
  const query = new URLSearchParams(params as Record<string, string>).toString();
  const href = (id: string) => ctx.url(`/auth/${encodeURIComponent(id)}?${query}`);
  if (ids.length === 1 && !ctx.settings.oauth2.alwaysShowLoginScreen) {
    res.redirect(303, href(ids[0]!));
    return;
  }
  sendPage(res, 200, connectorListPage(ctx.page, ids.map((id) => ({ name: ctx.connectors.get(id)!.name, type: ctx.connectors.get(id)!.type, href: href(id) }))));
}

export async function authorizeWithConnector(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  const connectorId = String(req.params.connector);
  const conn = ctx.connectors.get(connectorId);
  let parsed;
  try {
    parsed = parseAuthRequest(ctx, requestParams(req));
    if (!conn) throw new RedirectError('invalid_request', `Unknown connector "${connectorId}".`, parsed.redirectURI, parsed.state, parsed.responseMode);
    const client = ctx.clients.get(parsed.clientId)!;
    if (!connectorsFor(ctx, client).includes(connectorId)) {
      throw new RedirectError('invalid_request', `Client "${client.id}" may not use connector "${connectorId}".`, parsed.redirectURI, parsed.state, parsed.responseMode);
    }
    const grantType = grantTypeOf(parsed.responseTypes ?? ['code']);
    if (conn.grantTypes && !conn.grantTypes.includes(grantType)) {
      throw new RedirectError('unauthorized_client', `Connector "${connectorId}" does not allow the ${grantType} grant.`, parsed.redirectURI, parsed.state, parsed.responseMode);
    }
    await checkIdTokenHint(ctx, parsed.idTokenHint, failTo(parsed));
    await checkPkceDowngrade(ctx, parsed.clientId, parsed.pkce, failTo(parsed));
  } catch (err) {
    return answerAuthError(ctx, res, err);
  }
  if (parsed.prompt?.includes('none')) return silentLogin(ctx, req, res, { ...parsed, connectorId });
  const now = ctx.now();
  const authReq: AuthRequest = {
    ...parsed,
    id: newAuthRequestId(),
    connectorId,
    hmacKey: randomBytes(32).toString('base64url'),
    ...bindingOf(req),
    createdAt: now,
  };
  await ctx.storage.create('authRequest', authReq.id, authReq, { expiresAt: now + ctx.settings.expiry.authRequestsMs });
  await startConnectorLogin(ctx, req, res, authReq, conn!);
}

/**
 * `prompt=none`: answer from the browser's login session without showing anything, or tell the
 * client `login_required` (no usable session) / `consent_required` (approval would be needed).
 * `max_age=0` asks for a new login (OIDC Core 3.1.2.1: it is `prompt=login`), so no session,
 * even one of this very second, satisfies it.
 */
async function silentLogin(ctx: BrokerContext, req: Request, res: Response, parsed: ParsedAuthRequest): Promise<void> {
  const client = ctx.clients.get(parsed.clientId)!;
  const login = currentLogin(req);
  const back = (error: string, description: string) =>
    answerAuthError(ctx, res, new RedirectError(error, description, parsed.redirectURI, parsed.state, parsed.responseMode));
  const usable =
    login !== undefined &&
    ctx.connectors.has(login.connectorId) &&
    connectorsForRequest(ctx, client, parsed).includes(login.connectorId) &&
    (parsed.connectorId === undefined || parsed.connectorId === login.connectorId) &&
    (parsed.maxAge === undefined || (parsed.maxAge > 0 && Math.floor(ctx.now() / 1000) - login.authTime <= parsed.maxAge));
  if (!usable) return back('login_required', 'The user must log in.');
  if (parsed.idTokenHint !== undefined) {
    const hinted = await verifyIdTokenHint(ctx, parsed.idTokenHint);
    if (!hinted) return back('invalid_request', 'The id_token_hint was not issued by this server.');
    if (hinted.sub !== encodeSubject(login.claims.userId, login.connectorId)) return back('login_required', 'Another user is logged in.');
  }
  if (!ctx.settings.oauth2.skipApprovalScreen) return back('consent_required', 'The user must approve this client.');
  const now = ctx.now();
  const authReq: AuthRequest = {
    ...parsed,
    id: newAuthRequestId(),
    connectorId: login.connectorId,
    identity: { claims: login.claims, ...(login.connectorData !== undefined ? { connectorData: login.connectorData } : {}), authTime: login.authTime },
    hmacKey: randomBytes(32).toString('base64url'),
    createdAt: now,
  };
  await ctx.storage.create('authRequest', authReq.id, authReq, { expiresAt: now + ctx.settings.expiry.authRequestsMs });
  await sendAuthorizationResponse(ctx, res, authReq.id);
}
