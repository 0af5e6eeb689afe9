/**
 * `id_token_hint` (authorization requests and logout): an ID token this broker signed, possibly
 * expired. Returns its claims, or undefined when the signature or issuer is not the broker's, or
 * the token is an access token. A storage failure while loading keys propagates (503).
 */
import { compactVerify, decodeJwt, type JWTPayload } from 'jose';
import type { BrokerContext } from './context.js';
import { StorageUnavailableError } from './errors.js';

export async function verifyIdTokenHint(ctx: BrokerContext, hint: string): Promise<JWTPayload | undefined> {
  try {
    await compactVerify(hint, async (header) => {
      const found = header.kid ? await ctx.keys.verificationKey(header.kid) : undefined;
      if (!found || found.alg !== header.alg) throw new Error('unknown key');
      return found.key;
    });
    const claims = decodeJwt(hint);
    // Access tokens carry `scope`; only an ID token is a hint.
    return claims.iss === ctx.settings.issuer && claims.scope === undefined ? claims : undefined;
  } catch (err) {
    if (err instanceof StorageUnavailableError) throw err;
    return undefined;
  }
}

/** The client an ID token was issued to: its single audience, or `azp` with several. */
export function clientOfIdToken(claims: JWTPayload): string | undefined {
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const id = aud.length === 1 ? aud[0] : claims.azp;
  return typeof id === 'string' ? id : undefined;
}
