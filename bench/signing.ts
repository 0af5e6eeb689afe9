/**
 * The signing ceiling of this machine, measured in the same run as the HTTP figures: how many
 * ID tokens per second it signs with the configured key type, on one core and on all cores,
 * through `jose` (WebCrypto key) and through `node:crypto` (synchronous on the main thread or in
 * one worker thread per core, and asynchronous on libuv's thread pool, which is dexpress's path).
 */
import { generateKeyPairSync, sign as signSync, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { importJWK, SignJWT } from 'jose';
import type { SigningAlgorithm } from '../lib/config/settings.js';
import { sign as signCb } from 'node:crypto';
import type { SigningKey } from '../lib/tokens/jws.js';

export type Alg = Extract<SigningAlgorithm, 'RS256' | 'ES256'>;

export interface SigningFigures {
  /** Signatures per second. */
  joseOneCore: number;
  joseAllCores: number;
  cryptoSyncOneCore: number;
  cryptoSyncAllCores: number;
  threadPoolOneAtATime: number;
  threadPoolAllCores: number;
  /** The fastest all-core path of jose and the thread pool, as the issue defines the ceiling. */
  ceiling: number;
  ceilingPath: string;
}

/** Claims the size of a dexpress ID token for the mock user. */
export const samplePayload = {
  iss: 'http://127.0.0.1:5556/dex',
  sub: 'Cg0wLTM4NS0yODA4OS0wEgRtb2Nr',
  aud: 'example-app',
  exp: 1_900_000_000,
  iat: 1_800_000_000,
  auth_time: 1_800_000_000,
  at_hash: 'Zp6xNL0iSHl0OGtHxEaRBA',
  c_hash: '4e9pYqG2yyG6Q6Dj0b-2Gw',
  email: 'kilgore@kilgore.trout',
  email_verified: true,
  name: 'Kilgore Trout',
  preferred_username: 'kilgore',
};

/** Concurrent signatures in flight for the "all cores" asynchronous figures. */
const IN_FLIGHT = 64;

function keyPair(alg: Alg): KeyObject {
  return alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

async function countFor(ms: number, lanes: number, once: () => Promise<unknown>): Promise<number> {
  const end = performance.now() + ms;
  let n = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (performance.now() < end) {
        await once();
        n++;
      }
    }),
  );
  return n / (ms / 1000);
}

function syncOnce(alg: Alg, key: KeyObject, data: Buffer): Buffer {
  return alg === 'RS256' ? signSync('sha256', data, key) : signSync('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
}

function countSync(ms: number, alg: Alg, key: KeyObject): number {
  const data = Buffer.from(`eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(samplePayload)).toString('base64url')}`);
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    syncOnce(alg, key, data);
    n++;
  }
  return n / (ms / 1000);
}

/** One worker thread per core, each signing synchronously for `ms`. */
async function countSyncWorkers(ms: number, alg: Alg, key: KeyObject): Promise<number> {
  const pem = key.export({ format: 'pem', type: 'pkcs8' });
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { createPrivateKey, sign } = require('node:crypto');
    const key = createPrivateKey(workerData.pem);
    const data = Buffer.from('eyJhbGciOiJSUzI1NiJ9.' + Buffer.from(workerData.payload).toString('base64url'));
    const end = performance.now() + workerData.ms;
    let n = 0;
    while (performance.now() < end) {
      workerData.alg === 'RS256' ? sign('sha256', data, key) : sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
      n++;
    }
    parentPort.postMessage(n);
  `;
  const counts = await Promise.all(
    Array.from(
      { length: availableParallelism() },
      () =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(code, { eval: true, workerData: { pem, alg, ms, payload: JSON.stringify(samplePayload) } });
          w.once('message', (n: number) => resolve(n));
          w.once('error', reject);
        }),
    ),
  );
  return counts.reduce((a, b) => a + b, 0) / (ms / 1000);
}

/** A compact JWS signed asynchronously on libuv's thread pool, whatever the algorithm. */
function signJwtOnPool(payload: object, key: SigningKey): Promise<string> {
  const input = `${Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid, typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const options = key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' as const } : key.privateKey;
  return new Promise((resolve, reject) => {
    signCb('sha256', Buffer.from(input), options, (err, sig) => (err ? reject(err) : resolve(`${input}.${sig.toString('base64url')}`)));
  });
}

export async function measureSigning(alg: Alg, ms: number): Promise<SigningFigures> {
  const key = keyPair(alg);
  const cryptoKey = await importJWK({ ...key.export({ format: 'jwk' }), alg }, alg);
  const jose = () => new SignJWT(samplePayload).setProtectedHeader({ alg, kid: 'k', typ: 'JWT' }).sign(cryptoKey);
  const signingKey: SigningKey = { kid: 'k', alg, privateKey: key };
  const pool = () => signJwtOnPool(samplePayload, signingKey);

  await countFor(200, IN_FLIGHT, jose); // warm-up
  const joseOneCore = await countFor(ms, 1, jose);
  const joseAllCores = await countFor(ms, IN_FLIGHT, jose);
  const cryptoSyncOneCore = countSync(ms, alg, key);
  const cryptoSyncAllCores = await countSyncWorkers(ms, alg, key);
  await countFor(200, IN_FLIGHT, pool);
  const threadPoolOneAtATime = await countFor(ms, 1, pool);
  const threadPoolAllCores = await countFor(ms, IN_FLIGHT, pool);
  const ceilingPath = joseAllCores >= threadPoolAllCores ? 'jose (WebCrypto), all cores' : 'node:crypto on the thread pool, all cores';
  return {
    joseOneCore,
    joseAllCores,
    cryptoSyncOneCore,
    cryptoSyncAllCores,
    threadPoolOneAtATime,
    threadPoolAllCores,
    ceiling: Math.max(joseAllCores, threadPoolAllCores),
    ceilingPath,
  };
}

/** The ceiling alone (jose and the thread pool, all cores), quickly: measured again in every round. */
export async function measureCeiling(alg: Alg, ms: number): Promise<number> {
  const key = keyPair(alg);
  const cryptoKey = await importJWK({ ...key.export({ format: 'jwk' }), alg }, alg);
  const signingKey: SigningKey = { kid: 'k', alg, privateKey: key };
  const jose = await countFor(ms / 2, IN_FLIGHT, () => new SignJWT(samplePayload).setProtectedHeader({ alg, kid: 'k', typ: 'JWT' }).sign(cryptoKey));
  const pool = await countFor(ms / 2, IN_FLIGHT, () => signJwtOnPool(samplePayload, signingKey));
  return Math.max(jose, pool);
}
