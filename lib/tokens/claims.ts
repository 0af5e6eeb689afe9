/**
 * Which claims a token carries, decided by the scopes granted and the connector's capability
 * row (DESIGN.md point 3 and 4). Both ID tokens, access tokens and `/userinfo` use this.
 */
import type { Capabilities } from '../capabilities.js';
import type { Claims } from '../identity.js';
import { encodeSubject } from './subject.js';

export const CROSS_CLIENT_PREFIX = 'audience:server:client_id:';

/** Everything a token is minted from. */
export interface Grant {
  clientId: string;
  connectorId: string;
  /** The connector's type, which selects its capability row. */
  connectorType: string;
  scopes: string[];
  claims: Claims;
  nonce?: string;
  /** When the user logged in (seconds). */
  authTime?: number;
}

/** The peers named by `audience:server:client_id:<peer>` scopes. */
export function peersOf(scopes: readonly string[]): string[] {
  return scopes.filter((s) => s.startsWith(CROSS_CLIENT_PREFIX)).map((s) => s.slice(CROSS_CLIENT_PREFIX.length));
}

/**
 * `aud`: the peers asked for, plus the client itself. Trust is not checked here: the grants
 * call `checkPeersTrust` (grants/respond.ts) before anything is signed.
 */
export function audienceOf(grant: Grant): string[] {
  const peers = peersOf(grant.scopes);
  if (peers.length === 0) return [grant.clientId];
  return peers.includes(grant.clientId) ? peers : [...peers, grant.clientId];
}

/** The identity claims the scopes and the capability row allow (no iss/aud/exp). */
export function identityClaims(grant: Grant, caps: Capabilities | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { sub: encodeSubject(grant.claims.userId, grant.connectorId) };
  for (const scope of grant.scopes) {
    switch (scope) {
      case 'email':
        if (grant.claims.email !== undefined) out.email = grant.claims.email;
        out.email_verified = grant.claims.emailVerified;
        break;
      case 'groups':
        // Dex's `groups,omitempty`: a user in no group gets no groups claim.
        if (caps?.groups && grant.claims.groups.length > 0) out.groups = grant.claims.groups;
        break;
      case 'profile':
        out.name = grant.claims.username;
        if (caps?.preferredUsername && grant.claims.preferredUsername) out.preferred_username = grant.claims.preferredUsername;
        break;
      case 'federated:id':
        out.federated_claims = { connector_id: grant.connectorId, user_id: grant.claims.userId };
        break;
    }
  }
  return out;
}

/** What the broker's configuration says about refreshing one grant's login. */
export interface RefreshAllowance {
  /** The capability row of the connector's type says refresh: yes. */
  rowAllowsRefresh: boolean;
  /** The connector implements `refresh`. */
  connectorRefreshes: boolean;
  /** The `refresh_token` grant is enabled (`oauth2.grantTypes`) and the connector's `grantTypes` allow it. */
  refreshGrantAllowed: boolean;
}

/**
 * Whether a refresh token may be issued (Dex's `shouldIssueRefreshToken`): asked for, allowed by
 * the capability row, implemented by the connector, and the refresh grant enabled for it: a
 * refresh token that could never be redeemed is not handed out.
 */
export function mayIssueRefreshToken(grant: Pick<Grant, 'scopes'>, allowance: RefreshAllowance): boolean {
  if (!grant.scopes.includes('offline_access')) return false;
  return allowance.rowAllowsRefresh && allowance.connectorRefreshes && allowance.refreshGrantAllowed;
}
