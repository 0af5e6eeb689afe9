/**
 * `/approval`: the consent page. The request id in the URL is only usable with its HMAC (keyed
 * per auth request), so a guessed id cannot be approved, and only in the browser that started
 * the login, so a copied approval URL (history, logs, a shared screen) cannot either.
 */
import type { Request, Response } from 'express';
import type { AuthRequest } from '../auth-request.js';
import { secretsEqual } from '../clients.js';
import type { BrokerContext } from '../context.js';
import { approvalHmac } from '../finish-login.js';
import { redirectToClient, sendAuthorizationResponse } from '../authorization-response.js';
import { sendPage, showError, showStartedElsewhere } from '../send-page.js';
import { isBoundToBrowser } from '../login-session.js';
import { approvalPage } from '../web/pages.js';

async function checked(ctx: BrokerContext, req: Request, source: Record<string, unknown>, res: Response): Promise<AuthRequest | undefined> {
  const id = typeof source.req === 'string' ? source.req : '';
  const mac = typeof source.hmac === 'string' ? source.hmac : '';
  const rec = id ? await ctx.storage.find<AuthRequest>('authRequest', id) : undefined;
  if (!rec || !rec.value.identity || !secretsEqual(mac, approvalHmac(rec.value))) {
    showError(ctx, res, 400, 'Login expired', 'This approval is unknown or has expired.', 'Go back to the application and log in again.');
    return undefined;
  }
  if (!isBoundToBrowser(req, rec.value)) {
    showStartedElsewhere(ctx, res, 'approved');
    return undefined;
  }
  return rec.value;
}

export async function approvalForm(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  const authReq = await checked(ctx, req, req.query as Record<string, unknown>, res);
  if (!authReq) return;
  const client = ctx.clients.get(authReq.clientId);
  sendPage(
    res,
    200,
    approvalPage(ctx.page, {
      clientName: client?.name ?? authReq.clientId,
      scopes: authReq.scopes,
      action: ctx.url('/approval'),
      req: authReq.id,
      hmac: approvalHmac(authReq),
      // RFC 8628 section 5.4: tell the user a device is asking, against remote phishing.
      device: authReq.redirectURI === ctx.url('/device/callback'),
    }),
  );
}

export async function approvalDecision(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const authReq = await checked(ctx, req, body, res);
  if (!authReq) return;
  if (body.approval !== 'approve') {
    if (await ctx.storage.consume('authRequest', authReq.id)) {
      redirectToClient(ctx, res, authReq, { error: 'access_denied', error_description: 'The user refused to grant access.' });
    } else {
      showError(ctx, res, 400, 'Login expired', 'This login was already completed.');
    }
    return;
  }
  await sendAuthorizationResponse(ctx, res, authReq.id);
}
