/**
 * Compact JWS signing on `node:crypto`'s asynchronous `sign`, which runs on libuv's thread pool:
 * signatures use every core while the event loop keeps serving requests. Tokens are verified
 * with `jose` (tests, `/userinfo`), which checks this output against `/keys`.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import type { SigningAlgorithm } from '../config/settings.js';

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: KeyObject;
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function signJwt(payload: object, key: SigningKey): Promise<string> {
  const input = `${b64json({ alg: key.alg, kid: key.kid, typ: 'JWT' })}.${b64json(payload)}`;
  const data = Buffer.from(input);
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, sig: Buffer) => (err ? reject(err) : resolve(`${input}.${sig.toString('base64url')}`));
    switch (key.alg) {
      case 'RS256':
        sign('sha256', data, key.privateKey, done);
        break;
      case 'ES256':
        sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }, done);
        break;
      case 'EdDSA':
        sign(null, data, key.privateKey, done);
        break;
    }
  });
}

/**
 * `at_hash` / `c_hash` (OIDC Core 3.1.3.6): the left half of the hash the signature algorithm
 * uses, base64url. SHA-256 for RS256 and ES256; SHA-512 for EdDSA over Ed25519.
 */
export function halfHash(alg: SigningAlgorithm, value: string): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(value).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}
