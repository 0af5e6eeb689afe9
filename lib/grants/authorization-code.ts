/**
 * The `authorization_code` grant. The code is consumed atomically before anything is compared,
 * so of two concurrent redemptions exactly one gets tokens; a second use finds a tombstone and
 * revokes the refresh token the first one issued (RFC 6749 section 4.1.2). The storage writes of
 * one redemption form one transaction.
 */
import { createHash } from 'node:crypto';
import type { ClientSettings } from '../config/settings.js';
import type { BrokerContext } from '../context.js';
import { OAuthError } from '../errors.js';
import { AUTH_CODE_TTL_MS, type AuthCode } from '../flow.js';
import { secretsEqual } from '../clients.js';
import { mayIssueRefreshToken, type Grant } from '../tokens/claims.js';
import { connectorRefreshes, tokenResponse, type TokenResponse } from './respond.js';

interface UsedCode {
  clientId: string;
  refreshId?: string;
}

export function checkPkceVerifier(pkce: AuthCode['pkce'], verifier: string | undefined): void {
  if (!pkce) {
    if (verifier !== undefined) throw new OAuthError('invalid_grant', 'code_verifier was sent, but the authorization request had no code_challenge.');
    return;
  }
  if (!verifier) throw new OAuthError('invalid_grant', 'Expecting parameter code_verifier in PKCE flow.');
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) throw new OAuthError('invalid_grant', 'code_verifier is malformed.');
  const computed = pkce.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
  if (!secretsEqual(computed, pkce.challenge)) throw new OAuthError('invalid_grant', 'Invalid code_verifier.');
}

const invalidCode = () => new OAuthError('invalid_grant', 'Invalid or expired code parameter.');

/** What the transaction decided: a refusal (committed too: the code stays used up) or the grant. */
type Redemption = { refused: OAuthError } | { grant: Grant; refresh?: { id: string; token: string } };

export async function authorizationCodeGrant(ctx: BrokerContext, client: ClientSettings, body: Record<string, string>): Promise<TokenResponse> {
  const code = body.code;
  if (!code) throw new OAuthError('invalid_request', 'Required param: code.');
  // Load the signing key first: a storage outage then fails the request before anything is written.
  await ctx.keys.signingKey();
  // One transaction: the code consumed, the refresh token created and the tombstone written all
  // happen, or (storage failing midway) none of them, and the client may retry with the code.
  const outcome = await ctx.storage.transaction(async (tx): Promise<Redemption> => {
    const record = await tx.consume<AuthCode>('authCode', code);
    if (!record) {
      const used = await tx.consume<UsedCode>('usedCode', code);
      if (used?.refreshId && used.clientId === client.id) {
        await ctx.refreshTokens.revoke(used.refreshId, tx);
        ctx.logger.warn({ client: client.id }, 'authorization code reused: tokens issued from it were revoked');
      }
      return { refused: invalidCode() };
    }
    if (record.clientId !== client.id) return { refused: invalidCode() };
    if (body.redirect_uri !== record.redirectURI) return { refused: new OAuthError('invalid_grant', 'redirect_uri did not match URI from initial request.') };
    try {
      checkPkceVerifier(record.pkce, body.code_verifier);
    } catch (err) {
      if (err instanceof OAuthError) return { refused: err };
      throw err;
    }
    const grant: Grant = {
      clientId: client.id,
      connectorId: record.connectorId,
      connectorType: record.connectorType,
      scopes: record.scopes,
      claims: record.claims,
      ...(record.nonce ? { nonce: record.nonce } : {}),
      authTime: record.authTime,
    };
    let refresh: { id: string; token: string } | undefined;
    if (mayIssueRefreshToken(grant, connectorRefreshes(ctx, record.connectorId))) {
      refresh = await ctx.refreshTokens.create(
        {
          clientId: client.id,
          connectorId: record.connectorId,
          connectorType: record.connectorType,
          scopes: record.scopes,
          claims: record.claims,
          ...(record.connectorData !== undefined ? { connectorData: record.connectorData } : {}),
          ...(record.nonce ? { nonce: record.nonce } : {}),
          authTime: record.authTime,
        },
        tx,
      );
    }
    await tx.create<UsedCode>('usedCode', code, { clientId: client.id, ...(refresh ? { refreshId: refresh.id } : {}) }, { expiresAt: ctx.now() + AUTH_CODE_TTL_MS });
    return { grant, ...(refresh ? { refresh } : {}) };
  });
  if ('refused' in outcome) throw outcome.refused;
  return tokenResponse(ctx, outcome.grant, { code, ...(outcome.refresh ? { refreshToken: outcome.refresh.token } : {}) });
}
