/**
 * What every backend checks or normalises the same way before a record reaches it, so that
 * memory, SQLite and PostgreSQL agree on edge cases.
 */

/**
 * An expiry as the backends store it: whole milliseconds (PostgreSQL's `bigint` refuses a
 * fraction). Rounded up, so a record never expires before the time asked for.
 */
export function expiryMs(expiresAt: number | null | undefined): number | null {
  return expiresAt === undefined || expiresAt === null ? null : Math.ceil(expiresAt);
}
