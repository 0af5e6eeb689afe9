/**
 * Compact JWS signing on `node:crypto`. Which path is cheaper was measured (bench/, `npm run
 * bench`): an RSA-2048 signature costs about 0.3 ms of CPU, so RS256 signs asynchronously on
 * libuv's thread pool and the event loop keeps serving requests meanwhile; an ES256 or EdDSA
 * signature costs tens of microseconds, less than handing the job to the pool and back, so those
 * sign synchronously. Tokens are verified with `jose` (tests, `/userinfo`), which checks this
 * output against `/keys`.
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
  const data = Buffer.from(input);
  switch (key.alg) {
    case 'ES256':
      return Promise.resolve(`${input}.${sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`);
    case 'EdDSA':
      return Promise.resolve(`${input}.${sign(null, data, key.privateKey).toString('base64url')}`);
    case 'RS256':
      return new Promise((resolve, reject) => {
        sign('sha256', data, key.privateKey, (err, sig) => (err ? reject(err) : resolve(`${input}.${sig.toString('base64url')}`)));
      });
  }
}

/**
 * `at_hash` / `c_hash` (OIDC Core 3.1.3.6): the left half of the hash the signature algorithm
 * uses, base64url. SHA-256 for RS256 and ES256; SHA-512 for EdDSA over Ed25519.
 */
export function halfHash(alg: SigningAlgorithm, value: string): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(value).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}
