/**
 * An OpenID Connect relying party towards one upstream provider, built on `openid-client` v6 and
 * `jose`: discovery (with Dex's `issuerAlias` and `providerDiscoveryOverrides`), the
 * authorization URL with PKCE and nonce, the code and refresh grants, userinfo, and ID token
 * verification against the upstream's JWKS (signature, `iss`, `aud`, `exp`). The generic `oidc`
 * connector and the Google and LinkedIn connectors share it.
 *
 * `openid-client` checks the authorization response (`state`, `iss`), sends the PKCE verifier,
 * and checks the ID token's claims and `nonce`; it does not check the signature of an ID token
 * that came from the token endpoint, so every ID token is also verified here with `jose`.
 */
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import * as jose from 'jose';
import { UpstreamError } from '../../lib/errors.js';
import { UPSTREAM_TIMEOUT_MS, callUpstream, expiresAtOf, isRecord, redactUrl } from '../shared/http.js';
import { SingleFlight } from '../shared/platform.js';
import { describeJose, jwksUnavailable, loginRefusal, refreshRefusal, translateError, type VerifyFailure } from './upstream-errors.js';

export interface DiscoveryOverrides {
  authURL?: string | undefined;
  tokenURL?: string | undefined;
  jwksURL?: string | undefined;
  userInfoURL?: string | undefined;
}

export interface UpstreamClientOptions {
  /** Where the discovery document lives (`<issuer>/.well-known/openid-configuration`). */
  issuer: string;
  /** The `issuer` the discovery document and ID tokens state, when it differs from `issuer`. */
  issuerAlias?: string | undefined;
  clientID: string;
  clientSecret: string;
  /**
   * `post` sends the secret in the form (Dex's `basicAuthUnsupported`); default `basic`. `auto`
   * is what Dex does when `basicAuthUnsupported` is not set (golang.org/x/oauth2's
   * AuthStyleAutoDetect): HTTP Basic first and, if the token endpoint refuses the client, the
   * secret in the form; the style that worked is kept for later calls.
   */
  clientAuth?: 'basic' | 'post' | 'auto';
  overrides?: DiscoveryOverrides;
  fetch?: typeof fetch | undefined;
  /** Milliseconds one upstream call may take (default 10 s). */
  timeoutMs?: number | undefined;
}

export interface UpstreamTokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** Unix seconds, when the provider said (`expires_in`). */
  expiresAt?: number;
}

/** The checks kept between the redirect upstream and the callback. */
export interface PendingChecks {
  /** Absent for providers that do not support a nonce (LinkedIn). */
  nonce?: string;
  /** PKCE verifier, when a challenge was sent. */
  verifier?: string;
  redirectURI: string;
  state: string;
}

interface Discovered {
  config: oidc.Configuration;
  /** With `clientAuth: 'auto'`: the same client sending its secret in the form. */
  postConfig: oidc.Configuration | undefined;
  metadata: oidc.ServerMetadata;
  jwks: ReturnType<typeof jose.createRemoteJWKSet>;
  issuer: string;
}

export { loginRefusal, refreshRefusal, type VerifyFailure } from './upstream-errors.js';

export class UpstreamOidcClient {
  readonly options: UpstreamClientOptions;
  private discovered: Promise<Discovered> | undefined;
  // Kept briefly: a retry with a refresh token the provider just rotated gets the same answer.
  private readonly refreshFlight = new SingleFlight<UpstreamTokens>(10_000);
  // jose keeps a fetched JWKS for ten minutes even when its keys cannot be used (a malformed
  // key): after such a failure the next verification fetches the keys again.
  private keysUnusable = false;
  /** With `clientAuth: 'auto'`: the style the token endpoint accepted, once one has worked. */
  private detectedAuth: 'basic' | 'post' | undefined;

  constructor(options: UpstreamClientOptions) {
    this.options = options;
  }

  /** Discovery runs once; a failed attempt is retried on the next call. */
  discover(): Promise<Discovered> {
    if (!this.discovered) {
      this.discovered = this.runDiscovery();
      this.discovered.catch(() => {
        this.discovered = undefined;
      });
    }
    return this.discovered;
  }

