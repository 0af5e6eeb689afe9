/** The authorization response: what `/auth` sends back to the client's redirect URI once the user has logged in (and approved). */
import { randomBytes } from 'node:crypto';
import type { Response } from 'express';
import type { AuthRequest } from './auth-request.js';
import { AUTH_CODE_TTL_MS, type AuthCode } from './auth-code.js';
import type { BrokerContext } from './context.js';
import { OAuthError } from './errors.js';
import { checkPeersTrust } from './grants/respond.js';
import type { ResponseMode } from './response-types.js';
import type { Grant } from './tokens/claims.js';
import { sendPage, showError } from './send-page.js';
import { errorPage } from './web/pages.js';
import { html } from './web/html.js';

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
