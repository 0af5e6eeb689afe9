/**
 * What every backend checks or normalises the same way before a record reaches it, so that
 * memory, SQLite and PostgreSQL agree on edge cases.
 */
import { DexpressError } from '../errors.js';
import type { Kind, StorageOps, WriteOptions } from './types.js';

/**
 * An expiry as the backends store it: whole milliseconds (PostgreSQL's `bigint` refuses a
 * fraction). Rounded up, so a record never expires before the time asked for.
 */
export function expiryMs(expiresAt: number | null | undefined): number | null {
  return expiresAt === undefined || expiresAt === null ? null : Math.ceil(expiresAt);
}

/**
 * Longest id or owner a record may have, in UTF-16 code units: at most 1,536 bytes of UTF-8,
 * well inside PostgreSQL's limit on a btree index entry (2,704 bytes). The broker's own ids are
 * far shorter (random tokens, hashes); a longer one can only come from a request.
 */
export const MAX_KEY_LENGTH = 512;

/**
 * Whether `key` can be stored as an id or owner on every backend: no NUL (PostgreSQL's text
 * refuses it) and at most `MAX_KEY_LENGTH` long. Lookups of any other key find nothing.
 */
export function isStorableKey(key: string): boolean {
  return key.length <= MAX_KEY_LENGTH && !key.includes('\u0000');
}

/** A write with an id or owner no backend can store: a bug in the caller, never a request's fault. */
export class InvalidStorageKeyError extends DexpressError {
  constructor(what: 'id' | 'owner', kind: Kind, key: string) {
    const why = key.includes('\u0000') ? 'contains NUL' : `is ${key.length} characters long, more than ${MAX_KEY_LENGTH}`;
    super('invalid_storage_key', `a ${kind} record's ${what} ${why}`);
  }
}

function checkWrite(kind: Kind, id: string, options: WriteOptions | undefined): void {
  if (!isStorableKey(id)) throw new InvalidStorageKeyError('id', kind, id);
  if (options?.owner !== undefined && !isStorableKey(options.owner)) throw new InvalidStorageKeyError('owner', kind, options.owner);
}

/**
 * `ops` with the key rule of every backend: reading, consuming, updating or deleting an id (or
 * owner) that cannot be stored finds nothing, so a request's value never reaches the database as
 * a key; creating or upserting one rejects with `InvalidStorageKeyError`. Calls `ops` without
 * yielding first (the in-process backends rely on that).
 */
export function withKeyRule(ops: StorageOps): StorageOps {
  return {
    create: async (kind, id, value, options) => {
      checkWrite(kind, id, options);
      return ops.create(kind, id, value, options);
    },
    find: (kind, id) => (isStorableKey(id) ? ops.find(kind, id) : Promise.resolve(undefined)),
    upsert: async (kind, id, value, options) => {
      checkWrite(kind, id, options);
      return ops.upsert(kind, id, value, options);
    },
    update: async (kind, id, version, value, options) => {
      if (options?.owner !== undefined && !isStorableKey(options.owner)) throw new InvalidStorageKeyError('owner', kind, options.owner);
      return isStorableKey(id) ? ops.update(kind, id, version, value, options) : Promise.resolve(false);
    },
    consume: (kind, id) => (isStorableKey(id) ? ops.consume(kind, id) : Promise.resolve(undefined)),
    destroy: (kind, id) => (isStorableKey(id) ? ops.destroy(kind, id) : Promise.resolve(false)),
    increment: async (kind, id, by, expiresAt) => {
      checkWrite(kind, id, undefined);
      if (!Number.isSafeInteger(by)) throw new TypeError(`increment of ${kind} ${id} by ${by}: not an integer`);
      return ops.increment(kind, id, by, expiresAt);
    },
    destroyByOwner: (kind, owner) => (isStorableKey(owner) ? ops.destroyByOwner(kind, owner) : Promise.resolve(0)),
    count: (kind) => ops.count(kind),
  };
}
