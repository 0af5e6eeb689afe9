/**
 * The `authorization_code` grant. Redeeming turns the code's record into a tombstone in place, by
 * compare-and-swap, so of two concurrent redemptions exactly one gets tokens; a later use finds
 * the tombstone and revokes the refresh token the first one issued (RFC 6749 section 4.1.2)
 * while the code would have been valid. The storage writes of one redemption (refresh token,
 * tombstone) form one transaction. Rewriting the record in place rather than deleting it and
 * writing a tombstone elsewhere halves the pages SQLite writes per redemption (bench/).
 */
import { createHash } from 'node:crypto';
import type { ClientSettings } from '../config/settings.js';
import type { BrokerContext } from '../context.js';
import { notePkceS256 } from '../pkce.js';
import { OAuthError } from '../errors.js';
import { isUsedCode, type AuthCode, type UsedCode } from '../auth-code.js';
import { secretsEqual } from '../clients.js';
import { mayIssueRefreshToken, type Grant } from '../tokens/claims.js';
import { checkPeersTrust, refreshAllowance, tokenResponse, type TokenResponse } from './respond.js';

/** Another redemption of the same code committed first: this one's writes are rolled back. */
class RedeemedMeanwhile extends Error {}

export function checkPkceVerifier(pkce: AuthCode['pkce'], sent: string | undefined): void {
  // An empty code_verifier is none, as Dex reads the form (clients that always send the field).
  const verifier = sent === '' ? undefined : sent;
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
type Redemption = { refused: OAuthError } | { grant: Grant; refresh?: { id: string; token: string }; s256: boolean };

export async function authorizationCodeGrant(ctx: BrokerContext, client: ClientSettings, body: Record<string, string>): Promise<TokenResponse> {
  const code = body.code;
  if (!code) throw new OAuthError('invalid_request', 'Required param: code.');
  // Load the signing key first: a storage outage then fails the request before anything is written.
  await ctx.keys.signingKey();
  // One transaction: the refresh token created and the code turned into its tombstone both
  // happen, or (storage failing midway) neither, and the client may retry with the code.
  const outcome = await ctx.storage.transaction(async (tx): Promise<Redemption> => {
    const found = await tx.find<AuthCode | UsedCode>('authCode', code);
    if (!found) return { refused: invalidCode() };
    const record = found.value;
    /** The code is used up by any presentation, good or bad (a stolen code cannot be retried). */
    const useUp = async (tombstone: UsedCode) => {
      // The code's own expiry stays: a reuse is detected for as long as the code was valid.
      if (!(await tx.update<AuthCode | UsedCode>('authCode', code, found.version, tombstone))) throw new RedeemedMeanwhile();
    };
    if (isUsedCode(record)) {
      if (record.refreshId && record.clientId === client.id) {
        await ctx.refreshTokens.revoke(record.refreshId, tx);
        ctx.logger.warn({ client: client.id }, 'authorization code reused: tokens issued from it were revoked');
      }
      return { refused: invalidCode() };
    }
    let refused: OAuthError | undefined;
    if (record.clientId !== client.id) refused = invalidCode();
    else if (body.redirect_uri !== record.redirectURI) refused = new OAuthError('invalid_grant', 'redirect_uri did not match URI from initial request.');
    else {
      try {
        checkPkceVerifier(record.pkce, body.code_verifier);
        checkPeersTrust(ctx, client.id, record.scopes);
      } catch (err) {
        if (!(err instanceof OAuthError)) throw err;
        refused = err;
      }
    }
    if (refused) {
      await useUp({ used: true, clientId: record.clientId });
      return { refused };
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
    if (mayIssueRefreshToken(grant, refreshAllowance(ctx, record.connectorId, record.connectorData))) {
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
    await useUp({ used: true, clientId: client.id, ...(refresh ? { refreshId: refresh.id } : {}) });
    return { grant, ...(refresh ? { refresh } : {}), s256: record.pkce?.method === 'S256' };
  }).catch((err: unknown) => {
    if (err instanceof RedeemedMeanwhile) return { refused: invalidCode() };
    throw err;
  });
  if ('refused' in outcome) throw outcome.refused;
  if (outcome.s256) {
    // No downgrade to plain from now on. The redemption has committed: a storage failure here
    // must not cost the client its tokens (a retry would find the code used up and revoke them);
    // the mark is written by a later S256 redemption.
    await notePkceS256(ctx, client.id).catch((err: unknown) => ctx.logger.warn({ err, client: client.id }, 'could not mark the client as using PKCE S256'));
  }
  return tokenResponse(ctx, outcome.grant, { code, ...(outcome.refresh ? { refreshToken: outcome.refresh.token } : {}) });
}
