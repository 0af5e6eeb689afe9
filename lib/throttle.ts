/**
 * Brute-force protection for password logins (the form and the password grant).
 *
 * Failures are counted per user (per connector) and per client address in storage, so every
 * instance sees them; past the limit, attempts are refused without checking the password until
 * the window (which starts at the first failure) ends, and a right password clears the user's
 * count. Each counter is one storage counter, added to atomically, so parallel failures are all
 * counted on every backend.
 *
 * An attempt is counted before its password is checked, so no checked password can go uncounted
 * (a storage failure stops the attempt before the check: 503, nothing learnt). A right password
 * then takes its count back from the address and clears the user's; so does an upstream that
 * could not be asked. If storage fails on that way back too, the attempt stays counted: erring
 * toward the limit, and for one window at most.
 *
 * Parallel guesses: each attempt is counted first and decided by the count its own increment
 * returns, so a burst sent at once (for one username or many, on one instance or several) is cut
 * off exactly at the limit; an attempt over the limit is refused unchecked and not counted. The
 * checks for one username also run one after another within an instance, so a burst of right
 * passwords for it is never throttled by its own counts (right passwords typed at once through
 * several usernames of one account near its limit can be).
 *
 * Several usernames can reach one account (LDAP with `username: [uid, mail]`: `alice` and
 * `alice@example.org`). A connector that finds the account before checking the password asks
 * `admit` with the account's id, and the account has a counter of its own with the per-user
 * limit, kept like the user's: so respelling the username buys no more attempts. Refused by the
 * account's lock, an attempt still counts for its address.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { Admit } from './connector.js';
import type { Clock, Storage } from './storage/index.js';

export interface ThrottleLimits {
  /** Wrong passwords for one username before it is locked for the rest of the window. */
  perUser: number;
  /** Wrong passwords from one client address (any username). */
  perAddress: number;
  /** Length of the counting window, in milliseconds. */
  windowMs: number;
}

export const DEFAULT_LIMITS: ThrottleLimits = { perUser: 10, perAddress: 100, windowMs: 15 * 60_000 };

/** Mapped to nothing by LDAP string preparation (RFC 4518 §2.2): soft hyphens, joiners, variation selectors, ZWSP, U+FFFC, other controls and format characters. */
const MAPPED_TO_NOTHING = /[\u00AD\u1806\u034F\u180B-\u180D\uFE00-\uFE0F\uFFFC\u200B]|(?![\t\n\v\f\r\u0085])[\p{Cc}\p{Cf}]/gu;
/** Mapped to a space (RFC 4518 §2.2), then runs of spaces count as one (§2.6.1, insignificant space handling). */
const SPACES = /[\t\n\v\f\r\u0085\p{Zs}\p{Zl}\p{Zp}]+/gu;

/**
 * The username as the per-user counter sees it: every spelling a directory matches as the same
 * user must be one key, or each spelling gets its own attempts. LDAP's caseIgnoreMatch (RFC 4518)
 * ignores case, compatibility forms (fullwidth `ａｌｉｃｅ`), leading, trailing and repeated inner
 * spaces and invisible characters; so does this key (NFKC, case folded, spaces collapsed).
 * Stricter than a given upstream is harmless here: it only merges counters.
 */
export function throttleUsername(username: string): string {
  const mapped = username.replace(MAPPED_TO_NOTHING, '').replace(SPACES, ' ');
  // Lower, upper, lower approximates full case folding (ẞ → ß → ss); NFKC before and after, as RFC 4518 does.
  const folded = mapped.normalize('NFKC').toLowerCase().toUpperCase().toLowerCase().normalize('NFKC');
  return folded.replace(SPACES, ' ').trim();
}

/**
 * The storage id of a user's counter: a hash of the folded username, so any username (of any
 * length, with any characters) makes a short id that every backend can store.
 */
export function userCounterId(connectorId: string, username: string): string {
  return `user:${connectorId}:${createHash('sha256').update(throttleUsername(username)).digest('base64url')}`;
}

/** The storage id of an account's counter (see `Admit`): a hash of the id the connector gave. */
export function accountCounterId(connectorId: string, account: string): string {
  return `account:${connectorId}:${createHash('sha256').update(account).digest('base64url')}`;
}

/**
 * The client address as the per-address counters see it: an IPv6 address by its /64 prefix, the
 * smallest block a network is handed (RFC 6177), since whoever has one address of it can send
 * from all 2^64; otherwise each step to a new address would buy a fresh count. IPv4 as it is.
 */
