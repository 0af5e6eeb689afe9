/** The end of a login: the identity recorded on the auth request, then the approval page or the client. */
import { createHmac } from 'node:crypto';
import type { Request, Response } from 'express';
import type { AuthRequest } from './auth-request.js';
import { sendAuthorizationResponse } from './authorization-response.js';
import type { BrokerContext } from './context.js';
import type { Identity } from './identity.js';
import { rememberLogin, saveSession } from './login-session.js';
import { showError } from './send-page.js';

export function approvalHmac(authReq: Pick<AuthRequest, 'id' | 'hmacKey'>): string {
  return createHmac('sha256', Buffer.from(authReq.hmacKey, 'base64url')).update(authReq.id).digest('base64url');
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
