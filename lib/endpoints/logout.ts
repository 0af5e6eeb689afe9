/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), which Dex releases lack:
 * `/logout` forgets the browser's login session and sends the user back to a
 * `post_logout_redirect_uri` registered for the client (`postLogoutRedirectURIs`), or shows a
 * "logged out" page. `id_token_hint` may be expired but must carry the broker's signature.
 */
import type { Request, Response } from 'express';
import { singleParams, PageError } from '../auth-request.js';
import type { ClientSettings } from '../config/settings.js';
import type { BrokerContext } from '../context.js';
import { sendPage, showError } from '../flow.js';
import { clientOfIdToken, verifyIdTokenHint } from '../id-token-hint.js';
import { currentLogin, forgetLogin } from '../login-session.js';
import { errorPage } from '../web/pages.js';

async function hintedClientId(ctx: BrokerContext, hint: string): Promise<string> {
  const claims = await verifyIdTokenHint(ctx, hint);
  const clientId = claims && clientOfIdToken(claims);
  if (!clientId) throw new PageError('Logout failed', 'The id_token_hint was not issued by this server.');
  return clientId;
}

export async function logout(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  let client: ClientSettings | undefined;
  let params;
  try {
    params = singleParams(req.method === 'POST' ? { ...(req.query as object), ...(req.body as object) } : req.query);
    const fromHint = params.id_token_hint ? await hintedClientId(ctx, params.id_token_hint) : undefined;
    if (params.client_id && fromHint && params.client_id !== fromHint) throw new PageError('Logout failed', 'client_id does not match the id_token_hint.');
    const clientId = params.client_id ?? fromHint;
    client = clientId ? ctx.clients.get(clientId) : undefined;
    if (clientId && !client) throw new PageError('Logout failed', `There is no client "${clientId}".`);
    const target = params.post_logout_redirect_uri;
    if (target !== undefined && (!client || !client.postLogoutRedirectURIs.includes(target))) {
      throw new PageError('Logout failed', 'The post_logout_redirect_uri is not registered for this client.');
    }
  } catch (err) {
    if (err instanceof PageError) return showError(ctx, res, err.status, err.title, err.message);
    throw err;
  }
  const login = currentLogin(req);
  forgetLogin(req);
  if (login) ctx.logger.info({ connector: login.connectorId, client: client?.id }, 'logged out');
  if (params.post_logout_redirect_uri) {
    const url = new URL(params.post_logout_redirect_uri);
    if (params.state !== undefined) url.searchParams.set('state', params.state);
    res.redirect(303, url.toString());
    return;
  }
  sendPage(res, 200, errorPage(ctx.page, { title: 'Logged out', message: 'You have been logged out.', hint: client ? `You can close this window or return to ${client.name}.` : 'You can close this window.' }));
}
