/**
 * Refresh-token and signing-key lifecycle against Dex's (server/grants/refresh.go,
 * server/tokens/refresh_*.go, server/signer/rotation.go), with a frozen clock: the
 * expiry.refreshTokens boundaries, a policy tightened between restarts, a second login, token
 * lifetimes, key rotation and a changed algorithm. The basics (rotation, reuse, replay, scope
 * narrowing, upstream failures) are in test/endpoints/refresh.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { loadConfig } from '../../lib/config/load.js';
import { createRegistry, type ConnectorModule } from '../../lib/connector.js';
import type { Identity } from '../../lib/identity.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { connectorModules, connectors } from '../../strategies/index.js';
import { kilgoreTrout, mockCallback } from '../../strategies/mockCallback/index.js';
import type { StartOptions, TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { getPage } from '../helpers/http.js';
import { codeFor, redeem, refreshWith, startConformanceBroker } from './support.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const clock = frozenClock(Date.UTC(2026, 5, 1));
const storage = new MemoryStorage(clock);
const POLICY = { reuseInterval: '3s', validIfNotUsedFor: '1h', absoluteLifetime: '24h' };
const started: TestBroker[] = [];
let b: TestBroker;

async function start(config: Record<string, unknown>, options: StartOptions = {}): Promise<TestBroker> {
  const broker = await startConformanceBroker(config, { now: clock, ...options });
  started.push(broker);
  return broker;
}

beforeAll(async () => {
  b = await start({ expiry: { idTokens: '10m', refreshTokens: POLICY }, signer: { type: 'local', config: { keysRotationPeriod: '1h' } } }, { storage });
});
afterAll(() => Promise.all(started.map((s) => s.close())));

interface Tokens {
  refresh_token: string;
  id_token: string;
  access_token: string;
  expires_in: number;
}

async function loginAt(broker: TestBroker, scope = 'openid email groups offline_access'): Promise<Tokens> {
  const res = await redeem(broker.issuer, await codeFor(broker.issuer, { scope }));
  expect(res.status).toBe(200);
  return res.body as unknown as Tokens;
}

/** Keeps a refresh token alive (a refresh every 50 minutes) until the clock reads `until`; returns the current token. */
async function keepAliveUntil(broker: TestBroker, token: string, until: number): Promise<string> {
  while (clock() + 50 * MINUTE < until) {
    clock.advance(50 * MINUTE);
    const res = await refreshWith(broker.issuer, token);
    expect(res.status).toBe(200);
    token = res.body.refresh_token as string;
  }
  clock.set(until);
  return token;
}

async function jwks(broker: TestBroker): Promise<{ body: JSONWebKeySet; cacheControl: string | null }> {
  const page = await getPage(`${broker.issuer}/keys`);
  return { body: JSON.parse(page.body) as JSONWebKeySet, cacheControl: page.headers.get('cache-control') };
}

const header = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string; alg: string };
const payload = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

describe('expiry.refreshTokens boundaries', () => {
  test('validIfNotUsedFor: used 1 ms before the limit it works; left unused 1 ms past it, invalid_grant', async () => {
    const { refresh_token } = await loginAt(b);
    clock.advance(HOUR - 1);
    const used = await refreshWith(b.issuer, refresh_token);
    expect(used.status).toBe(200);
    clock.advance(HOUR + 1);
    const idle = await refreshWith(b.issuer, used.body.refresh_token as string);
    expect([idle.status, idle.body.error]).toEqual([400, 'invalid_grant']);
  });

  test('absoluteLifetime counts from the login however often the token is used: 1 ms before it works, 1 ms after, invalid_grant', async () => {
    const { refresh_token } = await loginAt(b);
    const end = clock() + 24 * HOUR;
    const token = await keepAliveUntil(b, refresh_token, end - 1);
    const last = await refreshWith(b.issuer, token);
    expect(last.status).toBe(200);
    clock.advance(2);
    const after = await refreshWith(b.issuer, last.body.refresh_token as string);
    expect([after.status, after.body.error]).toEqual([400, 'invalid_grant']);
  });

  test('the reuse window ends at reuseInterval: the previous token at 3 s answers the new one, at 3 s + 1 ms it revokes the chain', async () => {
    const { refresh_token } = await loginAt(b);
    const first = await refreshWith(b.issuer, refresh_token);
    clock.advance(3000);
    expect((await refreshWith(b.issuer, refresh_token)).body.refresh_token).toBe(first.body.refresh_token);
    clock.advance(1);
    expect((await refreshWith(b.issuer, refresh_token)).body.error).toBe('invalid_grant');
    expect((await refreshWith(b.issuer, first.body.refresh_token as string)).body.error).toBe('invalid_grant');
  });
});

