/**
 * `/token`: a short pipeline: form body only, one value per parameter, the client
 * authenticated, the grant type enabled, then the grant. Errors are OAuth JSON, never a stack.
 *
 * This is the hot path (bench/, `npm run bench`), so it reads its own form body when no body
 * parser ran before it (64 KiB at most, URLSearchParams), and writes its JSON answer directly
 * instead of through `res.json` (no ETag: the answer is `no-store` anyway).
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

/** Largest /token body read (the broker's other forms have the same limit). */
const BODY_LIMIT = 64 * 1024;

const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;

function once(entries: Iterable<[string, unknown]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (typeof v !== 'string' || Object.hasOwn(out, k)) throw new OAuthError('invalid_request', `The parameter "${k}" was sent more than once.`);
    out[k] = v;
  }
  return out;
}

function readBody(req: Request): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > BODY_LIMIT) return reject(new OAuthError('invalid_request', 'The request body is too large.', 413));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT) {
        req.removeAllListeners('data');
        req.resume();
        reject(new OAuthError('invalid_request', 'The request body is too large.', 413));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks, size).toString('utf8')));
    req.once('error', () => reject(new OAuthError('invalid_request', 'The request body could not be read.')));
  });
}

/** The form body, one value per parameter: parsed here, or taken from a body parser that ran first. */
async function formBody(req: Request): Promise<Record<string, string>> {
  if (!FORM_TYPE.test(req.headers['content-type'] ?? '')) {
    throw new OAuthError('invalid_request', 'The token request must be sent as application/x-www-form-urlencoded.');
  }
  if (req.body !== undefined) return once(Object.entries(req.body as Record<string, unknown>));
  const body = once(new URLSearchParams(await readBody(req)));
  // What a body parser would have left, for the middleware that counts grants by type.
  req.body = body;
  return body;
}

const grants = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  password: passwordGrant,
  'urn:ietf:params:oauth:grant-type:token-exchange': tokenExchangeGrant,
  'urn:ietf:params:oauth:grant-type:device_code': deviceCodeGrant,
} as const;

export async function token(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  const body = await formBody(req);
  const client = ctx.clients.authenticate(req, body);
  const type = body.grant_type;
  if (!type) throw new OAuthError('invalid_request', 'Required param: grant_type.');
  if (!Object.hasOwn(grants, type) || !ctx.settings.oauth2.grantTypes.includes(type as GrantType)) {
    throw new OAuthError('unsupported_grant_type', `Unsupported grant type "${type}".`);
  }
  const result = await grants[type as keyof typeof grants](ctx, client, body, req);
  const json = JSON.stringify(result);
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json), 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  res.end(json);
}
