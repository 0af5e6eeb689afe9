/**
 * How the OpenID Connect connectors report what `openid-client` and `jose` throw: the upstream
 * refusing the user's code, token or ID token is a refusal (a page, or `invalid_grant` on
 * refresh); the upstream failing, timing out or refusing our client is an `UpstreamError`.
 */
import * as oidc from 'openid-client';
import * as jose from 'jose';
import { AccessDeniedError, RefreshFailedError, UpstreamError, errorMessage } from '../../lib/errors.js';
import { isGrantRefusal } from '../shared/token-errors.js';

/** Builds the error for a refusal: a 401 page at login, `RefreshFailedError` on refresh. */
export type VerifyFailure = (message: string) => Error;

export const loginRefusal: VerifyFailure = (m) => new AccessDeniedError(m, 401);
export const refreshRefusal: VerifyFailure = (m) => new RefreshFailedError(m);

/** Which endpoint answered: they refuse the user differently. */
export type Endpoint = 'token' | 'userinfo';

/**
 * openid-client's errors → ours: refusals name what was refused, outages are `UpstreamError`.
 * At the token endpoint only a refusal of the grant itself is a refusal (see `isGrantRefusal`);
 * at userinfo, a 401 refuses the access token, and anything else is the upstream's failure.
 */
export function translateError(err: unknown, what: string, refuse: VerifyFailure, endpoint: Endpoint = 'token'): Error {
  const refused = (status: number, error: string | undefined) => (endpoint === 'userinfo' ? status === 401 : isGrantRefusal(status, error));
  if (err instanceof oidc.ResponseBodyError) {
    const said = `${err.error}${err.error_description ? `: ${err.error_description}` : ''}`;
    // A refused client (an expired secret) or a rate limit is not the user's doing.
    return refused(err.status, err.error)
      ? refuse(`The identity provider refused ${what} (${said}).`)
      : new UpstreamError(`the identity provider answered ${err.status} for ${what} (${said})`, { cause: err });
  }
  if (err instanceof oidc.AuthorizationResponseError) {
    return new AccessDeniedError(`The identity provider answered ${err.error}${err.error_description ? `: ${err.error_description}` : ''}.`);
  }
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    // A Bearer challenge with error="invalid_token" refuses the user's token; a Basic challenge
    // without an OAuth error at the token endpoint refuses our client.
    const error = challengeError(err);
    return refused(err.status, error)
      ? refuse(`The identity provider refused ${what} (${error ?? err.status}).`)
      : new UpstreamError(`the identity provider answered ${err.status} with a challenge for ${what} (${error ?? 'no OAuth error'})`, { cause: err });
  }
  if (err instanceof oidc.ClientError) {
    const cause = err.cause;
    // The cause is the fetch Response (undici's own class with a custom CA, so no instanceof).
    const status = typeof cause === 'object' && cause !== null ? (cause as { status?: unknown }).status : undefined;
    // An answer that is not an OAuth error body (a proxy's 404 page, a 429 or 502 from a
    // gateway) is the upstream failing, not a refusal.
    if (err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && typeof status === 'number' && (status < 200 || status > 299)) {
      return refused(status, undefined)
        ? refuse(`The identity provider refused ${what} (${status}).`)
        : new UpstreamError(`the identity provider answered ${status} for ${what}`, { cause: err });
    }
    if (err.code === 'OAUTH_TIMEOUT' || err.code === 'OAUTH_ABORT' || err.code === 'OAUTH_RESPONSE_IS_NOT_JSON' || isNetworkFailure(cause)) {
      return new UpstreamError(`the identity provider failed on ${what} (${errorMessage(err)})`, { cause: err });
    }
    const detail = cause instanceof Error ? cause.message : errorMessage(err);
    return refuse(`The identity provider's answer for ${what} failed verification: ${detail}.`);
  }
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError' || err instanceof TypeError)) {
    return new UpstreamError(`the identity provider could not be reached for ${what}`, { cause: err });
  }
  return err instanceof Error ? err : new UpstreamError(String(err));
}

/** The `error` parameter of the first challenge that has one. */
function challengeError(err: oidc.WWWAuthenticateChallengeError): string | undefined {
  for (const challenge of err.cause) {
    const error = challenge.parameters.error;
    if (typeof error === 'string' && error !== '') return error;
  }
  return undefined;
}

/** A fetch that failed before any answer: refused connection, reset, timeout. */
function isNetworkFailure(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError' || (err instanceof TypeError && /fetch failed/.test(err.message)));
}

/**
 * jose's errors about the token against a JWKS that was fetched: a `kid` or `alg` the provider does
 * not publish (an HS256 token, a forged kid), or several candidate keys none of which verifies.
 * Their messages also say "JSON Web Key Set", so they are told apart by code, first.
 */
const TOKEN_KEY_FAULTS: ReadonlySet<string> = new Set([
  jose.errors.JWKSNoMatchingKey.code,
  jose.errors.JWKSMultipleMatchingKeys.code,
  jose.errors.JOSENotSupported.code,
]);

/** The JWKS could not be fetched or parsed: the upstream's fault, not the token's. */
export function jwksUnavailable(err: unknown): boolean {
  if (err instanceof jose.errors.JOSEError && TOKEN_KEY_FAULTS.has(err.code)) return false;
  if (err instanceof jose.errors.JWKSTimeout || err instanceof jose.errors.JWKSInvalid) return true;
  if (err instanceof jose.errors.JOSEError) return /JSON Web Key Set/.test(err.message);
  return err instanceof TypeError || (err instanceof Error && err.name === 'TimeoutError');
}

export function describeJose(err: unknown): string {
  if (err instanceof jose.errors.JWTClaimValidationFailed) return `${err.claim} claim ${err.reason}`;
  if (err instanceof jose.errors.JWTExpired) return 'it has expired';
  if (err instanceof jose.errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof jose.errors.JWKSNoMatchingKey) return 'no matching key in the provider\'s JWKS';
  if (err instanceof jose.errors.JOSENotSupported) return 'signed with an algorithm the provider\'s keys do not support';
  if (err instanceof jose.errors.JOSEError) return err.code;
  return 'malformed token';
}
