/**
 * The authorization request (`/auth`): parsed and checked in order, as small named checks.
 * Until the client and its redirect URI are known good, errors are shown as a page (never a
 * redirect to an unverified URI); after that they go back to the client as
 * `error=...&state=...`.
 */
import { randomBytes } from 'node:crypto';
import type { ClientSettings } from './config/settings.js';
import { peerTrusts, redirectUriAllowed } from './clients.js';
import type { BrokerContext } from './context.js';
import { OAuthError } from './errors.js';
import { verifyIdTokenHint } from './id-token-hint.js';
import type { Claims, JsonValue } from './identity.js';
import { CROSS_CLIENT_PREFIX } from './tokens/claims.js';
import { checkNonce, checkOutOfBand, checkResponseMode, checkResponseType, checkTokenRedirectUri, servedResponseType, type ResponseMode, type ResponseTypeValue } from './response-types.js';
import { pkceFor } from './pkce.js';

export interface AuthRequest {
  id: string;
  clientId: string;
  redirectURI: string;
  scopes: string[];
  state?: string;
  nonce?: string;
  /** The `response_type` values, as `code id_token token` orders them; absent means `code`. */
  responseTypes?: ResponseTypeValue[];
  responseMode?: ResponseMode;
  pkce?: { challenge: string; method: 'S256' | 'plain' };
  /** OIDC `prompt` values (`none`, `login`, `consent`, `select_account`). */
  prompt?: string[];
  /** OIDC `max_age`, seconds. */
  maxAge?: number;
  /** OIDC `id_token_hint`: the user the client expects (signed by the broker; its user is checked with `prompt=none`). */
  idTokenHint?: string;
  /** Connectors this request may use (`connector_id`, or the client's allowed ones). */
  connectorId?: string;
  /** What the connector keeps between redirect and callback. */
  loginState?: JsonValue;
  /** True once the upstream callback has been taken (a callback is accepted once). */
  callbackTaken?: boolean;
  /** Set when the user has logged in. */
  identity?: { claims: Claims; connectorData?: JsonValue; authTime: number };
  /** Key of the approval page's HMAC. */
  hmacKey: string;
  /** The hash binding it to the browser that started its connector login (`browserBinding`). */
  browser?: string;
  createdAt: number;
}

/** An error to show as a page, because redirecting is not (yet) safe. */
export class PageError extends Error {
  constructor(
    readonly title: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** An error to send back to the client's (verified) redirect URI. */
export class RedirectError extends OAuthError {
  constructor(
    error: string,
    description: string,
    readonly redirectURI: string,
    readonly state: string | undefined,
    readonly responseMode: ResponseMode = 'query',
  ) {
    super(error, description);
  }
}

const KNOWN_SCOPES = new Set(['openid', 'email', 'profile', 'groups', 'offline_access', 'federated:id']);

export type Params = Record<string, string | undefined>;

/** Flattens query or form parameters; a repeated parameter is an error (RFC 6749 section 3.1). */
export function singleParams(source: unknown): Params {
  const out: Params = {};
  if (typeof source !== 'object' || source === null) return out;
  for (const [k, v] of Object.entries(source)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v)) throw new PageError('Bad request', `The parameter "${k}" was sent more than once.`);
  }
  return out;
}

export function checkClient(ctx: BrokerContext, params: Params): ClientSettings {
  const id = params.client_id;
  if (!id) throw new PageError('Bad request', 'The request has no client_id.');
  const client = ctx.clients.get(id);
  if (!client) throw new PageError('Unknown client', `There is no client "${id}". Check the client's configuration.`, 400);
  return client;
}

export function checkRedirectUri(client: ClientSettings, params: Params): string {
  const uri = params.redirect_uri;
  if (!uri) throw new PageError('Bad request', 'The request has no redirect_uri.');
  if (!redirectUriAllowed(client, uri)) {
    throw new PageError('Unregistered redirect URI', `The redirect URI "${uri}" is not registered for client "${client.id}".`);
  }
  return uri;
}

export function checkScopes(ctx: BrokerContext, client: ClientSettings, params: Params, fail: (e: string, d: string) => never): string[] {
  const scopes = (params.scope ?? '').split(' ').filter((s) => s !== '');
  if (!scopes.includes('openid')) fail('invalid_scope', 'Missing required scope(s) ["openid"].');
  const unknown = scopes.filter((s) => !KNOWN_SCOPES.has(s) && !s.startsWith(CROSS_CLIENT_PREFIX));
  if (unknown.length > 0) fail('invalid_scope', `Unrecognized scope(s) ${JSON.stringify(unknown)}`);
  for (const s of scopes.filter((x) => x.startsWith(CROSS_CLIENT_PREFIX))) {
    if (!peerTrusts(ctx.clients, s.slice(CROSS_CLIENT_PREFIX.length), client.id)) fail('invalid_scope', `Client can't request scope(s) ["${s}"].`);
  }
  return [...new Set(scopes)];
}

/**
 * OIDC Core section 6: request objects (`request`, `request_uri`) and dynamic registration
 * (`registration`) are not supported, and the client is told so rather than having them ignored.
 */
export function checkUnsupportedParams(params: Params, fail: (e: string, d: string) => never): void {
  if (params.request) fail('request_not_supported', 'The request parameter (request objects) is not supported.');
  if (params.request_uri) fail('request_uri_not_supported', 'The request_uri parameter (request objects by reference) is not supported.');
  if (params.registration) fail('registration_not_supported', 'The registration parameter is not supported.');
}

