/** The token response shared by every grant. */
import { peerTrusts } from '../clients.js';
import type { BrokerContext } from '../context.js';
import { OAuthError } from '../errors.js';
import { peersOf, type Grant, type RefreshAllowance } from '../tokens/claims.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  id_token?: string;
  refresh_token?: string;
  scope?: string;
  issued_token_type?: string;
}

/**
 * Cross-client trust is checked again whenever tokens are minted, as Dex does on every signing:
 * a peer removed from the config, or one that no longer lists the client in `trustedPeers`,
 * ends the refresh tokens and codes that asked for it in `aud` (`invalid_grant`). The check at
 * `/auth` alone would let a refresh token keep minting tokens for that peer.
 */
export function checkPeersTrust(ctx: BrokerContext, clientId: string, scopes: readonly string[]): void {
  const untrusted = peersOf(scopes).filter((peer) => !peerTrusts(ctx.clients, peer, clientId));
  if (untrusted.length === 0) return;
  const named = untrusted.map((peer) => `"${peer}"`).join(', ');
  throw new OAuthError(
    'invalid_grant',
    `Client ${named} no longer trusts client "${clientId}" (trustedPeers): tokens with it in aud cannot be issued; ask without the audience:server:client_id: scope for it, or log in again.`,
  );
}

export async function tokenResponse(ctx: BrokerContext, grant: Grant, extra: { code?: string; refreshToken?: string } = {}): Promise<TokenResponse> {
  checkPeersTrust(ctx, grant.clientId, grant.scopes);
  const minted = await ctx.minter.mint(grant, extra.code);
  return {
    access_token: minted.accessToken,
    token_type: 'bearer',
    expires_in: minted.expiresIn,
    ...(minted.idToken ? { id_token: minted.idToken } : {}),
    ...(extra.refreshToken ? { refresh_token: extra.refreshToken } : {}),
  };
}

/**
 * What the configuration allows for refreshing a login through this connector (see
 * `mayIssueRefreshToken`), given the login's `connectorData`. A login through a handed-over Passport
 * strategy that kept nothing to refresh with (a bare profile: no upstream token, no LDAP entry)
 * cannot be refreshed by the type's `refresh`, so it gets no refresh token.
 */
export function refreshAllowance(ctx: BrokerContext, connectorId: string, connectorData: unknown): RefreshAllowance {
  const conn = ctx.connectors.get(connectorId);
  return {
    rowAllowsRefresh: conn !== undefined && ctx.capabilities(conn.type)?.refresh === true,
    connectorRefreshes: typeof conn?.connector.refresh === 'function' && !(conn.foreign && connectorData === undefined),
    refreshGrantAllowed: ctx.settings.oauth2.grantTypes.includes('refresh_token') && connectorAllowed(ctx, undefined, connectorId, 'refresh_token'),
  };
}

/** A client may use a connector only if it lists it (when it lists any) and the connector allows the grant. */
export function connectorAllowed(ctx: BrokerContext, clientAllowed: string[] | undefined, connectorId: string, grantType: string): boolean {
  if (clientAllowed && !clientAllowed.includes(connectorId)) return false;
  const conn = ctx.connectors.get(connectorId);
  return !!conn && (!conn.grantTypes || conn.grantTypes.includes(grantType));
}
