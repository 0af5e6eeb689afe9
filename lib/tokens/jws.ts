/**
 * Compact JWS signing on `node:crypto`, asynchronously on libuv's thread pool whatever the
 * algorithm, so signatures use the cores the event loop does not. Measured here (bench/): an
 * RSA-2048 signature costs about 0.21 ms of CPU, an ES256 one 18 µs; handing either to the pool
 * costs the event loop about 5 µs, so even at ES256 the loop does a quarter of the work it would
 * signing synchronously (the /token path at ES256 is bound by its event loop, not by the CPU).
 * Tokens are verified with `jose` (tests, `/userinfo`), which checks this output against `/keys`.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import type { SigningAlgorithm } from '../config/settings.js';

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: KeyObject;
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The encoded protected header is the same for every token a key signs. */
const headers = new WeakMap<SigningKey, string>();

function headerOf(key: SigningKey): string {
  let h = headers.get(key);
  if (h === undefined) headers.set(key, (h = b64json({ alg: key.alg, kid: key.kid, typ: 'JWT' })));
  return h;
}

export function signJwt(payload: object, key: SigningKey): Promise<string> {
  const input = `${headerOf(key)}.${b64json(payload)}`;
  return new Promise((resolve, reject) => {
    // ECDSA signatures in JWS are r || s (IEEE P1363), not DER.
    const options = key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' as const } : key.privateKey;
    sign(digestOf[key.alg], Buffer.from(input), options, (err, sig) => (err ? reject(err) : resolve(`${input}.${sig.toString('base64url')}`)));
  });
}

/** The digest `crypto.sign` takes: none for EdDSA (Ed25519 hashes internally). */
const digestOf: Record<SigningAlgorithm, string | null> = { RS256: 'sha256', ES256: 'sha256', EdDSA: null };

/**
 * `at_hash` / `c_hash` (OIDC Core 3.1.3.6): the left half of the hash the signature algorithm
 * uses, base64url. SHA-256 for RS256 and ES256; SHA-512 for EdDSA over Ed25519.
 */
export function halfHash(alg: SigningAlgorithm, value: string): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(value).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}