  private async runDiscovery(): Promise<Discovered> {
    const { options } = this;
    const url = `${options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const timeoutMs = options.timeoutMs ?? UPSTREAM_TIMEOUT_MS;
    const res = await callUpstream(url, { timeoutMs, ...(options.fetch ? { fetch: options.fetch } : {}) });
    if (res.status !== 200 || !isRecord(res.body)) {
      throw new UpstreamError(`OpenID discovery at ${redactUrl(url)} answered ${res.status}`);
    }
    const expectedIssuer = options.issuerAlias ?? options.issuer;
    if (res.body.issuer !== expectedIssuer) {
      throw new UpstreamError(
        `OpenID discovery at ${redactUrl(url)} states issuer ${JSON.stringify(res.body.issuer)}, expected ${JSON.stringify(expectedIssuer)} (set issuerAlias if the provider is known to differ)`,
      );
    }
    const metadata = { ...res.body } as { -readonly [K in keyof oidc.ServerMetadata]: oidc.ServerMetadata[K] };
    const o = options.overrides ?? {};
    if (o.authURL) metadata.authorization_endpoint = o.authURL;
    if (o.tokenURL) metadata.token_endpoint = o.tokenURL;
    if (o.jwksURL) metadata.jwks_uri = o.jwksURL;
    if (o.userInfoURL) metadata.userinfo_endpoint = o.userInfoURL;
    checkDiscovered(metadata, `OpenID discovery at ${redactUrl(url)}`);
    const insecure = Object.values({ ...metadata, ...o }).some((v) => typeof v === 'string' && v.startsWith('http:'));
    const configure = (post: boolean) => {
      const auth = post ? oidc.ClientSecretPost(options.clientSecret) : oidc.ClientSecretBasic(options.clientSecret);
      const config = new oidc.Configuration(metadata, options.clientID, options.clientSecret, auth);
      config.timeout = timeoutMs / 1000;
      if (options.fetch) config[oidc.customFetch] = options.fetch as unknown as oidc.CustomFetch;
      if (insecure) oidc.allowInsecureRequests(config);
      return config;
    };
    const config = configure(options.clientAuth === 'post');
    const postConfig = options.clientAuth === 'auto' ? configure(true) : undefined;
    const jwks = jose.createRemoteJWKSet(new URL(metadata.jwks_uri!), {
      timeoutDuration: timeoutMs,
      ...(options.fetch ? { [jose.customFetch]: options.fetch as unknown as jose.FetchImplementation } : {}),
    });
    return { config, postConfig, metadata, jwks, issuer: expectedIssuer };
  }

  /**
   * Runs a token endpoint call with the client's authentication; with `clientAuth: 'auto'`, a
   * refusal of the client under HTTP Basic is retried once with the secret in the form (Dex's
   * auto-detection), and the style that worked is kept.
   */
  private async withClientAuth<T>(call: (config: oidc.Configuration) => Promise<T>): Promise<T> {
    const { config, postConfig } = await this.discover();
    if (!postConfig || this.detectedAuth === 'basic') return call(config);
    if (this.detectedAuth === 'post') return call(postConfig);
    let result: T;
    try {
      result = await call(config);
    } catch (err) {
      if (!refusesClient(err)) throw err;
      result = await call(postConfig);
      this.detectedAuth = 'post';
      return result;
    }
    this.detectedAuth = 'basic';
    return result;
  }

  /** The URL to send the browser to, and the checks to keep until the callback. */
  async authorizationURL(params: {
    redirectURI: string;
    scopes: readonly string[];
    state: string;
    pkce: 'S256' | 'plain' | undefined;
    /** Send a nonce and require it back in the ID token (default on). */
    nonce?: boolean;
    extra?: Record<string, string>;
  }): Promise<{ url: string; checks: PendingChecks }> {
    const { config } = await this.discover();
    const checks: PendingChecks = { redirectURI: params.redirectURI, state: params.state };
    const query: Record<string, string> = {
      ...params.extra,
      redirect_uri: params.redirectURI,
      scope: params.scopes.join(' '),
      state: params.state,
    };
    if (params.nonce !== false) {
      checks.nonce = oidc.randomNonce();
      query.nonce = checks.nonce;
    }
    if (params.pkce) {
      const verifier = oidc.randomPKCECodeVerifier();
      checks.verifier = verifier;
      query.code_challenge = params.pkce === 'S256' ? await oidc.calculatePKCECodeChallenge(verifier) : verifier;
      query.code_challenge_method = params.pkce;
    }
    return { url: oidc.buildAuthorizationUrl(config, query).toString(), checks };
  }

  /** Which PKCE method the provider advertises (`S256` preferred), Dex's auto-detection. */
  async advertisedPkce(): Promise<'S256' | 'plain' | undefined> {
    const { metadata } = await this.discover();
    const methods = metadata.code_challenge_methods_supported;
    if (methods === undefined) return 'S256';
    if (methods.includes('S256')) return 'S256';
    if (methods.includes('plain')) return 'plain';
    return undefined;
  }

  /**
   * Redeems the code in `callbackURL` (its query as the upstream sent it). Checks `state`,
   * `iss`, PKCE and `nonce` (openid-client) and the ID token signature (jose).
   */
  async exchangeCode(callbackURL: URL, checks: PendingChecks): Promise<UpstreamTokens & { claims: jose.JWTPayload }> {
    let response: oidc.TokenEndpointResponse;
    try {
      response = await this.withClientAuth((config) =>
        oidc.authorizationCodeGrant(config, callbackURL, {
          expectedState: checks.state,
          ...(checks.nonce ? { expectedNonce: checks.nonce } : {}),
          idTokenExpected: true,
          ...(checks.verifier ? { pkceCodeVerifier: checks.verifier } : {}),
        }),
      );
    } catch (err) {
      throw translateError(err, 'the authorization code', loginRefusal);
    }
    const tokens = toTokens(response);
    if (!tokens.idToken) throw new UpstreamError('the provider answered no id_token');
    return { ...tokens, claims: await this.verifyIdToken(tokens.idToken, { audience: true }, loginRefusal) };
  }

  /**
   * The refresh_token grant; a refusal is a `RefreshFailedError`. Concurrent refreshes of one
   * (rotating) refresh token share one grant, and a retry within a minute gets its answer.
   */
  async refresh(refreshToken: string): Promise<UpstreamTokens> {
    const key = createHash('sha256').update(refreshToken).digest('base64url');
    return this.refreshFlight.run(key, async () => {
      try {
        return toTokens(await this.withClientAuth((config) => oidc.refreshTokenGrant(config, refreshToken)));
      } catch (err) {
        throw translateError(err, 'the refresh token', refreshRefusal);
      }
    });
  }

  /** Verifies an ID token: signature against the JWKS, `iss`, `exp` and (when asked) `aud`. */
  async verifyIdToken(raw: string, check: { audience: boolean }, refuse: VerifyFailure): Promise<jose.JWTPayload> {
    const { jwks, issuer, metadata } = await this.discover();
    try {
      if (this.keysUnusable) {
        this.keysUnusable = false;
        await jwks.reload();
      }
      const algs = metadata.id_token_signing_alg_values_supported?.filter((a) => a !== 'none');
      const { payload } = await jose.jwtVerify(raw, jwks, {
        issuer,
        ...(check.audience ? { audience: this.options.clientID } : {}),
        requiredClaims: ['sub', 'exp', 'iat'],
        ...(algs && algs.length > 0 ? { algorithms: algs } : {}),
      });
      return payload;
    } catch (err) {
      if (jwksUnavailable(err)) {
        this.keysUnusable = true;
        throw new UpstreamError("the identity provider's keys (JWKS) could not be fetched or used", { cause: err });
      }
      throw refuse(`The ID token from the identity provider failed verification: ${describeJose(err)}.`);
    }
  }

  /** Userinfo claims; `expectedSubject` ties them to the ID token (`undefined`: token exchange). */
  async userinfo(accessToken: string, expectedSubject: string | undefined, refuse: VerifyFailure): Promise<Record<string, unknown>> {
    const { config } = await this.discover();
    try {
      return await oidc.fetchUserInfo(config, accessToken, expectedSubject ?? oidc.skipSubjectCheck);
    } catch (err) {
      throw translateError(err, 'the access token at userinfo', refuse, 'userinfo');
    }
  }
}

/** Endpoints the client calls, and whether discovery must state them. */
const DISCOVERED_URLS = { authorization_endpoint: true, token_endpoint: true, jwks_uri: true, userinfo_endpoint: false } as const;
/** The lists the client reads (`advertisedPkce`, `verifyIdToken`). */
const DISCOVERED_LISTS = ['code_challenge_methods_supported', 'id_token_signing_alg_values_supported'] as const;

/**
 * The discovery fields the client uses, checked once: a malformed document fails the start-up
 * with an error naming the field, not every later login with a TypeError.
 */
function checkDiscovered(metadata: Record<string, unknown>, where: string): void {
  for (const [key, required] of Object.entries(DISCOVERED_URLS)) {
    const value = metadata[key];
    if (value === undefined && !required) continue;
    if (typeof value !== 'string') throw new UpstreamError(`${where} has no ${key}`);
    if (!isHttpUrl(value)) throw new UpstreamError(`${where} has a ${key} that is not an http(s) URL`);
  }
  for (const key of DISCOVERED_LISTS) {
    const value = metadata[key];
    if (value !== undefined && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
      throw new UpstreamError(`${where} has a ${key} that is not a list of strings`);
    }
  }
}

/** The token endpoint refused the client itself (`invalid_client`, or a 401 challenge). */
function refusesClient(err: unknown): boolean {
  if (err instanceof oidc.ResponseBodyError) return err.error === 'invalid_client' || err.status === 401;
  return err instanceof oidc.WWWAuthenticateChallengeError && err.status === 401;
}

function isHttpUrl(value: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

function toTokens(response: oidc.TokenEndpointResponse): UpstreamTokens {
  const tokens: UpstreamTokens = { accessToken: response.access_token };
  if (response.refresh_token) tokens.refreshToken = response.refresh_token;
  if (response.id_token) tokens.idToken = response.id_token;
  const expiresAt = expiresAtOf(response.expires_in);
  if (expiresAt !== undefined) tokens.expiresAt = expiresAt;
  return tokens;
}
