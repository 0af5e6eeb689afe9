/**
 * Signing keys: generated on first start, kept in storage so restarts and other instances use
 * the same ones, rotated every `rotationMs`. A rotated-out public key stays in `/keys` until the
 * last token it signed has expired (`idTokensMs` later). Rotation is a compare-and-swap on the
 * stored key set, so of several instances exactly one rotates; the others re-read.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { SigningAlgorithm } from '../config/settings.js';
import type { Clock, Storage } from '../storage/index.js';
import type { SigningKey } from './jws.js';

interface StoredKey {
  kid: string;
  alg: SigningAlgorithm;
  publicJwk: JsonWebKey;
}

interface KeySet {
  signing: StoredKey & { privateJwk: JsonWebKey };
  /** Previous public keys, each kept until `expiresAt`. */
  verification: (StoredKey & { expiresAt: number })[];
  nextRotation: number;
}

export interface PublicJwk extends JsonWebKey {
  kid: string;
  alg: string;
  use: 'sig';
}

const generate = promisify(generateKeyPair);

async function newKey(alg: SigningAlgorithm): Promise<KeySet['signing']> {
  const pair =
    alg === 'RS256'
      ? await generate('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? await generate('ec', { namedCurve: 'P-256' })
        : await generate('ed25519');
  return {
    kid: randomBytes(20).toString('hex'),
    alg,
    privateJwk: pair.privateKey.export({ format: 'jwk' }),
    publicJwk: pair.publicKey.export({ format: 'jwk' }),
  };
}

const KEYS_ID = 'signing';
/** How often an instance re-reads the key set to notice another instance's rotation. */
const RELOAD_MS = 30_000;
/**
 * The shortest rotation period: Dex checks its keys every 30 s, so a shorter `keysRotationPeriod`
 * (0s included) rotates every 30 s there. Taken as given, it would generate a key at every token
 * and `/keys` request, and keep each in `/keys` for `expiry.idTokens`.
 */
export const MIN_ROTATION_MS = 30_000;

export class KeyManager {
  private cached?: { set: KeySet; signing: SigningKey; loadedAt: number };
  private pending: Promise<void> | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly options: { algorithm: SigningAlgorithm; rotationMs: number; idTokensMs: number },
    private readonly now: Clock = Date.now,
  ) {}

  private nextRotation(now: number): number {
    return now + Math.max(this.options.rotationMs, MIN_ROTATION_MS);
  }

  /** The key to sign with now, rotating first if it is due. */
  async signingKey(): Promise<SigningKey> {
    const c = this.cached;
    const now = this.now();
    if (c && now < c.set.nextRotation && now - c.loadedAt < RELOAD_MS) return c.signing;
    this.pending ??= this.refresh().finally(() => {
      this.pending = undefined;
    });
    await this.pending;
    return this.cached!.signing;
  }

  /** Every public key a live token may have been signed with: the JWKS of `/keys`. */
  async publicKeys(): Promise<PublicJwk[]> {
    await this.signingKey();
    const set = this.cached!.set;
    const now = this.now();
    const all = [set.signing, ...set.verification.filter((k) => k.expiresAt > now)];
    return all.map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig' as const }));
  }

  /** Public key objects by kid, for verifying our own tokens (`/userinfo`). */
  /** Parsed public keys by kid (a kid names one key forever), so verifying does not parse JWKs again. */
  private readonly keyObjects = new Map<string, KeyObject>();

  async verificationKey(kid: string): Promise<{ key: KeyObject; alg: SigningAlgorithm } | undefined> {
    const jwk = (await this.publicKeys()).find((k) => k.kid === kid);
    if (!jwk) return undefined;
    let key = this.keyObjects.get(kid);
    if (!key) {
      const { kid: _kid, alg: _alg, use: _use, ...material } = jwk;
      key = createPublicKey({ key: material, format: 'jwk' });
      this.keyObjects.set(kid, key);
    }
    return { key, alg: jwk.alg as SigningAlgorithm };
  }

  private async refresh(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = this.now();
      const record = await this.storage.find<KeySet>('keys', KEYS_ID);
      if (!record) {
        const set: KeySet = { signing: await newKey(this.options.algorithm), verification: [], nextRotation: this.nextRotation(now) };
        if (await this.storage.create('keys', KEYS_ID, set)) return this.use(set, now);
        continue;
      }
      const set = record.value;
      if (now < set.nextRotation && set.signing.alg === this.options.algorithm) return this.use(set, now);
      const old = set.signing;
      const rotated: KeySet = {
        signing: await newKey(this.options.algorithm),
        verification: [
          { kid: old.kid, alg: old.alg, publicJwk: old.publicJwk, expiresAt: now + this.options.idTokensMs },
          ...set.verification.filter((k) => k.expiresAt > now),
        ],
        nextRotation: this.nextRotation(now),
      };
      if (await this.storage.update('keys', KEYS_ID, record.version, rotated)) return this.use(rotated, now);
    }
    throw new Error('could not load or rotate the signing keys (storage kept changing underneath)');
  }

  private use(set: KeySet, now: number): void {
    const live = new Set([set.signing.kid, ...set.verification.map((k) => k.kid)]);
    for (const kid of this.keyObjects.keys()) if (!live.has(kid)) this.keyObjects.delete(kid);
    const signing: SigningKey = {
      kid: set.signing.kid,
      alg: set.signing.alg,
      privateKey: createPrivateKey({ key: set.signing.privateJwk, format: 'jwk' }),
    };
    this.cached = { set, signing, loadedAt: now };
  }
}
