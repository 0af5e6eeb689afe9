/**
 * OAuth 2.0 / OIDC response types: `code` (the code flow), `id_token` and `id_token token` (the
 * implicit flow), `code id_token`, `code token` and `code id_token token` (the hybrid flow), and
 * where each sends its answer (OAuth 2.0 Multiple Response Type Encoding Practices).
 */

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
