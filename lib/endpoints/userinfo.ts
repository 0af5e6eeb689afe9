/**
 * `/userinfo`: the identity claims of a valid access token, by GET or POST, with the token in a
 * Bearer header or (POST) the `access_token` form field. The token is verified with `jose`
 * against the broker's own keys.
 */
import type { Request, Response } from 'express';
import { jwtVerify, type JWTPayload } from 'jose';
import type { BrokerContext } from '../context.js';
import { StorageUnavailableError } from '../errors.js';

const KEEP_OUT = new Set(['iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'azp', 'nonce', 'at_hash', 'c_hash', 'scope', 'auth_time']);

function bearer(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header) {
    const m = /^bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(header);
    return m?.[1];
  }
  const body = req.body as Record<string, unknown> | undefined;
  if (req.method === 'POST' && req.is('application/x-www-form-urlencoded') && typeof body?.access_token === 'string') return body.access_token;
  return undefined;
}

function refuse(res: Response, error: 'invalid_request' | 'invalid_token', description: string): void {
  res
    .status(error === 'invalid_request' ? 400 : 401)
    .set('WWW-Authenticate', `Bearer error="${error}", error_description="${description}"`)
    .set('Cache-Control', 'no-store')
    .json({ error, error_description: description });
}

export async function verifyAccessToken(ctx: BrokerContext, token: string): Promise<JWTPayload | undefined> {
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const found = header.kid ? await ctx.keys.verificationKey(header.kid) : undefined;
        if (!found || found.alg !== header.alg) throw new Error('unknown key');
        return found.key;
      },
      { issuer: ctx.settings.issuer, algorithms: ['RS256', 'ES256', 'EdDSA'], currentDate: new Date(ctx.now()) },
    );
    return payload;
  } catch (err) {
    // The keys could not be read: the token is not known to be invalid (503, not 401).
    if (err instanceof StorageUnavailableError) throw err;
    return undefined;
  }
}

export async function userinfo(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  const token = bearer(req);
  if (!token) return refuse(res, 'invalid_request', 'No access token: send it as a Bearer authorization header.');
  const payload = await verifyAccessToken(ctx, token);
  if (!payload || typeof payload.scope !== 'string') return refuse(res, 'invalid_token', 'The access token is invalid or has expired.');
  const claims = Object.fromEntries(Object.entries(payload).filter(([k]) => !KEEP_OUT.has(k)));
  res.set('Cache-Control', 'no-store').json(claims);
}
