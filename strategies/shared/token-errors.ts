/**
 * Which answers of an upstream token endpoint refuse the user's code or refresh token, shared by
 * the OAuth 2.0 platforms and the OpenID Connect connectors. Only a refusal ends a login or a
 * refresh token (`invalid_grant` to the client); everything else is the upstream failing or our
 * client being misconfigured (an expired client secret is the operator's problem, not the
 * user's), so the broker answers 503 and the refresh token stays valid.
 */

/**
 * OAuth `error` codes that refuse our client, not the user's grant. GitHub says
 * `incorrect_client_credentials` for `invalid_client`, and `redirect_uri_mismatch` for a
 * callback URL registered differently upstream.
 */
const CLIENT_ERRORS: ReadonlySet<string> = new Set(['invalid_client', 'unauthorized_client', 'incorrect_client_credentials', 'redirect_uri_mismatch']);

/**
 * OAuth `error` codes that say the server cannot answer now (RFC 6749 4.1.2.1), whatever the
 * status: Entra ID lists `temporarily_unavailable` ("too busy, retry the request") among its
 * token endpoint errors, and servers send these with a 400 as with any OAuth error body. They
 * say nothing against the user's code or refresh token.
 */
const SERVER_ERRORS: ReadonlySet<string> = new Set(['temporarily_unavailable', 'server_error']);

/**
 * True when a token endpoint answer refuses the grant itself: an OAuth error body saying
 * `invalid_grant`, or a 400/401 with another OAuth `error` that does not concern our client.
 * 408, 429, 5xx, a refused client, `temporarily_unavailable` or `server_error`, and a 4xx
 * without an OAuth `error` (a proxy's 404 page, a rate limiter's text) are not refusals. `error`
 * is the body's `error` field, undefined when the answer was not an OAuth error body.
 */
export function isGrantRefusal(status: number, error: string | undefined): boolean {
  if (status === 408 || status === 429 || status >= 500) return false;
  if (error === undefined || error === '' || CLIENT_ERRORS.has(error) || SERVER_ERRORS.has(error)) return false;
  return error === 'invalid_grant' || status === 400 || status === 401;
}
