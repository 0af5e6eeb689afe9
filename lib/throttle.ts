/**
 * Brute-force protection for password logins (the form and the password grant): failures are
 * counted per user (per connector) and per client address in storage, so every instance sees
 * them. Past the limit, attempts are refused without checking the password until the window
 * ends. A success clears the user's count.
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

  /** Seconds until attempts are allowed again, or 0 when they are allowed now. */
  async retryAfter(connectorId: string, username: string, address: string): Promise<number> {
    let wait = 0;
    for (const [key, max] of this.keys(connectorId, username, address)) {
      const rec = await this.storage.find<Count>('loginAttempts', key);
      if (rec && rec.value.n >= max) wait = Math.max(wait, Math.ceil((rec.value.since + this.limits.windowMs - this.now()) / 1000));
    }
    return wait;
  }

  async failed(connectorId: string, username: string, address: string): Promise<void> {
    for (const [key] of this.keys(connectorId, username, address)) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const rec = await this.storage.find<Count>('loginAttempts', key);
        if (!rec) {
          const now = this.now();
          if (await this.storage.create<Count>('loginAttempts', key, { n: 1, since: now }, { expiresAt: now + this.limits.windowMs })) break;
        } else if (await this.storage.update<Count>('loginAttempts', key, rec.version, { ...rec.value, n: rec.value.n + 1 })) {
          break;
        }
      }
    }
  }

  async succeeded(connectorId: string, username: string): Promise<void> {
    await this.storage.destroy('loginAttempts', `user:${connectorId}:${username.trim().toLowerCase()}`);
  }
}
