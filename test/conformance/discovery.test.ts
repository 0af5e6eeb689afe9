/**
 * Basic OP plan, oidcc-discovery-endpoint-verification and the JWKS checks of oidcc-server:
 * the discovery document is what OpenID Connect Discovery 1.0 section 3 requires and agrees
 * with the broker's behaviour; /keys is a valid public JWK set whose keys have distinct `kid`s,
 * also across a key rotation.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createLocalJWKSet, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { login } from '../helpers/rp.js';
import { startConformanceBroker } from './support.js';

// Starts in the past, so that advancing past a key rotation stays before real time (openid-client checks iat).
const clock = frozenClock(Date.now() - 7 * 3_600_000);
let b: TestBroker;
let doc: Record<string, unknown>;

beforeAll(async () => {
  b = await startConformanceBroker({}, { now: clock });
  const res = await fetch(`${b.issuer}/.well-known/openid-configuration`);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = (await res.json()) as Record<string, unknown>;
});
afterAll(() => b.close());

async function jwks(): Promise<JWK[]> {
  const res = await fetch(`${b.issuer}/keys`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return ((await res.json()) as { keys: JWK[] }).keys;
}

describe('discovery document', () => {
  test('issuer is exactly the URL it was fetched under, and openid-client accepts the document', async () => {
    expect(doc.issuer).toBe(b.issuer);
    const config = await oidc.discovery(new URL(b.issuer), 'example-app', 'x', undefined, { execute: [oidc.allowInsecureRequests] });
    expect(config.serverMetadata().issuer).toBe(b.issuer);
  });

  test('the REQUIRED fields of Discovery section 3 are present', () => {
    for (const field of ['issuer', 'authorization_endpoint', 'jwks_uri', 'response_types_supported', 'subject_types_supported', 'id_token_signing_alg_values_supported', 'token_endpoint']) {
      expect(doc[field]).toBeDefined();
    }
  });

  test('the code flow, RS256 and the public subject type are advertised', () => {
    expect(doc.response_types_supported).toContain('code');
    expect(doc.id_token_signing_alg_values_supported).toContain('RS256');
    expect(doc.subject_types_supported).toContain('public');
    expect(doc.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    expect(doc.scopes_supported).toContain('openid');
  });

  test('every advertised endpoint is served under the issuer', async () => {
    for (const field of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint']) {
      const url = String(doc[field]);
      expect(url.startsWith(`${b.issuer}/`)).toBe(true);
      const method = field === 'token_endpoint' ? 'POST' : 'GET';
      const res = await fetch(url, { method, redirect: 'manual' });
      await res.body?.cancel();
      expect(res.status).not.toBe(404);
    }
  });

  test('the client authentication methods advertised are the ones the token endpoint takes', () => {
    expect(doc.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'client_secret_post']));
  });

  test('request objects are declared unsupported (the plan then skips its request-object tests)', () => {
    expect(doc.request_parameter_supported).toBe(false);
    expect(doc.request_uri_parameter_supported).toBe(false);
  });
});

describe('JWKS', () => {
  test('every key is a public signing key with kid, alg and use=sig, and nothing private', async () => {
    const keys = await jwks();
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(typeof k.kid).toBe('string');
      expect(k.use).toBe('sig');
      expect(doc.id_token_signing_alg_values_supported).toContain(k.alg);
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(k).not.toHaveProperty(priv);
      await expect(importJWK(k, k.alg)).resolves.toBeDefined();
    }
  });

  test('the ID token header names a kid in /keys with the same alg', async () => {
    const { tokens } = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    const header = decodeProtectedHeader(tokens.id_token!);
    const key = (await jwks()).find((k) => k.kid === header.kid);
    expect(key).toBeDefined();
    expect(key!.alg).toBe(header.alg);
  });

  test('after a key rotation, /keys holds both keys with distinct kids and both verify their tokens', async () => {
    const before = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    clock.advance(6 * 3_600_000 + 60_000);
    const after = await login(b.issuer, { connectorId: 'mock', scope: 'openid' });
    const keys = await jwks();
    const kids = keys.map((k) => k.kid);
    expect(new Set(kids).size).toBe(kids.length);
    expect(kids.length).toBeGreaterThanOrEqual(2);
    const oldKid = decodeProtectedHeader(before.tokens.id_token!).kid;
    const newKid = decodeProtectedHeader(after.tokens.id_token!).kid;
    expect(oldKid).not.toBe(newKid);
    const set = createLocalJWKSet({ keys });
    for (const t of [before.tokens.id_token!, after.tokens.id_token!]) {
      await expect(jwtVerify(t, set, { issuer: b.issuer, audience: 'example-app', currentDate: new Date(clock()) })).resolves.toBeDefined();
    }
  });
});

describe('an issuer configured with a trailing slash (as some Dex deployments have it)', () => {
  let slash: TestBroker;
  beforeAll(async () => {
    slash = await startBroker((issuer) => ({ issuer: `${issuer}/`, connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }] }));
  });
  afterAll(() => slash.close());

  test('is kept exactly, as Dex keeps it, in discovery and in iss; endpoints have no doubled slash', async () => {
    const issuer = `${slash.issuer}/`;
    const doc = (await (await fetch(`${issuer}.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(doc.issuer).toBe(issuer);
    expect(doc.token_endpoint).toBe(`${slash.issuer}/token`);
    expect(doc.jwks_uri).toBe(`${slash.issuer}/keys`);
    // openid-client compares the document's issuer with the URL it was given, character for character.
    const { claims, landed } = await login(issuer, { connectorId: 'mock', scope: 'openid email' });
    expect(claims.iss).toBe(issuer);
    expect(landed.searchParams.get('iss')).toBe(issuer);
  });
});
