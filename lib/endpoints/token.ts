/**
 * `/token`: a short pipeline: form body only, one value per parameter, the client
 * authenticated, the grant type enabled, then the grant. Errors are OAuth JSON, never a stack.
 *
 * This is the hot path (bench/, `npm run bench`), so `tokenEndpoint` works on plain `node:http`
 * request and response objects: the Express router mounts it as a route, and `serve` hands a
 * `POST <issuer path>/token` to it directly, without going through Express at all. It reads its
 * own form body when no body parser ran before it (64 KiB at most, URLSearchParams), and writes
 * its answer itself, and sets the request id, security headers and CORS headers and counts its
 * metrics itself, with the helpers the router uses (lib/http-common.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BrokerContext } from '../context.js';
import { HostBodyError, OAuthError } from '../errors.js';
import { FORM_TYPE, hostParsedForm } from '../host-body.js';
import { corsPolicy, oauthErrorFor, securityHeaders, startResponse, writeJson, writeOAuthError } from '../http-common.js';
import { authorizationCodeGrant } from '../grants/authorization-code.js';
import { deviceCodeGrant } from '../grants/device-code.js';
import { passwordGrant } from '../grants/password.js';
import { refreshTokenGrant } from '../grants/refresh-token.js';
import { tokenExchangeGrant } from '../grants/token-exchange.js';
import type { GrantType } from '../config/settings.js';
import { shuttingDown } from '../request-gate.js';

/** Largest /token body read (the broker's other forms have the same limit). */
const BODY_LIMIT = 64 * 1024;

function once(entries: Iterable<[string, unknown]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (Array.isArray(v) || Object.hasOwn(out, k)) throw new OAuthError('invalid_request', `The parameter "${k}" was sent more than once.`);
    // A host's extended body parser (qs) reads `k[x]=1` as a nested object.
    if (typeof v !== 'string') throw new OAuthError('invalid_request', `The parameter "${k}" is not a plain form field (was it sent as "${k}[...]"?).`);
    out[k] = v;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
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

/**
 * The form body, one value per parameter: read here while the stream is unread (an Express 4
 * body parser of another type sets `req.body = {}` without reading it), else taken from the body
 * parser of the host app that read it (lib/host-body.ts).
 */
async function formBody(req: IncomingMessage & { body?: unknown }): Promise<Record<string, string>> {
  if (!FORM_TYPE.test(req.headers['content-type'] ?? '')) {
    throw new OAuthError('invalid_request', 'The token request must be sent as application/x-www-form-urlencoded.');
  }
  if (!req.readableEnded) return once(new URLSearchParams(await readBody(req)));
  const parsed = hostParsedForm(req.body);
  if (!parsed) throw new HostBodyError('/token');
  return once(parsed);
}

const grants = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  password: passwordGrant,
  'urn:ietf:params:oauth:grant-type:token-exchange': tokenExchangeGrant,
  'urn:ietf:params:oauth:grant-type:device_code': deviceCodeGrant,
} as const;

/** Runs the grant; returns the grant type it answered for. */
async function token(ctx: BrokerContext, req: IncomingMessage, res: ServerResponse): Promise<string> {
  const body = await formBody(req);
  const client = ctx.clients.authenticate(req, body);
  const type = body.grant_type;
  if (!type) throw new OAuthError('invalid_request', 'Required param: grant_type.');
  if (!Object.hasOwn(grants, type) || !ctx.settings.oauth2.grantTypes.includes(type as GrantType)) {
    throw new OAuthError('unsupported_grant_type', `Unsupported grant type "${type}".`);
  }
  writeJson(res, 200, await grants[type as keyof typeof grants](ctx, client, body, req));
  return type;
}

/** `POST /token` as a `node:http` listener (an Express route too: it never calls `next`). */
export function tokenEndpoint(ctx: BrokerContext): (req: IncomingMessage, res: ServerResponse) => void {
  const security = securityHeaders(ctx.settings);
  const corsHeaders = corsPolicy(ctx.settings.web);
  const { metrics } = ctx;
  const { tokens } = metrics;
  return (req, res) => {
    const started = performance.now();
    const requestId = startResponse(req, res, security);
    const cors = corsHeaders(req.headers.origin);
    if (cors) for (const name in cors) res.setHeader(name, cors[name]!);
    if (!ctx.requests.enter(res)) {
      writeOAuthError(req, res, shuttingDown());
      return;
    }
    const done = () => metrics.observeRequest('/token', 'POST', res.statusCode, (performance.now() - started) / 1000, Number(res.getHeader('content-length')) || 0);
    token(ctx, req, res).then(
      (grant) => {
        tokens.inc({ grant });
        done();
      },
      (err: unknown) => {
        if (res.headersSent) {
          ctx.logger.error({ err, requestId }, 'error after the token response started');
          res.end();
        } else {
          writeOAuthError(req, res, oauthErrorFor(err, ctx.logger, { path: '/token', requestId }));
        }
        done();
      },
    );
  };
}
