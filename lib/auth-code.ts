/** The authorization code `/auth` gives out and `/token` redeems: its record, and the tombstone it leaves. */
import type { AuthRequest } from './auth-request.js';
import type { JsonValue } from './identity.js';

export interface AuthCode {
  clientId: string;
  redirectURI: string;
  scopes: string[];
  nonce?: string;
  pkce?: AuthRequest['pkce'];
  connectorId: string;
  connectorType: string;
  claims: NonNullable<AuthRequest['identity']>['claims'];
  connectorData?: JsonValue;
  authTime: number;
}

/** What a redeemed code's record becomes (same kind and id): who redeemed it, and what it issued. */
export interface UsedCode {
  used: true;
  clientId: string;
  refreshId?: string;
}

/** A code record: not yet redeemed, or its tombstone. */
export function isUsedCode(record: AuthCode | UsedCode): record is UsedCode {
  return (record as Partial<UsedCode>).used === true;
}

/** Lifetime of an authorization code (RFC 6749 recommends at most ten minutes). */
export const AUTH_CODE_TTL_MS = 10 * 60_000;
