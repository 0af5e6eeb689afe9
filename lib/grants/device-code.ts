/**
 * The device authorization grant (RFC 8628 section 3.4): the device polls `/token` with its
 * device code. Until the user has logged in in a browser the answer is `authorization_pending`
 * (`slow_down` when it polls faster than its interval, which then grows by 5 s, as Dex does);
 * after the deadline `expired_token`; `access_denied` when the user refused. An approved device
 * code is consumed atomically with the refresh token's creation, so it yields exactly one token
 * response; a poll refused before that (a wrong PKCE verifier) leaves the code for the next one,
 * as Dex does. Tokens are minted when the device collects them, not when the user approves.
 */
import type { ClientSettings } from '../config/settings.js';
import type { BrokerContext } from '../context.js';
import { OAuthError } from '../errors.js';
import type { AuthRequest } from '../auth-request.js';
import type { Claims, JsonValue } from '../identity.js';
import { mayIssueRefreshToken, type Grant } from '../tokens/claims.js';
import { checkPkceVerifier } from './authorization-code.js';
import { checkPeersTrust, refreshAllowance, tokenResponse, type TokenResponse } from './respond.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Seconds a device waits between polls (RFC 8628 default and Dex's value). */
export const POLL_INTERVAL_S = 5;

/**
 * How long a device token is kept after its deadline, so that a late poll hears
 * `expired_token` rather than `invalid_grant`.
 */
export const EXPIRED_TOKEN_GRACE_MS = 30 * 60_000;

/** `deviceRequest`, keyed by the user code (`XXXX-XXXX`): what the browser side needs. */
export interface DeviceRequest {
  deviceCode: string;
  clientId: string;
  scopes: string[];
  expiresAt: number;
}

/** `deviceToken`, keyed by the device code: what the polling side needs. */
export interface DeviceToken {
  clientId: string;
  scopes: string[];
  pkce?: AuthRequest['pkce'];
  /** The deadline (ms); the stored record lives `EXPIRED_TOKEN_GRACE_MS` longer. */
  expiresAt: number;
  lastPollAt: number;
  /** The interval the device must keep, in seconds; 0 before the first poll. */
  intervalS: number;
  status: 'pending' | 'approved' | 'denied';
  /** Set on approval: who logged in, with which connector. */
  login?: { connectorId: string; connectorType: string; claims: Claims; connectorData?: JsonValue; authTime: number };
}

type Collected = { refused: OAuthError } | { grant: Grant; refreshToken?: string };

const unknownCode = () => new OAuthError('invalid_grant', 'Invalid or expired device code.');

export async function deviceCodeGrant(ctx: BrokerContext, client: ClientSettings, body: Record<string, string>): Promise<TokenResponse> {
  const deviceCode = body.device_code;
  if (!deviceCode) throw new OAuthError('invalid_request', 'Required param: device_code.');
  const rec = await ctx.storage.find<DeviceToken>('deviceToken', deviceCode);
  if (!rec || rec.value.clientId !== client.id) throw unknownCode();
  const token = rec.value;
  const now = ctx.now();
  if (now > token.expiresAt) throw new OAuthError('expired_token', 'The device code has expired. Start the device login again.');
  if (token.status === 'pending') return poll(ctx, deviceCode, rec.version, token, now);
  if (token.status === 'denied') {
    await ctx.storage.consume('deviceToken', deviceCode);
    throw new OAuthError('access_denied', 'The user refused to grant access.');
  }
  // Checked on the stored record, before the code is consumed: a refused poll must not burn it.
  checkPkceVerifier(token.pkce, body.code_verifier);
  checkPeersTrust(ctx, client.id, token.scopes);
  return collect(ctx, client, deviceCode);
}

/** A poll before approval: record it, and say whether the device is polling too fast. */
async function poll(ctx: BrokerContext, deviceCode: string, version: number, token: DeviceToken, now: number): Promise<never> {
  const tooSoon = now < token.lastPollAt + token.intervalS * 1000;
  const intervalS = tooSoon ? token.intervalS + 5 : POLL_INTERVAL_S;
  const written = await ctx.storage.update<DeviceToken>('deviceToken', deviceCode, version, { ...token, lastPollAt: now, intervalS }, {
    expiresAt: token.expiresAt + EXPIRED_TOKEN_GRACE_MS,
  });
  // Losing the race to a concurrent poll of the same code means polling too fast as well.
  if (tooSoon || !written) throw new OAuthError('slow_down', `Poll at most every ${intervalS} seconds.`);
  throw new OAuthError('authorization_pending', 'The user has not completed the login yet.');
}

/** The approved device collects its tokens: the code is consumed in the same transaction. */
async function collect(ctx: BrokerContext, client: ClientSettings, deviceCode: string): Promise<TokenResponse> {
  await ctx.keys.signingKey();
  const outcome = await ctx.storage.transaction(async (tx): Promise<Collected> => {
    const token = await tx.consume<DeviceToken>('deviceToken', deviceCode);
    if (!token?.login || token.status !== 'approved' || token.clientId !== client.id) return { refused: unknownCode() };
    const { login } = token;
    const grant: Grant = {
      clientId: client.id,
      connectorId: login.connectorId,
      connectorType: login.connectorType,
      scopes: token.scopes,
      claims: login.claims,
      authTime: login.authTime,
    };
    if (!mayIssueRefreshToken(grant, refreshAllowance(ctx, login.connectorId, login.connectorData))) return { grant };
    const refresh = await ctx.refreshTokens.create(
      { ...grant, ...(login.connectorData !== undefined ? { connectorData: login.connectorData } : {}), authTime: login.authTime },
      tx,
    );
    return { grant, refreshToken: refresh.token };
  });
  if ('refused' in outcome) throw outcome.refused;
  ctx.logger.info({ client: client.id, connector: outcome.grant.connectorId }, 'device collected its tokens');
  return tokenResponse(ctx, outcome.grant, outcome.refreshToken ? { refreshToken: outcome.refreshToken } : {});
}
