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
    const minted = await this.sign(grant, { accessToken: true, idToken: grant.scopes.includes('openid'), ...(code !== undefined ? { code } : {}) });
    return { accessToken: minted.accessToken!, ...(minted.idToken ? { idToken: minted.idToken } : {}), expiresIn: minted.expiresIn };
  }

  /**
   * The tokens of an implicit or hybrid authorization response: the access token (as from
   * `/token`) when `token` was asked for, the ID token when `id_token` was, with `at_hash` and
   * `c_hash` binding the access token and the code sent with it (OIDC Core 3.2.2.10, 3.3.2.11).
   */
  async mintFrontChannel(grant: Grant, want: { accessToken: boolean; idToken: boolean; code?: string }): Promise<Partial<MintedTokens> & { expiresIn: number }> {
    return this.sign(grant, want);
  }

  private async sign(grant: Grant, want: { accessToken: boolean; idToken: boolean; code?: string }): Promise<Partial<MintedTokens> & { expiresIn: number }> {
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
    const accessToken = want.accessToken ? await signJwt({ ...base, jti: randomToken(16), scope: grant.scopes.join(' ') }, key) : undefined;
    if (!want.idToken) return { ...(accessToken ? { accessToken } : {}), expiresIn: exp - iat };
    const idClaims = {
      ...base,
      ...(grant.nonce ? { nonce: grant.nonce } : {}),
      ...(accessToken ? { at_hash: halfHash(key.alg, accessToken) } : {}),
      ...(want.code ? { c_hash: halfHash(key.alg, want.code) } : {}),
    };
    return { ...(accessToken ? { accessToken } : {}), idToken: await signJwt(idClaims, key), expiresIn: exp - iat };
  }
}
