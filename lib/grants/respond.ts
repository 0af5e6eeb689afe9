/** The token response shared by every grant. */
import type { BrokerContext } from '../context.js';
import type { Grant } from '../tokens/claims.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  id_token?: string;
  refresh_token?: string;
  scope?: string;
  issued_token_type?: string;
}

export async function tokenResponse(ctx: BrokerContext, grant: Grant, extra: { code?: string; refreshToken?: string } = {}): Promise<TokenResponse> {
  const minted = await ctx.minter.mint(grant, extra.code);
  return {
    access_token: minted.accessToken,
    token_type: 'bearer',
    expires_in: minted.expiresIn,
    ...(minted.idToken ? { id_token: minted.idToken } : {}),
    ...(extra.refreshToken ? { refresh_token: extra.refreshToken } : {}),
  };
}

/** Whether this connector can refresh at all (the broker must also hold the row and the scope). */
export function connectorRefreshes(ctx: BrokerContext, connectorId: string): boolean {
  return typeof ctx.connectors.get(connectorId)?.connector.refresh === 'function';
}

/** A client may use a connector only if it lists it (when it lists any) and the connector allows the grant. */
export function connectorAllowed(ctx: BrokerContext, clientAllowed: string[] | undefined, connectorId: string, grantType: string): boolean {
  if (clientAllowed && !clientAllowed.includes(connectorId)) return false;
  const conn = ctx.connectors.get(connectorId);
  return !!conn && (!conn.grantTypes || conn.grantTypes.includes(grantType));
}
