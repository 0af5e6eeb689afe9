/**
 * RFC 8693 token exchange, as Dex has it: a client trades an upstream token, verified by the
 * connector named in `connector_id`, for a broker token. No refresh token comes out of it.
 */
import type { ClientSettings } from '../config/settings.js';
import type { BrokerContext } from '../context.js';
import { OAuthError, StorageUnavailableError, UpstreamError, errorMessage } from '../errors.js';
import { assertIdentity, type Identity } from '../identity.js';
import type { Grant } from '../tokens/claims.js';
import { checkScopeParam } from './scopes.js';
import { connectorAllowed, tokenResponse, type TokenResponse } from './respond.js';

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';

export async function tokenExchangeGrant(ctx: BrokerContext, client: ClientSettings, body: Record<string, string>): Promise<TokenResponse> {
  const { subject_token: subjectToken, subject_token_type: subjectTokenType, connector_id: connectorId } = body;
  if (!subjectToken) throw new OAuthError('invalid_request', 'Required param: subject_token.');
  if (!connectorId) throw new OAuthError('invalid_request', 'Required param: connector_id.');
  // Empty is absent, as Dex reads the form: an access token, and the openid scope only.
  const requested = body.requested_token_type || ACCESS_TOKEN;
  if (requested !== ACCESS_TOKEN && requested !== ID_TOKEN) throw new OAuthError('invalid_request', `requested_token_type ${requested} is not supported.`);
  const conn = ctx.connectors.get(connectorId);
  if (!conn) throw new OAuthError('invalid_request', `Unknown connector "${connectorId}".`);
  if (!connectorAllowed(ctx, client.allowedConnectors, conn.id, 'urn:ietf:params:oauth:grant-type:token-exchange')) {
    throw new OAuthError('unauthorized_client', `Client "${client.id}" may not use connector "${conn.id}" for token exchange.`);
  }
  // Dex's rule and answer, before the connector sees the token: only these two types (a missing one included).
  if (subjectTokenType !== ACCESS_TOKEN && subjectTokenType !== ID_TOKEN) throw new OAuthError('request_not_supported', 'Invalid subject_token_type.');
  if (!conn.connector.tokenIdentity) throw new OAuthError('invalid_request', `Connector "${conn.id}" does not support token exchange.`);
  const scopes = checkScopeParam(ctx, client, body.scope?.trim() ? body.scope : 'openid');
  let identity: Identity;
  try {
    identity = assertIdentity(await conn.connector.tokenIdentity(subjectTokenType, subjectToken));
  } catch (err) {
    throw exchangeRefusal(ctx, conn, err);
  }
  const { connectorData: _data, ...claims } = identity;
  const grant: Grant = { clientId: client.id, connectorId: conn.id, connectorType: conn.type, scopes, claims };
  const res = await tokenResponse(ctx, grant);
  if (requested === ID_TOKEN) {
    if (!res.id_token) throw new OAuthError('invalid_request', 'An ID token needs the openid scope.');
    return { access_token: res.id_token, token_type: 'bearer', expires_in: res.expires_in, issued_token_type: ID_TOKEN };
  }
  return { access_token: res.access_token, token_type: 'bearer', expires_in: res.expires_in, issued_token_type: ACCESS_TOKEN };
}

/**
 * What the client hears when the connector did not vouch for the subject token. The connector
 * refusing it (bad signature, expired, another issuer, userinfo saying 401) is Dex's 401
 * `access_denied`; the upstream failing (unreachable, a 5xx, its keys not fetched) is 503
 * `temporarily_unavailable`, as for the password and refresh grants, so a client does not throw
 * away a good token because the identity provider was down (Dex answers `access_denied` to both).
 */
function exchangeRefusal(ctx: BrokerContext, conn: { id: string; name: string }, err: unknown): OAuthError | StorageUnavailableError {
  if (err instanceof StorageUnavailableError) return err;
  if (err instanceof UpstreamError) {
    ctx.logger.warn({ err, connector: conn.id }, 'token exchange: the connector could not check the subject token');
    return new OAuthError('temporarily_unavailable', `${conn.name} cannot be reached right now.`, 503);
  }
  ctx.logger.info({ connector: conn.id, reason: errorMessage(err) }, 'token exchange refused');
  return new OAuthError('access_denied', 'The subject token was not accepted.', 401);
}
