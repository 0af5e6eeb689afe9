/**
 * The smallest broker that does what a dexpress refresh does, as a yardstick: bare `node:http`,
 * `jose` signing (WebCrypto keys, the thread pool), refresh tokens in a Map, rotated on every use,
 * two signed JWTs per answer (access token, then the ID token with its `at_hash`), nothing else:
 * no storage, no connector, no metrics, no logs. It shows what the machine allows for a
 * two-signature response, next to the peer's one. Run as a child process:
 * `node --import tsx bench/minimal.ts <RS256|ES256> <tokens>`; prints `{ "port", "refreshTokens" }`.
 */
import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { importJWK, SignJWT } from 'jose';
import { samplePayload } from './signing.js';

const alg = process.argv[2] === 'ES256' ? 'ES256' : 'RS256';
const count = Number(process.argv[3] ?? 32);
const CLIENT = { id: 'example-app', secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0' };
const basic = createHash('sha256').update(`Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`).digest();

const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
const key = await importJWK({ ...pair.privateKey.export({ format: 'jwk' }), alg }, alg);
const header = { alg, kid: 'k', typ: 'JWT' };

const tokens = new Map<string, { sub: string }>();
const newToken = (sub: string) => {
  const token = randomBytes(32).toString('base64url');
  tokens.set(token, { sub });
  return token;
};
const refreshTokens = Array.from({ length: count }, () => newToken(samplePayload.sub));

function answer(res: http.ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), 'Cache-Control': 'no-store' });
  res.end(json);
}

async function refresh(form: URLSearchParams): Promise<Record<string, unknown>> {
  const presented = form.get('refresh_token') ?? '';
  const grant = tokens.get(presented);
  if (form.get('grant_type') !== 'refresh_token' || !grant) throw new Error('invalid_grant');
  tokens.delete(presented);
  const iat = Math.floor(Date.now() / 1000);
  const claims = { ...samplePayload, iat, exp: iat + 86400 };
  const accessToken = await new SignJWT({ ...claims, jti: randomBytes(16).toString('base64url') }).setProtectedHeader(header).sign(key);
  const atHash = createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');
  const idToken = await new SignJWT({ ...claims, at_hash: atHash }).setProtectedHeader(header).sign(key);
  return { access_token: accessToken, token_type: 'bearer', expires_in: 86400, id_token: idToken, refresh_token: newToken(grant.sub) };
}

const server = http.createServer((req, res) => {
  const auth = createHash('sha256').update(req.headers.authorization ?? '').digest();
  if (req.method !== 'POST' || req.url !== '/token' || !timingSafeEqual(auth, basic)) return answer(res, 401, { error: 'invalid_client' });
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    refresh(new URLSearchParams(Buffer.concat(chunks).toString())).then(
      (body) => answer(res, 200, body),
      () => answer(res, 400, { error: 'invalid_grant' }),
    );
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port, refreshTokens })}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
