/**
 * What an app's OAuth 2.0 verify callback (passport-oauth2 and the packages built on it) hands
 * to `done()` for the broker: `{ accessToken, refreshToken, params, profile }`, where `params`
 * is the token endpoint's answer that passport-oauth2 gives a five-argument verify callback and
 * may be left out, or the bare profile. Read strictly: a field that is there but malformed is an
 * error, never skipped, so a mix-up in the app cannot turn into a login with less checked.
 */
import { isRecord } from './http.js';
import type { UpstreamTokenData } from './platform.js';

export interface HandedOverUser {
  /** The Passport profile, unchecked (each type checks its own package's shape). */
  profile: unknown;
  /** The upstream tokens, kept as the connector's `refresh` expects them; absent for a bare profile. */
  tokens?: UpstreamTokenData;
}

/** Whether `user` is the `{ accessToken, ..., profile }` wrapper rather than a bare profile. */
function isWrapper(user: Record<string, unknown>): boolean {
  return 'profile' in user || 'accessToken' in user;
}

function optionalString(user: Record<string, unknown>, key: string, what: string): string | undefined {
  const v = user[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new TypeError(`${what} user: "${key}" is not a string`);
  return v;
}

/**
 * `params.expires_in` in seconds: a number, or a string of digits, which is what passport-oauth2
 * hands over from a form-encoded token answer (node-oauth falls back to `querystring.parse`, and
 * GitHub answers form-encoded to a request that does not ask for JSON: `expires_in=28800`).
 * Anything else is an error.
 */
function expiresInSeconds(value: unknown, what: string): number {
  const seconds = typeof value === 'string' && /^[0-9]{1,10}$/.test(value) ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new TypeError(`${what} user: "params.expires_in" is not a positive number of seconds`);
  }
  return seconds;
}

/**
 * When the access token expires. From `params.expires_in` when the app handed the token
 * endpoint's answer over; otherwise the lifetime is unknown, and a token that comes with a
 * refresh token is recorded as expiring now, so the first refresh renews it instead of trusting
 * it until the upstream refuses it (Bitbucket's and GitLab's last two hours).
 */
function expiryOf(user: Record<string, unknown>, hasRefreshToken: boolean, what: string, now: number): string | undefined {
  const params = user.params;
  if (params !== undefined) {
    if (!isRecord(params)) throw new TypeError(`${what} user: "params" is not the token endpoint's answer (an object)`);
    if (params.expires_in !== undefined) return new Date(now + expiresInSeconds(params.expires_in, what) * 1000).toISOString();
  }
  return hasRefreshToken ? new Date(now).toISOString() : undefined;
}

/**
 * Splits what the verify callback handed over into the profile and the upstream tokens.
 * `what` names the package in errors (`passport-gitlab2`).
 */
export function readHandedOverUser(user: unknown, what: string, now = Date.now()): HandedOverUser {
  if (!isRecord(user)) throw new TypeError(`${what} user: expected { accessToken, refreshToken, profile } or a profile object`);
  if (!isWrapper(user)) return { profile: user };
  if (!('profile' in user)) {
    throw new TypeError(`${what} user: the access token came without the profile; hand over { accessToken, refreshToken, profile }`);
  }
  const accessToken = optionalString(user, 'accessToken', what);
  const refreshToken = optionalString(user, 'refreshToken', what);
  if (accessToken === undefined) {
    if (refreshToken !== undefined || user.params !== undefined) {
      throw new TypeError(`${what} user: tokens were handed over without the access token`);
    }
    return { profile: user.profile };
  }
  const tokens: UpstreamTokenData = { accessToken };
  if (refreshToken !== undefined) tokens.refreshToken = refreshToken;
  const expiry = expiryOf(user, refreshToken !== undefined, what, now);
  if (expiry !== undefined) tokens.expiry = expiry;
  return { profile: user.profile, tokens };
}

/** A Passport profile as the packages build it: the provider's id for the user, and `_json`. */
export interface PassportProfile {
  id: string;
  /** The package's copy of the upstream's user answer (`_json`), unchecked. */
  json: unknown;
  /** The whole profile, for the fields a type reads besides (passport-github2's `username`...). */
  fields: Record<string, unknown>;
}

/**
 * The profile a package handed over, checked to be `provider`'s (Passport's `provider` field)
 * and to carry an id. `what` names the package and the upstream in errors: `['passport-gitlab2',
 * 'GitLab']`.
 */
export function passportProfile(profile: unknown, provider: string, [pkg, upstream]: [string, string]): PassportProfile {
  if (!isRecord(profile) || profile.provider !== provider) {
    throw new TypeError(`${pkg} user: expected a ${upstream} profile (provider "${provider}")`);
  }
  if (typeof profile.id !== 'string' || profile.id === '') throw new TypeError(`${pkg} profile has no id`);
  return { id: profile.id, json: profile._json, fields: profile };
}

/**
 * `make(config)` once per connector config object, kept while the config lives: the strategy a
 * type uses to map handed-over users. A creation that fails (a promise that rejects: a key file
 * that could not be read) is not kept, so the next user tries again.
 */
export function onePerConfig<C extends object, T>(make: (config: C) => T): (config: C) => T {
  const made = new WeakMap<C, T>();
  return (config) => {
    if (made.has(config)) return made.get(config)!;
    const value = make(config);
    made.set(config, value);
    if (value instanceof Promise) value.catch(() => made.delete(config));
    return value;
  };
}
