/**
 * How the OpenID Connect connectors report what `openid-client` and `jose` throw: the upstream
 * refusing the user's code, token or ID token is a refusal (a page, or `invalid_grant` on
 * refresh); the upstream failing, timing out or refusing our client is an `UpstreamError`.
 */
import * as oidc from 'openid-client';
import * as jose from 'jose';
import { AccessDeniedError, RefreshFailedError, UpstreamError, errorMessage } from '../../lib/errors.js';

/** Builds the error for a refusal: a 401 page at login, `RefreshFailedError` on refresh. */
export type VerifyFailure = (message: string) => Error;

export const loginRefusal: VerifyFailure = (m) => new AccessDeniedError(m, 401);
export const refreshRefusal: VerifyFailure = (m) => new RefreshFailedError(m);

/** openid-client's errors → ours: refusals name what was refused, outages are `UpstreamError`. */
export function translateError(err: unknown, what: string, refuse: VerifyFailure): Error {
  if (err instanceof oidc.ResponseBodyError) {
    const desc = err.error_description ? `: ${err.error_description}` : '';
    const msg = `The identity provider refused ${what} (${err.error}${desc}).`;
    // A refused client is our misconfiguration, not the user's: shown as an upstream failure.
    return err.status >= 500 || err.error === 'invalid_client' ? new UpstreamError(msg) : refuse(msg);
  }
  if (err instanceof oidc.AuthorizationResponseError) {
    return new AccessDeniedError(`The identity provider answered ${err.error}${err.error_description ? `: ${err.error_description}` : ''}.`);
  }
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    return refuse(`The identity provider refused ${what} (${err.status}).`);
  }
  if (err instanceof oidc.ClientError) {
    const cause = err.cause;
    // The cause is the fetch Response (undici's own class with a custom CA, so no instanceof).
    const status = typeof cause === 'object' && cause !== null ? (cause as { status?: unknown }).status : undefined;
    if (err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && typeof status === 'number' && status >= 500) {
      return new UpstreamError(`the identity provider answered ${status} for ${what}`);
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

/** A fetch that failed before any answer: refused connection, reset, timeout. */
function isNetworkFailure(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError' || (err instanceof TypeError && /fetch failed/.test(err.message)));
}

/** The JWKS could not be fetched or parsed: the upstream's fault, not the token's. */
export function jwksUnavailable(err: unknown): boolean {
  if (err instanceof jose.errors.JWKSTimeout || err instanceof jose.errors.JWKSInvalid) return true;
  if (err instanceof jose.errors.JOSEError) return /JSON Web Key Set/.test(err.message);
  return err instanceof TypeError || (err instanceof Error && err.name === 'TimeoutError');
}

export function describeJose(err: unknown): string {
  if (err instanceof jose.errors.JWTClaimValidationFailed) return `${err.claim} claim ${err.reason}`;
  if (err instanceof jose.errors.JWTExpired) return 'it has expired';
  if (err instanceof jose.errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof jose.errors.JWKSNoMatchingKey) return 'no matching key in the provider\'s JWKS';
  if (err instanceof jose.errors.JOSEError) return err.code;
  return 'malformed token';
}