describe('a policy tightened between restarts applies to the refresh tokens already issued (as in Dex)', () => {
  test('absoluteLifetime shortened: a token older than the new lifetime is refused at once', async () => {
    const { refresh_token } = await loginAt(b);
    const token = await keepAliveUntil(b, refresh_token, clock() + 2 * HOUR);
    const tightened = await start({ expiry: { refreshTokens: { ...POLICY, absoluteLifetime: '1h' } } }, { storage });
    const res = await refreshWith(tightened.issuer, token);
    expect([res.status, res.body.error]).toEqual([400, 'invalid_grant']);
  });

  test('validIfNotUsedFor shortened: a token idle for longer than the new limit is refused at once', async () => {
    const { refresh_token } = await loginAt(b);
    clock.advance(20 * MINUTE);
    const tightened = await start({ expiry: { refreshTokens: { ...POLICY, validIfNotUsedFor: '10m' } } }, { storage });
    const res = await refreshWith(tightened.issuer, refresh_token);
    expect([res.status, res.body.error]).toEqual([400, 'invalid_grant']);
    // Still within the old broker's policy: it works there.
    expect((await refreshWith(b.issuer, refresh_token)).status).toBe(200);
  });
});

test('an expiry longer than a Go duration can be (Dex refuses it) fails at start-up naming its key; Go\'s longest is taken', () => {
  const base = { issuer: 'http://127.0.0.1:5556/dex', storage: { type: 'memory' } };
  expect(() => loadConfig({ ...base, expiry: { refreshTokens: { absoluteLifetime: '2562048h' } } }, { connectors, env: {} })).toThrow(
    /expiry\.refreshTokens\.absoluteLifetime.*"2562048h" is longer than a Go duration can be/,
  );
  expect(loadConfig({ ...base, expiry: { idTokens: '2562047h47m16.854s' } }, { connectors, env: {} }).settings.expiry.idTokensMs).toBe(9_223_372_036_854);
});

describe('reuseInterval: 0s and disableRotation', () => {
  test('reuseInterval 0s disables the reuse window (as in Dex): the previous token presented in the same millisecond is a replay', async () => {
    const strict = await start({ expiry: { refreshTokens: { reuseInterval: '0s' } } });
    const { refresh_token } = await loginAt(strict);
    const first = await refreshWith(strict.issuer, refresh_token);
    expect(first.status).toBe(200);
    const replay = await refreshWith(strict.issuer, refresh_token);
    expect([replay.status, replay.body.error]).toEqual([400, 'invalid_grant']);
    expect((await refreshWith(strict.issuer, first.body.refresh_token as string)).body.error).toBe('invalid_grant');
  });

  test('disableRotation: the same token comes back, and each use extends validIfNotUsedFor', async () => {
    const fixed = await start({ expiry: { refreshTokens: { disableRotation: true, validIfNotUsedFor: '1h' } } });
    const { refresh_token } = await loginAt(fixed);
    for (let i = 0; i < 3; i++) {
      clock.advance(50 * MINUTE);
      const res = await refreshWith(fixed.issuer, refresh_token);
      expect([res.status, res.body.refresh_token]).toEqual([200, refresh_token]);
    }
    clock.advance(HOUR + 1);
    expect((await refreshWith(fixed.issuer, refresh_token)).body.error).toBe('invalid_grant');
  });
});

test('a second login of the same user to the same client leaves the first refresh token working (README: no offline session)', async () => {
  const first = await loginAt(b);
  const second = await loginAt(b);
  expect((await refreshWith(b.issuer, first.refresh_token)).status).toBe(200);
  expect((await refreshWith(b.issuer, second.refresh_token)).status).toBe(200);
});

test('an upstream refresh answering another user id is invalid_grant (Dex keeps the old sub and takes the other user\'s email and groups)', async () => {
  const upstream: { identity: Identity } = { identity: kilgoreTrout };
  const switching = {
    ...mockCallback,
    create: () => ({ ...mockCallback.create(), refresh: async () => upstream.identity }),
  } satisfies ConnectorModule<Record<string, never>>;
  const s = await start({}, { registry: createRegistry([...connectorModules.filter((m) => m.type !== 'mockCallback'), switching]) });
  const { refresh_token } = await loginAt(s);
  upstream.identity = { ...kilgoreTrout, userId: 'someone-else', email: 'someone@else.example', groups: ['admins'] };
  const res = await refreshWith(s.issuer, refresh_token);
  expect([res.status, res.body.error, res.body.id_token]).toEqual([400, 'invalid_grant', undefined]);
});

describe('token lifetimes (expiry.idTokens: 10m)', () => {
  test('ID and access tokens: exp - iat is 600 s, expires_in 600; the access token works at /userinfo until exp', async () => {
    const tokens = await loginAt(b);
    for (const jwt of [tokens.id_token, tokens.access_token]) expect((payload(jwt).exp as number) - (payload(jwt).iat as number)).toBe(600);
    expect(tokens.expires_in).toBe(600);
    const userinfo = () => getPage(`${b.issuer}/userinfo`, { authorization: `Bearer ${tokens.access_token}` });
    clock.advance(600_000 - 1000);
    expect((await userinfo()).status).toBe(200);
    clock.advance(1000);
    expect((await userinfo()).status).toBe(401);
  });

  test('a refreshed token set has the same lifetimes', async () => {
    const { refresh_token } = await loginAt(b);
    clock.advance(90_000);
    const res = await refreshWith(b.issuer, refresh_token);
    const id = payload(res.body.id_token as string);
    expect((id.exp as number) - (id.iat as number)).toBe(600);
    expect(id.iat).toBe(Math.floor(clock() / 1000));
    expect(res.body.expires_in).toBe(600);
  });
});

