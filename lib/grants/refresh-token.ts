/**
 * The `refresh_token` grant: the token must be current (or the previous one within the reuse
 * window), the connector re-reads the user upstream and its answer replaces the old claims, the
 * scope may only narrow, and the token rotates. A connector that refuses is `invalid_grant`,
 * unless a concurrent refresh of the same token succeeded meanwhile (then this one answers as
 * that one did); an upstream that cannot be reached is 503 `temporarily_unavailable` (the token
 * stays valid); never a 500.
 */
import type { ClientSettings } from '../config/settings.js';
import type { BrokerContext } from '../context.js';
import { OAuthError, UpstreamError, errorMessage, publicSummary } from '../errors.js';
import { assertIdentity, scopesFrom, type Identity } from '../identity.js';
import type { Grant } from '../tokens/claims.js';
import type { RefreshRecord } from '../tokens/refresh.js';
import { checkPeersTrust, connectorAllowed, tokenResponse, type TokenResponse } from './respond.js';

function narrowScopes(record: RefreshRecord, requested: string | undefined): string[] {
  if (requested === undefined || requested.trim() === '') return record.scopes;
  const scopes = [...new Set(requested.split(' ').filter((s) => s !== ''))];
  const extra = scopes.filter((s) => !record.scopes.includes(s));
  if (extra.length > 0) throw new OAuthError('invalid_scope', `Requested scopes ${JSON.stringify(extra)} were not granted originally.`);
  return scopes;
}

/**
 * How long a refused upstream refresh waits before it looks once more whether another request
 * (on this instance or another) rotated the same token. Upstreams that rotate their own refresh
 * tokens (GitLab, many OIDC providers) refuse the second of two concurrent refreshes; the first
 * may not have stored its answer yet when the refusal arrives.
 */
const REFUSAL_RECHECK_MS = 250;

/** Whether the stored token changed since `version` was read: right away, or after a short wait. */
async function changedMeanwhile(ctx: BrokerContext, token: string, clientId: string, version: number): Promise<boolean> {
  const changed = async () => {
    try {
      const now = await ctx.refreshTokens.present(token, clientId, false);
      return now.kind === 'reused' || now.version !== version;
    } catch (err) {
      if (err instanceof OAuthError) return false; // revoked or expired meanwhile: the refusal stands
      throw err;
    }
  };
  if (await changed()) return true;
  await new Promise((resolve) => setTimeout(resolve, REFUSAL_RECHECK_MS));
  return changed();
}

function grantOf(client: ClientSettings, record: RefreshRecord, scopes: string[]): Grant {
  return {
    clientId: client.id,
    connectorId: record.connectorId,
    connectorType: record.connectorType,
    scopes,
    claims: record.claims,
    ...(record.nonce ? { nonce: record.nonce } : {}),
    ...(record.authTime !== undefined ? { authTime: record.authTime } : {}),
  };
}

export async function refreshTokenGrant(ctx: BrokerContext, client: ClientSettings, body: Record<string, string>): Promise<TokenResponse> {
  const token = body.refresh_token;
  if (!token) throw new OAuthError('invalid_request', 'Required param: refresh_token.');
  for (let attempt = 0; attempt < 3; attempt++) {
    // After the first attempt this request lost a race to a concurrent one: not a replay.
    const presented = await ctx.refreshTokens.present(token, client.id, attempt === 0);
    const scopes = narrowScopes(presented.record, body.scope);
    checkPeersTrust(ctx, client.id, scopes);
    if (!connectorAllowed(ctx, client.allowedConnectors, presented.record.connectorId, 'refresh_token')) {
      throw new OAuthError('invalid_grant', 'This client may no longer use the connector of this refresh token.');
    }
    if (presented.kind === 'reused') {
      return tokenResponse(ctx, grantOf(client, presented.record, scopes), { refreshToken: presented.token });
    }
    const conn = ctx.connectors.get(presented.record.connectorId);
    if (!conn?.connector.refresh) throw new OAuthError('invalid_grant', 'The connector of this refresh token can no longer refresh.');
    const claims = presented.record.claims;
    const connectorData = ctx.sealer.open(presented.record.connectorData);
    let identity: Identity;
    try {
      const refresh = conn.connector.refresh.bind(conn.connector);
      identity = assertIdentity(
        await ctx.metrics.timeUpstream(conn.id, 'refresh', () => refresh({ ...claims, ...(connectorData !== undefined ? { connectorData } : {}) }, scopesFrom(presented.record.scopes))),
      );
    } catch (err) {
      // An upstream that cannot be reached says nothing about the login: the refresh token stays
      // valid (it was not rotated) and the client may retry. Anything else is a refusal, unless a
      // concurrent refresh of this token won upstream meanwhile: then answer as it did.
      const unreachable = err instanceof UpstreamError;
      if (!unreachable && (await changedMeanwhile(ctx, token, client.id, presented.version))) continue;
      ctx.metrics.refreshFailures.inc({ connector: conn.id });
      ctx.logger.info({ connector: conn.id, reason: errorMessage(err) }, 'upstream refresh failed');
      if (unreachable) {
        throw new OAuthError('temporarily_unavailable', `${publicSummary(err, conn.name)} right now; try again later.`, 503);
      }
      throw new OAuthError('invalid_grant', 'The upstream identity provider no longer accepts this login.');
    }
    if (identity.userId !== claims.userId) throw new OAuthError('invalid_grant', 'The upstream returned another user.');
    const { connectorData: newData, ...newClaims } = identity;
    // Load the signing key before rotating: a storage outage (or a key rotation failing) then
    // fails the request while the presented token is still current, so the client's retry
    // works. Failing after the rotation would leave the client with the rotated-out token, a
    // replay once the reuse window is over: its login revoked.
    await ctx.keys.signingKey();
    const rotated = await ctx.refreshTokens.rotate(presented, { claims: newClaims, scopes: presented.record.scopes, connectorData: ctx.sealer.seal(newData) });
    if (rotated === undefined) continue; // another request rotated first: present again, within the reuse window
    return tokenResponse(ctx, grantOf(client, { ...presented.record, claims: newClaims }, scopes), { refreshToken: rotated });
  }
  throw new OAuthError('invalid_grant', 'Refresh token is being used concurrently; try again.');
}
