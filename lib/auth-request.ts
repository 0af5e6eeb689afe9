/**
 * The authorization request (`/auth`): parsed and checked in order, as small named checks.
 * Until the client and its redirect URI are known good, errors are shown as a page (never a
 * redirect to an unverified URI); after that they go back to the client as
 * `error=...&state=...`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ClientSettings } from './config/settings.js';
import { peerTrusts, redirectUriAllowed } from './clients.js';
import type { BrokerContext } from './context.js';
import { OAuthError } from './errors.js';
import { verifyIdTokenHint } from './id-token-hint.js';
import type { Claims, JsonValue } from './identity.js';
import { CROSS_CLIENT_PREFIX } from './tokens/claims.js';
import { issuesFromAuthorizationEndpoint, nonceRequired, responseTypeValues, type ResponseMode, type ResponseTypeValue } from './response-types.js';

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

type Params = Record<string, string | undefined>;

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

export function checkPkce(ctx: BrokerContext, client: Pick<ClientSettings, 'public'>, params: Params, fail: (e: string, d: string) => never): AuthRequest['pkce'] {
  const challenge = params.code_challenge;
  // An empty code_challenge_method is no method: plain when a challenge is sent (as Dex).
  const method = params.code_challenge_method || (challenge ? 'plain' : undefined);
  if (!challenge) {
    if (method) fail('invalid_request', 'code_challenge_method was sent without code_challenge.');
    if (ctx.settings.oauth2.pkce.enforce) fail('invalid_request', 'PKCE is required: send code_challenge.');
    if (client.public) fail('invalid_request', 'PKCE is required for public clients: send code_challenge (S256).');
    return undefined;
  }
  if (method !== 'S256' && method !== 'plain') fail('invalid_request', 'code_challenge_method must be S256 or plain.');
  if (!ctx.settings.oauth2.pkce.methods.includes(method)) fail('invalid_request', `code_challenge_method ${method} is not supported.`);
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(challenge)) fail('invalid_request', 'code_challenge must be 43 to 128 characters of [A-Za-z0-9._~-].');
  return { challenge, method };
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

/**
 * The response type, parsed as Dex does (space-separated values, surrounding whitespace
 * tolerated), served only when `oauth2.responseTypes` enables it (`enabledResponseTypes`).
 */
export function checkResponseType(ctx: BrokerContext, params: Params, fail: (e: string, d: string) => never): ResponseTypeValue[] {
  const parsed = responseTypeValues(params.response_type);
  if ('unknown' in parsed) return fail('invalid_request', `Invalid response type "${parsed.unknown}".`);
  const types = parsed.values;
  if (types.length === 0) fail('invalid_request', 'No response_type provided.');
  const enabled = ctx.settings.oauth2.responseTypes;
  // As Dex: `token` alone, where tokens are served at all, is a malformed request rather than an unserved one.
  if (types.length === 1 && types[0] === 'token' && enabled.some((t) => t.split(' ').includes('token'))) {
    fail('invalid_request', "Response type 'token' must be provided with type 'id_token' and/or 'code'.");
  }
  if (!enabled.includes(types.join(' '))) fail('unsupported_response_type', `Unsupported response type "${types.join(' ')}".`);
  return types;
}

/** The response type when it is valid and served (no error), to choose where errors go. */
function servedResponseType(ctx: BrokerContext, params: Params): ResponseTypeValue[] | undefined {
  const parsed = responseTypeValues(params.response_type);
  return 'values' in parsed && ctx.settings.oauth2.responseTypes.includes(parsed.values.join(' ')) ? parsed.values : undefined;
}

/**
 * `response_mode`: the fragment by default once tokens come from `/auth`, else the query;
 * `form_post` for any. Query is refused for tokens (Multiple Response Type Encoding Practices:
 * a fragment-encoded response type is never to be query-encoded), with the error sent in the
 * fragment.
 */
export function checkResponseMode(params: Params, types: readonly ResponseTypeValue[] | undefined, fail: (mode: ResponseMode) => (e: string, d: string) => never): ResponseMode {
  const fallback: ResponseMode = types && issuesFromAuthorizationEndpoint(types) ? 'fragment' : 'query';
  const asked = params.response_mode;
  // An empty response_mode is none, as Dex reads the form (it ignores the parameter).
  if (asked === undefined || asked === '') return fallback;
  if (asked !== 'query' && asked !== 'fragment' && asked !== 'form_post') return fail(fallback)('invalid_request', `response_mode ${asked} is not supported.`);
  if (asked === 'query' && fallback === 'fragment') {
    return fail(fallback)('invalid_request', `response_mode query is not allowed with response_type "${types!.join(' ')}": tokens are never sent in the query.`);
  }
  return asked;
}

