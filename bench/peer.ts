/**
 * The peer: `oidc-provider` 9 with a client equivalent to the bench's dexpress client
 * (confidential, client_secret_basic, ID tokens signed with the same algorithm, refresh tokens
 * rotated on every use as dexpress does), its default in-memory adapter, the mock user's claims.
 * Run as a child process: `node --import tsx bench/peer.ts <RS256|ES256> <tokens>`; prints one
 * JSON line `{ "port", "issuer", "refreshTokens": [...] }` once it listens.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

const alg = process.argv[2] === 'ES256' ? 'ES256' : 'RS256';
const count = Number(process.argv[3] ?? 32);

export const PEER_CLIENT = { id: 'example-app', secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0', redirectURI: 'http://127.0.0.1:5555/callback' };

const key = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const server = http.createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
const issuer = `http://127.0.0.1:${port}`;

/** The parts of oidc-provider's models this script uses (the package ships no types). */
interface Models {
  Client: { find(id: string): Promise<unknown> };
  Grant: new (init: { accountId: string; clientId: string }) => { addOIDCScope(scope: string): void; save(): Promise<string> };
  RefreshToken: new (init: Record<string, unknown>) => { save(): Promise<string> };
}

type Configuration = NonNullable<ConstructorParameters<typeof Provider>[1]>;
const configuration: Configuration & { rotateRefreshToken: boolean } = {
  clients: [
    {
      client_id: PEER_CLIENT.id,
      client_secret: PEER_CLIENT.secret,
      redirect_uris: [PEER_CLIENT.redirectURI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: alg,
    },
  ],
  jwks: { keys: [{ ...key.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg, use: 'sig' }] },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      claims: async () => ({ sub: id, email: 'kilgore@kilgore.trout', email_verified: true, name: 'Kilgore Trout', preferred_username: 'kilgore' }),
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  conformIdTokenClaims: false,
  rotateRefreshToken: true,
  cookies: { keys: ['bench-cookie-key'] },
};
const provider = new Provider(issuer, configuration);
server.on('request', provider.callback());
const models = provider as unknown as Models;

const client = await models.Client.find(PEER_CLIENT.id);
const scope = 'openid email profile offline_access';
const refreshTokens: string[] = [];
for (let i = 0; i < count; i++) {
  const grant = new models.Grant({ accountId: 'kilgore', clientId: PEER_CLIENT.id });
  grant.addOIDCScope(scope);
  const grantId = await grant.save();
  const rt = new models.RefreshToken({ accountId: 'kilgore', client, grantId, scope, gty: 'authorization_code', authTime: Math.floor(Date.now() / 1000) });
  refreshTokens.push(await rt.save());
}
process.stdout.write(`${JSON.stringify({ port, issuer, refreshTokens })}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
