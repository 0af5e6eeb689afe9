/**
 * A relying party for tests: openid-client v6 against the broker, and a small browser that
 * follows redirects (with cookies) through the broker and the upstream until the browser lands
 * on the client's redirect URI. On the way it fills the broker's password form, approves, and
 * submits auto-submitting POST forms (SAML, form_post).
 */
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { TEST_CLIENT } from './broker.js';

export interface ClientCredentials {
  id: string;
  secret?: string;
  redirectURI: string;
}

export interface Page {
  url: string;
  status: number;
  headers: Headers;
  body: string;
}

export interface BrowseOptions {
  /** Credentials typed into the broker's password form. */
  password?: { username: string; password: string };
  /** Click "Grant access" on the approval page (default) or "Cancel". */
  approve?: boolean;
  /** Extra headers on every request (authproxy tests). */
  headers?: Record<string, string>;
  /** Answer a page the browser does not know how to continue from; return the next request, or undefined to stop. */
  onPage?: (page: Page) => Promise<{ url: string; method?: 'GET' | 'POST'; form?: Record<string, string> } | undefined>;
  maxSteps?: number;
  /** A cookie jar shared between calls: the same browser across several logins. */
  jar?: CookieJar;
}

/** Cookies by host. */
export type CookieJar = Map<string, Map<string, string>>;

export interface BrowseResult {
  /** The client redirect URI the browser landed on, with its query, if it got there. */
  landed?: URL;
  /** The last page seen when it did not land. */
  page?: Page;
}

function decodeEntities(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The first POST form of a page, with its hidden fields. */
export function firstForm(body: string, baseUrl: string, index = 0): { action: string; fields: Record<string, string> } | undefined {
  const forms = [...body.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)];
  const form = forms[index];
  if (!form) return undefined;
  const attrs = form[1]!;
  const action = decodeEntities(/action="([^"]*)"/i.exec(attrs)?.[1] ?? baseUrl);
  const fields: Record<string, string> = {};
  for (const input of form[2]!.matchAll(/<input\b([^>]*)>/gi)) {
    const a = input[1]!;
    const name = /name="([^"]*)"/i.exec(a)?.[1];
    const value = /value="([^"]*)"/i.exec(a)?.[1] ?? '';
    if (name) fields[decodeEntities(name)] = decodeEntities(value);
  }
  return { action: new URL(action, baseUrl).toString(), fields };
}

/** Follows a browser's path from `start` until it reaches `redirectURI`. */
export async function browse(start: string, redirectURI: string, options: BrowseOptions = {}): Promise<BrowseResult> {
  const cookies: CookieJar = options.jar ?? new Map();
  let next: { url: string; method: 'GET' | 'POST'; form?: Record<string, string> } = { url: start, method: 'GET' };
  for (let step = 0; step < (options.maxSteps ?? 20); step++) {
    if (next.url.startsWith(redirectURI) && next.method === 'GET') return { landed: new URL(next.url) };
    if (next.url.startsWith(redirectURI) && next.method === 'POST') {
      const u = new URL(next.url);
      for (const [k, v] of Object.entries(next.form ?? {})) u.searchParams.set(k, v);
      return { landed: u };
    }
    const url = new URL(next.url);
    const jar = cookies.get(url.host) ?? new Map<string, string>();
    cookies.set(url.host, jar);
    const headers: Record<string, string> = { ...options.headers };
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (next.method === 'POST') {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(next.form ?? {}).toString();
    }
    const res = await fetch(url, { method: next.method, headers, redirect: 'manual', ...(body !== undefined ? { body } : {}) });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      await res.body?.cancel();
      next = { url: new URL(res.headers.get('location')!, url).toString(), method: 'GET' };
      continue;
    }
    const page: Page = { url: url.toString(), status: res.status, headers: res.headers, body: await res.text() };
    const custom = options.onPage ? await options.onPage(page) : undefined;
    if (custom) {
      next = { url: custom.url, method: custom.method ?? 'GET', ...(custom.form ? { form: custom.form } : {}) };
      continue;
    }
    if (res.status !== 200) return { page };
    if (page.body.includes('name="password"') && options.password) {
      const form = firstForm(page.body, page.url)!;
      next = { url: form.action, method: 'POST', form: { ...form.fields, login: options.password.username, password: options.password.password } };
      continue;
    }
    if (page.body.includes('name="approval"')) {
      const form = firstForm(page.body, page.url, options.approve === false ? 1 : 0)!;
      next = { url: form.action, method: 'POST', form: form.fields };
      continue;
    }
    const autoSubmit = /onload="document\.forms\[0\]\.submit\(\)"|document\.forms\[0\]\.submit\(\)/.test(page.body);
    if (autoSubmit) {
      const form = firstForm(page.body, page.url)!;
      next = { url: form.action, method: 'POST', form: form.fields };
      continue;
    }
    return { page };
  }
  throw new Error('the browser went round in circles');
}