const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);

/** OIDC `prompt`, as Dex's ParsePrompt: known values only, repeats dropped, `none` alone. */
export function checkPrompt(params: Params, fail: (e: string, d: string) => never): string[] {
  const prompt = [...new Set((params.prompt ?? '').split(/\s+/).filter((p) => p !== ''))];
  const unknown = prompt.filter((p) => !PROMPTS.has(p));
  if (unknown.length > 0) fail('invalid_request', `Invalid prompt value(s) ${JSON.stringify(unknown)}.`);
  if (prompt.includes('none') && prompt.length > 1) fail('invalid_request', 'prompt=none cannot be combined with other values.');
  return prompt;
}

/**
 * An `id_token_hint` must be an ID token this broker signed (it may be expired), whatever the
 * prompt, as in Dex; which user it names is checked where a login session is used.
 */
export async function checkIdTokenHint(ctx: BrokerContext, hint: string | undefined, fail: (e: string, d: string) => never): Promise<void> {
  if (hint && !(await verifyIdTokenHint(ctx, hint))) fail('invalid_request', 'Invalid id_token_hint: it was not issued by this server.');
}

/** OIDC `max_age`: a whole number of seconds. */
function checkMaxAge(params: Params, fail: (e: string, d: string) => never): number | undefined {
  if (params.max_age === undefined) return undefined;
  if (!/^\d{1,10}$/.test(params.max_age)) fail('invalid_request', 'max_age must be a number of seconds.');
  return Number(params.max_age);
}

/** `connector_id`: a connector there is, and one the client may use. */
function checkConnectorId(ctx: BrokerContext, client: ClientSettings, params: Params, fail: (e: string, d: string) => never): string | undefined {
  const connectorId = params.connector_id;
  if (connectorId !== undefined) {
    if (!ctx.connectors.has(connectorId)) fail('invalid_request', `Unknown connector "${connectorId}".`);
    if (client.allowedConnectors && !client.allowedConnectors.includes(connectorId)) {
      fail('invalid_request', `Client "${client.id}" may not use connector "${connectorId}".`);
    }
  }
  return connectorId;
}

/** Parses and checks an authorization request; throws PageError or RedirectError. */
export function parseAuthRequest(ctx: BrokerContext, params: Params): Omit<AuthRequest, 'id' | 'hmacKey' | 'createdAt'> {
  const client = checkClient(ctx, params);
  const redirectURI = checkRedirectUri(client, params);
  const state = params.state;
  const failIn =
    (mode: ResponseMode) =>
    (error: string, description: string): never => {
      throw new RedirectError(error, description, redirectURI, state, mode);
    };
  const responseMode = checkResponseMode(params, servedResponseType(ctx, params), failIn);
  const fail = failIn(responseMode);
  checkUnsupportedParams(params, fail);
  const responseTypes = checkResponseType(ctx, params, fail);
  const scopes = checkScopes(ctx, client, params, fail);
  const pkce = pkceFor(ctx, client, params, responseTypes, fail);
  checkNonce(params, responseTypes, fail);
  checkOutOfBand(redirectURI, responseTypes, fail);
  checkTokenRedirectUri(redirectURI, responseTypes, fail);
  const prompt = checkPrompt(params, fail);
  const maxAge = checkMaxAge(params, fail);
  const connectorId = checkConnectorId(ctx, client, params, fail);
  return {
    clientId: client.id,
    redirectURI,
    scopes,
    ...(state !== undefined ? { state } : {}),
    ...(params.nonce ? { nonce: params.nonce } : {}),
    ...(responseTypes.join(' ') !== 'code' ? { responseTypes } : {}),
    responseMode,
    ...(pkce ? { pkce } : {}),
    ...(connectorId ? { connectorId } : {}),
    ...(prompt.length > 0 ? { prompt } : {}),
    ...(maxAge !== undefined ? { maxAge } : {}),
    ...(params.id_token_hint ? { idTokenHint: params.id_token_hint } : {}),
  };
}

export function newAuthRequestId(): string {
  return randomBytes(18).toString('base64url');
}

/** The connectors a client may pick from, in config order. */
export function connectorsFor(ctx: BrokerContext, client: ClientSettings): string[] {
  const all = [...ctx.connectors.keys()];
  return client.allowedConnectors ? all.filter((id) => client.allowedConnectors!.includes(id)) : all;
}

/** The `/auth` query that produced this request, to start it over with another connector. */
export function authQueryOf(authReq: AuthRequest): string {
  const params: Record<string, string> = {
    client_id: authReq.clientId,
    redirect_uri: authReq.redirectURI,
    response_type: (authReq.responseTypes ?? ['code']).join(' '),
    scope: authReq.scopes.join(' '),
    ...(authReq.state !== undefined ? { state: authReq.state } : {}),
    ...(authReq.nonce ? { nonce: authReq.nonce } : {}),
    ...(authReq.pkce ? { code_challenge: authReq.pkce.challenge, code_challenge_method: authReq.pkce.method } : {}),
    ...(authReq.responseMode && authReq.responseMode !== 'query' ? { response_mode: authReq.responseMode } : {}),
    ...(authReq.prompt ? { prompt: authReq.prompt.join(' ') } : {}),
    ...(authReq.maxAge !== undefined ? { max_age: String(authReq.maxAge) } : {}),
  };
  return new URLSearchParams(params).toString();
}
