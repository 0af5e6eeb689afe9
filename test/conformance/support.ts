/**
 * Shared set-up of the conformance tests (the OpenID Foundation's Basic OP plan, RFC 9207, RFC
 * 7636): a broker with mockCallback and four clients, and plain-HTTP steps of the code flow for
 * the checks openid-client would refuse to make.
 */
import { createHash } from 'node:crypto';
import { startBroker, TEST_CLIENT, type StartOptions, type TestBroker } from '../helpers/broker.js';
import { postForm } from '../helpers/http.js';
import { browse, type ClientCredentials } from '../helpers/rp.js';

/** RFC 6749 2.3.1: id and secret are form-urlencoded before Basic; these need it. */
export const SPECIAL: Required<ClientCredentials> = { id: 'app:with space/ü+%&=', secret: 'pä ss:w%rd+&=/~', redirectURI: 'http://127.0.0.1:5558/cb' };
export const OTHER: Required<ClientCredentials> = { id: 'other-app', secret: 'other-secret', redirectURI: 'http://127.0.0.1:5556/cb' };
export const PUBLIC: ClientCredentials = { id: 'native-cli', redirectURI: 'http://127.0.0.1:43210/cb' };
/** A registered redirect URI that carries its own query (oidcc-redirect-uri-query-OK). */
export const WITH_QUERY: Required<ClientCredentials> = { id: 'query-app', secret: 'query-secret', redirectURI: 'http://127.0.0.1:5559/cb?tenant=a' };

export const CLIENTS = [
  { id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], name: 'Example App' },
  { id: SPECIAL.id, secret: SPECIAL.secret, redirectURIs: [SPECIAL.redirectURI], name: 'Special' },
  { id: OTHER.id, secret: OTHER.secret, redirectURIs: [OTHER.redirectURI], name: 'Other', trustedPeers: [TEST_CLIENT.id] },
  { id: PUBLIC.id, public: true, name: 'A CLI' },
  { id: WITH_QUERY.id, secret: WITH_QUERY.secret, redirectURIs: [WITH_QUERY.redirectURI], name: 'Query' },
];

export async function startConformanceBroker(config: Record<string, unknown> = {}, options: StartOptions = {}): Promise<TestBroker> {
  return startBroker({ connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }], staticClients: CLIENTS, ...config }, options);
}

export function authUrl(issuer: string, params: Record<string, string>, client: ClientCredentials = TEST_CLIENT): string {
  return `${issuer}/auth?${new URLSearchParams({ client_id: client.id, redirect_uri: client.redirectURI, response_type: 'code', scope: 'openid', state: 'st4te', connector_id: 'mock', ...params })}`;
}

/** Runs the browser part of the code flow; returns where it landed on the client. */
export async function authorizeTo(issuer: string, params: Record<string, string> = {}, client: ClientCredentials = TEST_CLIENT): Promise<URL> {
  const { landed, page } = await browse(authUrl(issuer, params, client), client.redirectURI);
  if (!landed) throw new Error(`the login did not reach the client: ${page?.status} ${page?.body.slice(0, 300)}`);
  return landed;
}

export async function codeFor(issuer: string, params: Record<string, string> = {}, client: ClientCredentials = TEST_CLIENT): Promise<string> {
  const landed = await authorizeTo(issuer, params, client);
  const code = landed.searchParams.get('code');
  if (!code) throw new Error(`no code: ${landed.search}`);
  return code;
}

/** RFC 6749 2.3.1 Basic: each part form-urlencoded (space as +), then base64. */
export function formBasic(id: string, secret: string): Record<string, string> {
  const enc = (s: string) => new URLSearchParams({ s }).toString().slice(2);
  return { authorization: `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}` };
}

export type ClientAuth = 'basic' | 'post' | 'none';

/** A token request authenticated the chosen way. */
export function tokenRequest(issuer: string, form: Record<string, string>, client: ClientCredentials = TEST_CLIENT, auth: ClientAuth = 'basic') {
  if (auth === 'basic') return postForm(`${issuer}/token`, form, formBasic(client.id, client.secret ?? ''));
  if (auth === 'post') return postForm(`${issuer}/token`, { ...form, client_id: client.id, client_secret: client.secret ?? '' });
  return postForm(`${issuer}/token`, { ...form, client_id: client.id });
}

export function redeem(issuer: string, code: string, client: ClientCredentials = TEST_CLIENT, extra: Record<string, string> = {}, auth: ClientAuth = 'basic') {
  return tokenRequest(issuer, { grant_type: 'authorization_code', code, redirect_uri: client.redirectURI, ...extra }, client, auth);
}

export function refreshWith(issuer: string, refreshToken: string, client: ClientCredentials = TEST_CLIENT, auth: ClientAuth = 'basic') {
  return tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: refreshToken }, client, auth);
}

/** A code verifier and its S256 challenge (RFC 7636 4.1, 4.2). */
export function pkcePair(seed = 'v'): { verifier: string; challenge: string } {
  const verifier = seed.repeat(Math.ceil(43 / seed.length)).slice(0, 43) + 'A1-._~';
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The payload of a compact JWS, unverified (verification is the test's own step). */
export function payloadOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}
