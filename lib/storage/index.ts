/**
 * Opens the backend named by `storage.type`. A backend's driver (`better-sqlite3`, `pg`) is
 * imported when that backend is opened, so a broker on SQLite never loads `pg` (about 13 MB of
 * resident memory) and one in memory loads neither.
 */
import { ConfigError } from '../errors.js';
import type { Settings } from '../config/settings.js';
import { MemoryStorage } from './memory.js';
import type { Clock, Storage } from './types.js';

export type { Storage, StorageOps, Kind, StoredRecord, WriteOptions, Clock } from './types.js';

/** The backends this package brings, by `storage.type`. */
export const builtInStorageTypes = ['memory', 'sqlite3', 'postgres'] as const;

const isBuiltIn = (type: string) => (builtInStorageTypes as readonly string[]).includes(type);

/** Backends contributed outside this file, by storage type. */
const extraBackends = new Map<string, (config: Record<string, unknown>, now: Clock) => Promise<Storage>>();

/**
 * Makes `storage.type: <type>` in a config open the storage `open(config, now)` returns, where
 * `config` is the config's `storage.config` ($VAR expanded, `{}` when absent) and `now` the
 * broker's clock. Register before the config is loaded; a built-in type cannot be replaced.
 * The contract a backend must meet is in lib/storage/README.md, and `dexpress/storage-conformance`
 * tests it.
 */
export function registerStorageBackend(type: string, open: (config: Record<string, unknown>, now: Clock) => Promise<Storage>): void {
  if (isBuiltIn(type)) throw new TypeError(`storage type "${type}" is built in and cannot be replaced`);
  extraBackends.set(type, open);
}

/** Whether `storage.type` may be `type`: a built-in backend, or one registered. */
export function isStorageType(type: string): boolean {
  return isBuiltIn(type) || extraBackends.has(type);
}

export async function openStorage(storage: Settings['storage'], now: Clock = Date.now): Promise<Storage> {
  switch (storage.type) {
    case 'memory':
      return new MemoryStorage(now);
    case 'sqlite3': {
      const { SqliteStorage } = await import('./sqlite.js');
      return new SqliteStorage(String(storage.config.file), now);
    }
    case 'postgres': {
      const { PostgresStorage } = await import('./postgres.js');
      return PostgresStorage.open(storage.config, now);
    }
    default: {
      const open = extraBackends.get(storage.type);
      if (!open) throw new ConfigError([{ path: 'storage.type', message: `storage type "${storage.type}" is not available` }]);
      return open(storage.config, now);
    }
  }
}
