/**
 * The storage adapter: a small async key-value interface over kinds of records (auth requests,
 * codes, refresh tokens, keys, ...), in the style of oidc-provider's adapters. Values are JSON.
 * Every backend passes the one behavioural suite in `conformance.ts` (`dexpress/storage-conformance`).
 *
 * Concurrency guarantees every backend gives, because the broker relies on them when several
 * instances share one database:
 * - `consume` is atomic: of two concurrent consumers of one id, exactly one gets the value.
 * - `update` is compare-and-swap on `version`: it writes only if nobody wrote since `find`.
 * - `create` fails (returns false) if the id exists.
 * - `increment` adds to a counter in one step: concurrent increments are all counted.
 * - `transaction` runs several operations as one: all of their writes happen, or none.
 * Expired records are invisible to every read and removed by `gc`.
 */

export type Kind =
  | 'authRequest'
  | 'authCode'
  | 'refreshToken'
  | 'offlineSession'
  | 'keys'
  | 'client'
  | 'password'
  | 'session'
  | 'deviceRequest'
  | 'deviceToken'
  | 'loginAttempts';

export interface StoredRecord<T> {
  value: T;
  /** Increases by one on every write; the token for `update`. */
  version: number;
  /** Milliseconds since the epoch, or null for records that never expire. */
  expiresAt: number | null;
}

export interface WriteOptions {
  expiresAt?: number | null;
  /** Groups records for `destroyByOwner` (a token family, a user's offline session). */
  owner?: string;
}

/** The record operations, available on the storage and inside a transaction. */
export interface StorageOps {
  /** Inserts a record; returns false (and writes nothing) if the id exists and has not expired. */
  create<T>(kind: Kind, id: string, value: T, options?: WriteOptions): Promise<boolean>;
  find<T>(kind: Kind, id: string): Promise<StoredRecord<T> | undefined>;
  /** Inserts or replaces. */
  upsert<T>(kind: Kind, id: string, value: T, options?: WriteOptions): Promise<void>;
  /** Compare-and-swap: writes only if the stored version still is `version`. */
  update<T>(kind: Kind, id: string, version: number, value: T, options?: WriteOptions): Promise<boolean>;
  /** Reads and deletes in one atomic step; a second consumer gets undefined. */
  consume<T>(kind: Kind, id: string): Promise<T | undefined>;
  destroy(kind: Kind, id: string): Promise<boolean>;
  /**
   * Adds `by` (an integer) to the counter `id` in one atomic step and returns its new value. A
   * counter is a record whose value is an integer (read by `find` like any other). When there is
   * none, or it has expired, a positive `by` creates it at `by`, expiring at `expiresAt`: a window
   * that starts at the first increment, which later increments keep. A negative `by` only lowers
   * a live counter, never below 0, and creates nothing (it returns 0). A record of the id whose
   * value is not an integer counts as no counter.
   */
  increment(kind: Kind, id: string, by: number, expiresAt: number | null): Promise<number>;
  destroyByOwner(kind: Kind, owner: string): Promise<number>;
  count(kind: Kind): Promise<number>;
}

export interface Storage extends StorageOps {
  readonly type: string;
  /**
   * Runs `fn` with operations that commit together when it resolves and are all undone when it
   * throws (the error is rethrown). Other callers never see a transaction half done; of two
   * transactions consuming one record, exactly one gets it. Keep `fn` short: storage
   * operations only, no network calls (it may hold a database connection or a lock). `fn` must
   * use `tx`, never the storage itself: in-process backends hold every other caller until the
   * transaction ends, so such a call would wait forever.
   */
  transaction<T>(fn: (tx: StorageOps) => Promise<T>): Promise<T>;
  /** Removes expired records; returns how many. */
  gc(): Promise<number>;
  /** Resolves when the backend answers (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type Clock = () => number;
