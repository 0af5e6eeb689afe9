/**
 * The bcrypt costs the password DB accepts: Dex's `passwords.CheckCost` bounds. Below 10 a
 * stolen hash is cheap to crack; above 16 each login costs the server seconds of CPU.
 */

/** bcrypt's default cost, Dex's minimum. */
export const MIN_BCRYPT_COST = 10;
/** Dex's upper bound ("determined by benchmarking"); Dex recommends 12. */
export const MAX_BCRYPT_COST = 16;

/** The cost of a `$2a$`/`$2b$`/`$2y$` bcrypt hash, `undefined` when it is not one. */
export function bcryptCost(hash: string): number | undefined {
  const match = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/.exec(hash);
  return match ? Number(match[1]) : undefined;
}