export function throttleAddress(address: string): string {
  if (isIP(address) !== 6) return address;
  const bare = address.replace(/%.*$/, '');
  const groups = (part: string) => (part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const [head = '', tail] = bare.split('::');
  const before = groups(head);
  const after = tail === undefined ? [] : groups(tail);
  const full = [...before, ...Array<string>(8 - before.length - after.length).fill('0'), ...after];
  return `${full.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

export type Guarded<T> = { throttled: true; retryAfter: number } | { throttled: false; result: T };

export class LoginThrottle {
  /** The tail of each user's queue of checks in this instance. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly storage: Storage,
    private readonly now: Clock,
    private readonly limits: ThrottleLimits = DEFAULT_LIMITS,
  ) {}

  /**
   * Runs one password check for `username` under the limits. `check` resolves to the identity,
   * or null for a wrong password; if it throws (upstream down), the attempt is taken back. It
   * hands `admit` to a connector that can name the account before it checks the password.
   */
  async guard<T>(connectorId: string, username: string, address: string, check: (admit: Admit) => Promise<T | null>): Promise<Guarded<T | null>> {
    const userKey = userCounterId(connectorId, username);
    const addressKey = `addr:${throttleAddress(address)}`;
    const previous = this.queues.get(userKey) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = previous.then(() => mine);
    this.queues.set(userKey, tail);
    await previous;
    try {
      const windowEnd = this.now() + this.limits.windowMs;
      // Count first, and decide by the counts the increments return: parallel attempts (other
      // usernames from one address, other instances) each see their own place in the count.
      const users = await this.storage.increment('loginAttempts', userKey, 1, windowEnd);
      let addresses: number;
      try {
        addresses = await this.storage.increment('loginAttempts', addressKey, 1, windowEnd);
      } catch (err) {
        await this.uncount(userKey, windowEnd).catch(() => {}); // nothing was checked: no charge
        throw err;
      }
      if (users > this.limits.perUser || addresses > this.limits.perAddress) {
        // Over a limit: refused unchecked, and not counted (the lock ends with the window).
        await Promise.allSettled([this.uncount(userKey, windowEnd), this.uncount(addressKey, windowEnd)]);
        const retryAfter = Math.max(await this.retryAfter(userKey, this.limits.perUser), await this.retryAfter(addressKey, this.limits.perAddress));
        return { throttled: true, retryAfter: Math.max(1, retryAfter) };
      }
      // The account's counter, once the connector names it: counted first too, decided by its count.
      let account: { key: string; locked: boolean } | undefined;
      const admit: Admit = async (id) => {
        if (account) return !account.locked; // one account per attempt
        const key = accountCounterId(connectorId, id);
        const count = await this.storage.increment('loginAttempts', key, 1, windowEnd);
        account = { key, locked: count > this.limits.perUser };
        if (account.locked) await this.uncount(key, windowEnd).catch(() => {}); // refused unchecked: not counted
        return !account.locked;
      };
      const counted = () => [userKey, addressKey, ...(account && !account.locked ? [account.key] : [])];
      let result: T | null;
      try {
        result = await check(admit);
      } catch (err) {
        // Not a wrong password: take the attempt back (if storage fails too, it stays counted).
        await Promise.allSettled(counted().map((key) => this.uncount(key, windowEnd)));
        throw err;
      }
      if (account?.locked) {
        // The account is locked (through another of its usernames): its password was not checked,
        // so this username is not charged. The address is: the attempt cost a directory search,
        // and each one tells whether a username reaches the locked account.
        await this.uncount(userKey, windowEnd).catch(() => {});
        return { throttled: true, retryAfter: Math.max(1, await this.retryAfter(account.key, this.limits.perUser)) };
      }
      if (result !== null) await this.forgive(account ? [userKey, account.key] : [userKey], addressKey, windowEnd);
      return { throttled: false, result };
    } finally {
      done();
      if (this.queues.get(userKey) === tail) this.queues.delete(userKey);
    }
  }

  /** Seconds until `key` may try again, 0 when it may now. */
  private async retryAfter(key: string, max: number): Promise<number> {
    const rec = await this.storage.find<unknown>('loginAttempts', key);
    if (!rec || typeof rec.value !== 'number' || rec.value < max) return 0;
    const end = rec.expiresAt ?? this.now() + this.limits.windowMs;
    return Math.max(1, Math.ceil((end - this.now()) / 1000));
  }

  /**
   * Takes one attempt back from `key`, unless its window (ending at `windowEnd`) is over: the
   * live counter then belongs to a newer window and to someone else's failures.
   */
  private async uncount(key: string, windowEnd: number): Promise<void> {
    if (this.now() >= windowEnd) return;
    await this.storage.increment('loginAttempts', key, -1, null);
  }

  /**
   * A right password: the user's (and the account's) failures are cleared and this attempt leaves
   * the address's count. If clearing fails, this attempt is still taken back from that count, so
   * storage failing on that one step cannot add up to a lockout of the user typing the right
   * password.
   */
  private async forgive(cleared: string[], addressKey: string, windowEnd: number): Promise<void> {
    const outcomes = await Promise.allSettled([
      ...cleared.map((key) =>
        this.storage.destroy('loginAttempts', key).catch(async (err: unknown) => {
          await this.uncount(key, windowEnd).catch(() => {});
          throw err;
        }),
      ),
      this.uncount(addressKey, windowEnd),
    ]);
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
