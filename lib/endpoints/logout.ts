/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), which Dex releases lack:
 * `/logout` forgets the browser's login session and sends the user back to a
 * `post_logout_redirect_uri` registered for the client (`postLogoutRedirectURIs`), or shows a
 * "logged out" page. `id_token_hint` may be expired but must carry the broker's signature.
 * Without a hint, or with one naming another user than the one logged in, the user is asked to
 * confirm (a form bound to the session), as the spec recommends, so that a link or form on
 * another site (with the attacker's own ID token) cannot log anyone out.
 */
import type { Request, Response } from 'express';
import { singleParams, PageError } from '../auth-request.js';
import type { ClientSettings } from '../config/settings.js';
import type { BrokerContext } from '../context.js';
import { sendPage, showError } from '../send-page.js';
import { clientOfIdToken, verifyIdTokenHint } from '../id-token-hint.js';
import { currentLogin, forgetLogin, sessionOf, type LoginSession } from '../login-session.js';
import { encodeSubject } from '../tokens/subject.js';
import { errorPage, logoutConfirmPage } from '../web/pages.js';
import { secretsEqual } from '../clients.js';
import { randomBytes } from 'node:crypto';

/** The session key of the logout confirmation's CSRF token. */
const CSRF_KEY = 'dexpress:logout-csrf';

/** The verified hint: the client it was issued to and its subject. */
async function readHint(ctx: BrokerContext, hint: string): Promise<{ clientId: string; sub: string | undefined }> {
  const claims = await verifyIdTokenHint(ctx, hint);
  const clientId = claims && clientOfIdToken(claims);
  if (!clientId) throw new PageError('Logout failed', 'The id_token_hint was not issued by this server.');
  return { clientId, sub: claims.sub };
}

/**
 * Whether the user must confirm: always without a hint; with one, when someone is logged in and
 * the hint names another user (as Dex: an attacker's own ID token on a link must not log the
 * victim out). With nobody logged in there is nothing to protect.
 */
function mustConfirm(login: LoginSession | undefined, hintSub: string | undefined, hinted: boolean): boolean {
  if (!hinted) return true;
  return login !== undefined && hintSub !== encodeSubject(login.claims.userId, login.connectorId);
}

export async function logout(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  let client: ClientSettings | undefined;
  let params;
  let hint: { clientId: string; sub: string | undefined } | undefined;
  try {
    params = singleParams(req.method === 'POST' ? { ...(req.query as object), ...(req.body as object) } : req.query);
    hint = params.id_token_hint ? await readHint(ctx, params.id_token_hint) : undefined;
    const fromHint = hint?.clientId;
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
  // Unless the hint vouches for the current login, the user confirms with a form bound to their
  // session (CSRF token); the form posts back without the hint.
  if (mustConfirm(login, hint?.sub, hint !== undefined)) {
    const session = sessionOf(req);
    const expected = typeof session?.[CSRF_KEY] === 'string' ? (session[CSRF_KEY] as string) : undefined;
    const confirmed = req.method === 'POST' && params.confirm === 'yes' && expected !== undefined && params.csrf !== undefined && secretsEqual(params.csrf, expected);
    if (!confirmed) {
      if (req.method === 'POST' && params.confirm === 'yes') return showError(ctx, res, 403, 'Logout failed', 'The logout form expired.', 'Reload the page and try again.');
      const csrf = randomBytes(18).toString('base64url');
      if (session) session[CSRF_KEY] = csrf;
      const fields: Record<string, string> = { confirm: 'yes', csrf };
      for (const k of ['post_logout_redirect_uri', 'state'] as const) if (params[k] !== undefined) fields[k] = params[k]!;
      if (client) fields.client_id = client.id;
      return sendPage(res, 200, logoutConfirmPage(ctx.page, { action: ctx.url('/logout'), fields, ...(client ? { clientName: client.name } : {}) }));
    }
    delete session![CSRF_KEY];
  }
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
