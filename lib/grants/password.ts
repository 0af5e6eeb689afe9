/**
 * The resource owner password grant (RFC 6749 section 4.3), enabled by
 * `oauth2.passwordConnector`. Wrong credentials are `invalid_grant`.
 */
import type { IncomingMessage } from 'node:http';
import type { ClientSettings } from '../config/settings.js';
import type { BrokerContext } from '../context.js';
import { AccessDeniedError, OAuthError, StorageUnavailableError, UpstreamError } from '../errors.js';
import { assertIdentity, scopesFrom } from '../identity.js';
import { checkScopeParam } from './scopes.js';
import { mayIssueRefreshToken, type Grant } from '../tokens/claims.js';
import { connectorAllowed, refreshAllowance, tokenResponse, type TokenResponse } from './respond.js';

export async function passwordGrant(ctx: BrokerContext, client: ClientSettings, body: Record<string, string>, req: IncomingMessage): Promise<TokenResponse> {
  const connectorId = ctx.settings.oauth2.passwordConnector;
  const conn = connectorId ? ctx.connectors.get(connectorId) : undefined;
  if (!conn?.connector.login) throw new OAuthError('unsupported_grant_type', 'The password grant is not enabled.');
  if (!connectorAllowed(ctx, client.allowedConnectors, conn.id, 'password')) {
    throw new OAuthError('unauthorized_client', `Client "${client.id}" may not use connector "${conn.id}".`);
  }
  const username = (body.username ?? '').trim();
  const password = body.password ?? '';
  if (username === '' || password === '') throw new OAuthError('invalid_request', 'Required params: username and password.');
  const scopes = checkScopeParam(ctx, client, body.scope ?? 'openid');
  const address = ctx.clientAddress(req);
  let guarded;
  try {
    guarded = await ctx.throttle.guard(conn.id, username, address, (admit) => conn.connector.login!(username, password, scopesFrom(scopes), admit));
  } catch (err) {
    if (err instanceof StorageUnavailableError) throw err;
    if (err instanceof AccessDeniedError) throw new OAuthError('invalid_grant', err.message);
    ctx.logger.warn({ err, connector: conn.id }, 'password grant: connector failed');
    throw err instanceof UpstreamError
      ? new OAuthError('temporarily_unavailable', `${conn.name} cannot be reached right now.`, 503)
      : new OAuthError('server_error', 'The login could not be checked.', 500);
  }
  if (guarded.throttled) {
    ctx.logger.warn({ connector: conn.id, client: client.id, username, address }, 'password grant throttled');
    throw new OAuthError('temporarily_unavailable', `Too many failed login attempts; try again in ${guarded.retryAfter} seconds.`, 429, { retryAfter: guarded.retryAfter });
  }
  const found = guarded.result;
  if (!found) {
    ctx.logger.info({ connector: conn.id, client: client.id, username, address }, 'password grant refused: wrong credentials');
    throw new OAuthError('invalid_grant', 'Invalid username or password.');
  }
  const identity = assertIdentity(found);
  const { connectorData: plainData, ...claims } = identity;
  const connectorData = ctx.sealer.seal(plainData);
  const authTime = Math.floor(ctx.now() / 1000);
  const grant: Grant = { clientId: client.id, connectorId: conn.id, connectorType: conn.type, scopes, claims, authTime };
  let refreshToken: string | undefined;
  if (mayIssueRefreshToken(grant, refreshAllowance(ctx, conn.id, connectorData))) {
    ({ token: refreshToken } = await ctx.refreshTokens.create({
      clientId: client.id,
      connectorId: conn.id,
      connectorType: conn.type,
      scopes,
      claims,
      ...(connectorData !== undefined ? { connectorData } : {}),
      authTime,
    }));
  }
  return tokenResponse(ctx, grant, refreshToken ? { refreshToken } : {});
}
