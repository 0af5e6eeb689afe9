/**
 * Mints the ID token and the access token of one token response. Both are signed JWTs, as in
 * Dex (clients such as Kubernetes read the access token's claims too); the ID token binds the
 * access token with `at_hash` and the code with `c_hash`.
 */
import type { CapabilityLookup } from '../capabilities.js';
import type { Clock } from '../storage/index.js';
import { audienceOf, identityClaims, type Grant } from './claims.js';
import { halfHash, signJwt } from './jws.js';
import type { KeyManager } from './keys.js';
import { randomToken } from './random.js';

export interface MintedTokens {
  accessToken: string;
  idToken?: string;
  expiresIn: number;
}

export class TokenMinter {
  constructor(
    private readonly issuer: string,
    private readonly keys: KeyManager,
    private readonly idTokensMs: number,
    /** The capability row of each connector type, which decides the `groups` and `preferred_username` claims. */
    private readonly capabilities: CapabilityLookup,
    private readonly now: Clock = Date.now,
  ) {}

  async mint(grant: Grant, code?: string): Promise<MintedTokens> {
    const key = await this.keys.signingKey();
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + Math.floor(this.idTokensMs / 1000);
    const aud = audienceOf(grant);
    const base: Record<string, unknown> = {
      iss: this.issuer,
      ...identityClaims(grant, this.capabilities(grant.connectorType)),
      aud: aud.length === 1 ? aud[0] : aud,
      exp,
      iat,
      ...(aud.length > 1 ? { azp: grant.clientId } : {}),
      ...(grant.authTime !== undefined ? { auth_time: grant.authTime } : {}),
    };
    const accessClaims = { ...base, jti: randomToken(16), scope: grant.scopes.join(' ') };
    const accessToken = await signJwt(accessClaims, key);
    if (!grant.scopes.includes('openid')) return { accessToken, expiresIn: exp - iat };
    const idClaims = {
      ...base,
      ...(grant.nonce ? { nonce: grant.nonce } : {}),
      at_hash: halfHash(key.alg, accessToken),
      ...(code ? { c_hash: halfHash(key.alg, code) } : {}),
    };
    return { accessToken, idToken: await signJwt(idClaims, key), expiresIn: exp - iat };
  }
}
