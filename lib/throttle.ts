/**
 * Brute-force protection for password logins (the form and the password grant): attempts are
 * counted per user (per connector) and per client address in storage, so every instance sees
 * them, before the password is checked. Past the limit, attempts are refused without checking
 * the password until the window ends. A success clears the user's count and gives the address
 * its attempt back, so only failures accumulate.
 */
import type { Clock, Storage } from './storage/index.js';

export interface ThrottleLimits {
  /** Failed attempts for one username before it is locked for the rest of the window. */
  perUser: number;
  /** Failed attempts from one client address (any username). */
  perAddress: number;
  /** Length of the counting window, in milliseconds. */
  windowMs: number;
}

export const DEFAULT_LIMITS: ThrottleLimits = { perUser: 10, perAddress: 100, windowMs: 15 * 60_000 };

interface Count {
  n: number;
  since: number;
}

export class LoginThrottle {
  constructor(
    private readonly storage: Storage,
    private readonly now: Clock,
    private readonly limits: ThrottleLimits = DEFAULT_LIMITS,
  ) {}

  private keys(connectorId: string, username: string, address: string): [string, number][] {
    return [
      [`user:${connectorId}:${username.trim().toLowerCase()}`, this.limits.perUser],
      [`addr:${address}`, this.limits.perAddress],
    ];
  }

  /**
   * Counts an attempt before the password is checked (so parallel guesses cannot all slip past
   * the limit) and answers how many seconds the caller must wait: 0 to go ahead.
   */
  async attempt(connectorId: string, username: string, address: string): Promise<number> {
    let wait = 0;
    for (const [key, max] of this.keys(connectorId, username, address)) {
      const count = await this.bump(key, 1);
      if (count && count.n > max) wait = Math.max(wait, Math.ceil((count.since + this.limits.windowMs - this.now()) / 1000));
    }
    return wait;
  }

  /** A right password: the user's count is cleared and the address's attempt given back. */
  async succeeded(connectorId: string, username: string, address: string): Promise<void> {
    const [[userKey], [addressKey]] = this.keys(connectorId, username, address) as [[string, number], [string, number]];
    await this.storage.destroy('loginAttempts', userKey);
    await this.bump(addressKey, -1);
  }

  /** The password could not be checked (upstream down): the attempt does not count. */
  async release(connectorId: string, username: string, address: string): Promise<void> {
    for (const [key] of this.keys(connectorId, username, address)) await this.bump(key, -1);
  }

  /** Adds `delta` to a count (compare-and-swap); a count that does not exist starts now. */
  private async bump(key: string, delta: number): Promise<Count | undefined> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const rec = await this.storage.find<Count>('loginAttempts', key);
      if (!rec) {
        if (delta < 0) return undefined;
        const now = this.now();
        const value = { n: delta, since: now };
        if (await this.storage.create<Count>('loginAttempts', key, value, { expiresAt: now + this.limits.windowMs })) return value;
        continue;
      }
      const value = { ...rec.value, n: Math.max(0, rec.value.n + delta) };
      if (await this.storage.update<Count>('loginAttempts', key, rec.version, value)) return value;
    }
    throw new Error('the login attempt counter kept changing');
  }
}
