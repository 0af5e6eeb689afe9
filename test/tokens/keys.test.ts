/** Signing keys: created once, shared through storage, rotated, old public keys kept until their tokens expire. */
import { describe, expect, test } from '@jest/globals';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { KeyManager } from '../../lib/tokens/keys.js';
import { halfHash, signJwt } from '../../lib/tokens/jws.js';
import { frozenClock } from '../helpers/clock.js';

const HOUR = 3_600_000;

describe('KeyManager', () => {
  test.each(['RS256', 'ES256', 'EdDSA'] as const)('%s tokens verify with jose against the published keys', async (alg) => {
    const keys = new KeyManager(new MemoryStorage(), { algorithm: alg, rotationMs: 6 * HOUR, idTokensMs: 24 * HOUR });
    const token = await signJwt({ iss: 'https://issuer', sub: 's', exp: Math.floor(Date.now() / 1000) + 60 }, await keys.signingKey());
    const jwks = createLocalJWKSet({ keys: await keys.publicKeys() });
    const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: 'https://issuer' });
    expect(payload.sub).toBe('s');
    expect(protectedHeader.alg).toBe(alg);
    expect((await keys.publicKeys())[0]).not.toHaveProperty('d');
  });

  test('two instances on one storage sign with the same key', async () => {
    const storage = new MemoryStorage();
    const opts = { algorithm: 'RS256' as const, rotationMs: 6 * HOUR, idTokensMs: 24 * HOUR };
    const [a, b] = await Promise.all([new KeyManager(storage, opts).signingKey(), new KeyManager(storage, opts).signingKey()]);
    expect(a.kid).toBe(b.kid);
  });

  test('rotation keeps the old public key until the tokens it signed expire', async () => {
    const clock = frozenClock();
    const storage = new MemoryStorage(clock);
    const keys = new KeyManager(storage, { algorithm: 'ES256', rotationMs: 6 * HOUR, idTokensMs: 24 * HOUR }, clock);
    const first = await keys.signingKey();
    clock.advance(6 * HOUR);
    const second = await keys.signingKey();
    expect(second.kid).not.toBe(first.kid);
    expect((await keys.publicKeys()).map((k) => k.kid)).toEqual([second.kid, first.kid]);
    clock.advance(24 * HOUR - 1);
    expect((await keys.publicKeys()).map((k) => k.kid)).toContain(first.kid);
    clock.advance(2);
    expect((await keys.publicKeys()).map((k) => k.kid)).not.toContain(first.kid);
  });

  test('concurrent rotations by several instances rotate once', async () => {
    const clock = frozenClock();
    const storage = new MemoryStorage(clock);
    const opts = { algorithm: 'ES256' as const, rotationMs: HOUR, idTokensMs: HOUR };
    const managers = Array.from({ length: 4 }, () => new KeyManager(storage, opts, clock));
    await Promise.all(managers.map((m) => m.signingKey()));
    clock.advance(HOUR);
    const kids = await Promise.all(managers.map(async (m) => (await m.signingKey()).kid));
    expect(new Set(kids).size).toBe(1);
    expect(await managers[0]!.publicKeys()).toHaveLength(2);
  });

  test('changing the algorithm rotates to a key of the new kind', async () => {
    const storage = new MemoryStorage();
    const rs = await new KeyManager(storage, { algorithm: 'RS256', rotationMs: HOUR, idTokensMs: HOUR }).signingKey();
    const es = await new KeyManager(storage, { algorithm: 'ES256', rotationMs: HOUR, idTokensMs: HOUR }).signingKey();
    expect(rs.alg).toBe('RS256');
    expect(es.alg).toBe('ES256');
  });
});

test('at_hash is the left half of SHA-256 (RS256, ES256) or SHA-512 (EdDSA)', () => {
  // OIDC Core's example: the access token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y" has at_hash "77QmUPtjPfzWtF2AnpK9RQ".
  expect(halfHash('RS256', 'jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y')).toBe('77QmUPtjPfzWtF2AnpK9RQ');
  expect(Buffer.from(halfHash('EdDSA', 'x'), 'base64url')).toHaveLength(32);
});