export async function discover(issuer: string, client: ClientCredentials = TEST_CLIENT, auth: 'post' | 'basic' = 'post'): Promise<oidc.Configuration> {
  const clientAuth = client.secret === undefined ? oidc.None() : auth === 'basic' ? oidc.ClientSecretBasic(client.secret) : oidc.ClientSecretPost(client.secret);
  return oidc.discovery(new URL(issuer), client.id, undefined, clientAuth, { execute: [oidc.allowInsecureRequests] });
}

export interface LoginOptions extends BrowseOptions {
  client?: ClientCredentials;
  scope?: string;
  connectorId?: string;
  /** Extra authorization request parameters. */
  params?: Record<string, string>;
  /** Send no nonce (OIDC allows it in the code flow). */
  noNonce?: boolean;
  auth?: 'post' | 'basic';
}

export interface LoginResult {
  config: oidc.Configuration;
  tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
  /** The ID token's claims, its signature verified against the broker's /keys. */
  claims: JWTPayload;
  landed: URL;
}

/** Authorization code + PKCE + state + nonce, through the browser, then the token exchange. */
export async function login(issuer: string, options: LoginOptions = {}): Promise<LoginResult> {
  const client = options.client ?? TEST_CLIENT;
  const config = await discover(issuer, client, options.auth);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = options.noNonce ? undefined : oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: client.redirectURI,
    scope: options.scope ?? 'openid email profile groups offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...(nonce ? { nonce } : {}),
    ...(options.connectorId ? { connector_id: options.connectorId } : {}),
    ...options.params,
  });
  const result = await browse(url.toString(), client.redirectURI, options);
  if (!result.landed) throw new Error(`the login did not reach the client: ${result.page?.status} ${result.page?.body.slice(0, 500)}`);
  const tokens = await oidc.authorizationCodeGrant(config, result.landed, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    ...(nonce ? { expectedNonce: nonce } : {}),
    idTokenExpected: true,
  });
  const claims = await verifyIdToken(issuer, tokens.id_token!, client.id);
  return { config, tokens, claims, landed: result.landed };
}

const jwksCache = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

export async function verifyIdToken(issuer: string, idToken: string, audience: string = TEST_CLIENT.id): Promise<JWTPayload> {
  let jwks = jwksCache.get(issuer);
  if (!jwks) jwksCache.set(issuer, (jwks = createRemoteJWKSet(new URL(`${issuer.replace(/\/$/, '')}/keys`), { cooldownDuration: 0 })));
  const { payload } = await jwtVerify(idToken, jwks, { issuer, audience });
  return payload;
}

/** Starts a login and returns where the browser ended (for refusals). */
export async function startLogin(issuer: string, options: LoginOptions = {}): Promise<BrowseResult & { state: string }> {
  const client = options.client ?? TEST_CLIENT;
  const config = await discover(issuer, client, options.auth);
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: client.redirectURI,
    scope: options.scope ?? 'openid email profile groups',
    state,
    ...(options.connectorId ? { connector_id: options.connectorId } : {}),
    ...options.params,
  });
  return { ...(await browse(url.toString(), client.redirectURI, options)), state };
}