/**
 * Tokens from `/auth` go only where TLS or the machine itself keeps them from the network: an
 * `http` redirect URI must be loopback (`localhost`, `127.0.0.0/8`, `[::1]`), OIDC Core 3.2.2.1
 * and RFC 6749 3.1.2.1. A code alone may still go to `http` (a confidential client's code is
 * useless without its secret), as in Dex.
 */
export function checkTokenRedirectUri(redirectURI: string, types: readonly ResponseTypeValue[], fail: (e: string, d: string) => never): void {
  if (!issuesFromAuthorizationEndpoint(types)) return;
  let url: URL;
  try {
    url = new URL(redirectURI);
  } catch {
    return;
  }
  if (url.protocol !== 'http:') return;
  const host = url.hostname;
  if (host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host)) return;
  fail('invalid_request', `Response type "${types.join(' ')}" cannot be used with an http redirect URI that is not loopback: tokens would cross the network unencrypted.`);
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

/**
 * No downgrade (issue 8): once a client has redeemed a code with S256, `plain` is refused for it,
 * so an attacker who rewrites the challenge cannot fall back to the weaker method. The mark is
 * set only by a successful redemption (`notePkceS256`), never by an authorization request:
 * anyone can send one of those, and it would switch `plain` off for the client.
 */
export async function checkPkceDowngrade(ctx: BrokerContext, clientId: string, pkce: AuthRequest['pkce'], fail: (e: string, d: string) => never): Promise<void> {
  if (pkce?.method !== 'plain') return;
  if (await ctx.storage.find('client', pkceS256Id(clientId))) {
    fail('invalid_request', 'This client uses code_challenge_method S256; plain is not accepted.');
  }
}

const pkceS256Id = (clientId: string) => `pkce-s256:${createHash('sha256').update(clientId).digest('base64url')}`;

/** Clients this process already knows to be marked, so a code exchange reads nothing more. */
const markedClients = new WeakMap<object, Set<string>>();

/** After a code redeemed with S256: marks the client (once; see `checkPkceDowngrade`). */
export async function notePkceS256(ctx: BrokerContext, clientId: string): Promise<void> {
  let marked = markedClients.get(ctx.storage);
  if (!marked) markedClients.set(ctx.storage, (marked = new Set()));
  if (marked.has(clientId)) return;
  if (!(await ctx.storage.find('client', pkceS256Id(clientId)))) await ctx.storage.upsert('client', pkceS256Id(clientId), true);
  marked.add(clientId);
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
  // No code, nothing for PKCE to protect: the implicit flow ignores a challenge, as Dex does. But
  // oauth2.pkce.enforce refuses every request without one, as in Dex: it is how an operator
  // shuts off the flows that go without PKCE, the implicit flow among them.
  if (!responseTypes.includes('code') && ctx.settings.oauth2.pkce.enforce && !params.code_challenge) {
    fail('invalid_request', 'PKCE is required: send code_challenge.');
  }
  const pkce = responseTypes.includes('code') ? checkPkce(ctx, client, params, fail) : undefined;
  if (nonceRequired(responseTypes) && !params.nonce) fail('invalid_request', `Response type "${responseTypes.join(' ')}" requires a nonce value.`);
  if (responseTypes.join(' ') !== 'code' && redirectURI === 'urn:ietf:wg:oauth:2.0:oob') {
    fail('invalid_request', `Cannot use response type "${responseTypes.join(' ')}" with redirect_uri "urn:ietf:wg:oauth:2.0:oob".`);
  }
  checkTokenRedirectUri(redirectURI, responseTypes, fail);
  const prompt = checkPrompt(params, fail);
  let maxAge: number | undefined;
  if (params.max_age !== undefined) {
    if (!/^\d{1,10}$/.test(params.max_age)) fail('invalid_request', 'max_age must be a number of seconds.');
    maxAge = Number(params.max_age);
  }
  const connectorId = params.connector_id;
  if (connectorId !== undefined) {
    if (!ctx.connectors.has(connectorId)) fail('invalid_request', `Unknown connector "${connectorId}".`);
    if (client.allowedConnectors && !client.allowedConnectors.includes(connectorId)) {
      fail('invalid_request', `Client "${client.id}" may not use connector "${connectorId}".`);
    }
  }
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