describe('signing keys (keysRotationPeriod 1h, idTokens 10m)', () => {
  test('after a rotation the previous key stays in /keys until the tokens it signed have expired, then leaves', async () => {
    const keyStore = new MemoryStorage(clock);
    const k = await start({ expiry: { idTokens: '10m' }, signer: { type: 'local', config: { keysRotationPeriod: '1h' } } }, { storage: keyStore });
    const before = await loginAt(k);
    const oldKid = header(before.id_token).kid;
    clock.advance(HOUR);
    const after = await loginAt(k);
    expect(header(after.id_token).kid).not.toBe(oldKid);
    const { body, cacheControl } = await jwks(k);
    expect(body.keys.map((key) => key.kid)).toEqual([header(after.id_token).kid, oldKid]);
    expect(cacheControl).toMatch(/max-age=\d+/);
    // The token signed before the rotation still verifies (it expired by now: checked at its own iat).
    await expect(jwtVerify(before.id_token, createLocalJWKSet(body), { currentDate: new Date((payload(before.id_token).iat as number) * 1000) })).resolves.toBeDefined();
    clock.advance(10 * MINUTE - 1);
    expect((await jwks(k)).body.keys.map((key) => key.kid)).toContain(oldKid);
    clock.advance(1);
    expect((await jwks(k)).body.keys.map((key) => key.kid)).not.toContain(oldKid);
  });

  test('keysRotationPeriod 0s rotates at most every 30 s, as Dex (which checks every 30 s), not at every token and /keys request', async () => {
    const often = await start({ signer: { type: 'local', config: { keysRotationPeriod: '0s' } } });
    const first = await loginAt(often);
    const second = await loginAt(often);
    await jwks(often);
    expect(header(second.id_token).kid).toBe(header(first.id_token).kid);
    expect((await jwks(often)).body.keys).toHaveLength(1);
    clock.advance(30_000);
    const later = await loginAt(often);
    expect(header(later.id_token).kid).not.toBe(header(first.id_token).kid);
    expect((await jwks(often)).body.keys).toHaveLength(2);
    const { warnings } = loadConfig({ issuer: 'http://127.0.0.1:5556/dex', storage: { type: 'memory' }, expiry: { signingKeys: '10s' } }, { connectors, env: {} });
    expect(warnings).toContain('expiry.signingKeys "10s" is shorter than 30s: the signing keys rotate every 30s (as in Dex, which checks them every 30s)');
  });

  test('the algorithm changed between restarts: new tokens use it at once, and the old key keeps verifying its tokens', async () => {
    const keyStore = new MemoryStorage(clock);
    const rs = await start({ signer: { type: 'local', config: { keysRotationPeriod: '6h', algorithm: 'RS256' } } }, { storage: keyStore });
    const old = await loginAt(rs);
    expect(header(old.id_token).alg).toBe('RS256');
    await rs.close();
    started.splice(started.indexOf(rs), 1);
    const es = await start({ signer: { type: 'local', config: { keysRotationPeriod: '6h', algorithm: 'ES256' } } }, { storage: keyStore });
    const fresh = await loginAt(es);
    expect(header(fresh.id_token).alg).toBe('ES256');
    const set = createLocalJWKSet((await jwks(es)).body);
    const at = { currentDate: new Date(clock()) };
    await expect(jwtVerify(old.id_token, set, at)).resolves.toBeDefined();
    await expect(jwtVerify(fresh.id_token, set, at)).resolves.toBeDefined();
    // And the old refresh token works on the new instance, its new ID token signed ES256.
    const refreshed = await refreshWith(es.issuer, old.refresh_token);
    expect(header(refreshed.body.id_token as string).alg).toBe('ES256');
  });

  test('EdDSA: tokens signed with Ed25519, advertised in discovery, accepted at /userinfo', async () => {
    const ed = await start({ signer: { type: 'local', config: { keysRotationPeriod: '6h', algorithm: 'EdDSA' } } });
    const tokens = await loginAt(ed);
    expect(header(tokens.id_token).alg).toBe('EdDSA');
    const discovery = JSON.parse((await getPage(`${ed.issuer}/.well-known/openid-configuration`)).body) as Record<string, unknown>;
    expect(discovery.id_token_signing_alg_values_supported).toEqual(['EdDSA']);
    await expect(jwtVerify(tokens.id_token, createLocalJWKSet((await jwks(ed)).body), { currentDate: new Date(clock()) })).resolves.toBeDefined();
    expect((await getPage(`${ed.issuer}/userinfo`, { authorization: `Bearer ${tokens.access_token}` })).status).toBe(200);
  });
});
