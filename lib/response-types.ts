/**
 * OAuth 2.0 / OIDC response types: `code` (the code flow), `id_token` and `id_token token` (the
 * implicit flow), `code id_token`, `code token` and `code id_token token` (the hybrid flow), and
 * where each sends its answer (OAuth 2.0 Multiple Response Type Encoding Practices), and the
 * checks of an authorization request that depend on them.
 */
import type { Params } from './auth-request.js';
import type { BrokerContext } from './context.js';

export type ResponseTypeValue = 'code' | 'id_token' | 'token';

/** Where the authorization response goes: the query (code only), the fragment, or a form post. */
export type ResponseMode = 'query' | 'fragment' | 'form_post';

const ORDER: readonly ResponseTypeValue[] = ['code', 'id_token', 'token'];

/** The values of a `response_type`, repeats dropped, in the order `code id_token token`. */
export function canonicalResponseType(values: readonly ResponseTypeValue[]): ResponseTypeValue[] {
  return ORDER.filter((v) => values.includes(v));
}

/** `response_type` split as Dex does (any whitespace, surrounding whitespace tolerated); undefined for an unknown value. */
export function responseTypeValues(raw: string | undefined): { values: ResponseTypeValue[] } | { unknown: string } {
  const words = (raw ?? '').split(/\s+/).filter((t) => t !== '');
  const bad = words.find((t) => !(ORDER as readonly string[]).includes(t));
  if (bad !== undefined) return { unknown: bad };
  return { values: canonicalResponseType(words as ResponseTypeValue[]) };
}

/**
 * The response types `/auth` serves, from `oauth2.responseTypes`: each value listed, plus every
 * combination of single values listed (Dex accepts `code id_token` when `code` and `id_token` are
 * listed), less `token` alone, which OIDC does not define and Dex refuses. Sorted, as Dex lists
 * them in discovery.
 */
export function enabledResponseTypes(configured: readonly string[]): string[] {
  const out = new Set<string>();
  const singles = ORDER.filter((v) => configured.includes(v));
  for (let mask = 1; mask < 1 << singles.length; mask++) {
    out.add(singles.filter((_, i) => mask & (1 << i)).join(' '));
  }
  for (const entry of configured) {
    const parsed = responseTypeValues(entry);
    if ('values' in parsed && parsed.values.length > 0) out.add(parsed.values.join(' '));
  }
  out.delete('token');
  return [...out].sort();
}

/** Tokens come from the authorization endpoint: the implicit or hybrid flow. */
export function issuesFromAuthorizationEndpoint(values: readonly ResponseTypeValue[]): boolean {
  return values.includes('id_token') || values.includes('token');
}

/** The grant a connector's `grantTypes` must allow for these response types (as Dex: `implicit` once tokens come from `/auth`). */
export function grantTypeOf(values: readonly ResponseTypeValue[]): 'implicit' | 'authorization_code' {
  return issuesFromAuthorizationEndpoint(values) ? 'implicit' : 'authorization_code';
}

/**
 * OIDC Core 3.2.2.1 and 3.3.2.11 (with its errata): a nonce is required whenever an ID token
 * comes from the authorization endpoint, and for the implicit flow (Dex requires it when no code
 * is asked for). `code token` alone may go without.
 */
export function nonceRequired(values: readonly ResponseTypeValue[]): boolean {
  return values.includes('id_token') || !values.includes('code');
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
export function servedResponseType(ctx: BrokerContext, params: Params): ResponseTypeValue[] | undefined {
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

/** A nonce where the response types require one (`nonceRequired`). */
export function checkNonce(params: Params, types: readonly ResponseTypeValue[], fail: (e: string, d: string) => never): void {
  if (nonceRequired(types) && !params.nonce) fail('invalid_request', `Response type "${types.join(' ')}" requires a nonce value.`);
}

/** The out-of-band redirect URI shows a code on a page: nothing else can go there. */
export function checkOutOfBand(redirectURI: string, types: readonly ResponseTypeValue[], fail: (e: string, d: string) => never): void {
  if (types.join(' ') !== 'code' && redirectURI === 'urn:ietf:wg:oauth:2.0:oob') {
    fail('invalid_request', `Cannot use response type "${types.join(' ')}" with redirect_uri "urn:ietf:wg:oauth:2.0:oob".`);
  }
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
