/**
 * `/token`: a short pipeline: form body only, one value per parameter, the client
 * authenticated, the grant type enabled, then the grant. Errors are OAuth JSON, never a stack.
 */
import type { Request, Response } from 'express';
import type { BrokerContext } from '../context.js';
import { OAuthError } from '../errors.js';
import { authorizationCodeGrant } from '../grants/authorization-code.js';
import { deviceCodeGrant } from '../grants/device-code.js';
import { passwordGrant } from '../grants/password.js';
import { refreshTokenGrant } from '../grants/refresh-token.js';
import { tokenExchangeGrant } from '../grants/token-exchange.js';
import type { GrantType } from '../config/settings.js';

function formBody(req: Request): Record<string, string> {
  if (!req.is('application/x-www-form-urlencoded')) {
    throw new OAuthError('invalid_request', 'The token request must be sent as application/x-www-form-urlencoded.');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((req.body ?? {}) as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new OAuthError('invalid_request', `The parameter "${k}" was sent more than once.`);
    out[k] = v;
  }
  return out;
}

const grants = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  password: passwordGrant,
  'urn:ietf:params:oauth:grant-type:token-exchange': tokenExchangeGrant,
  'urn:ietf:params:oauth:grant-type:device_code': deviceCodeGrant,
} as const;

export async function token(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  const body = formBody(req);
  const client = ctx.clients.authenticate(req, body);
  const type = body.grant_type;
  if (!type) throw new OAuthError('invalid_request', 'Required param: grant_type.');
  if (!Object.hasOwn(grants, type) || !ctx.settings.oauth2.grantTypes.includes(type as GrantType)) {
    throw new OAuthError('unsupported_grant_type', `Unsupported grant type "${type}".`);
  }
  const result = await grants[type as keyof typeof grants](ctx, client, body, req);
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json(result);
}
