/** Opens the backend named by `storage.type`. */
import { ConfigError } from '../errors.js';
import type { Settings } from '../config/settings.js';
import { MemoryStorage } from './memory.js';
import { PostgresStorage } from './postgres.js';
import { SqliteStorage } from './sqlite.js';
import type { Clock, Storage } from './types.js';

export type { Storage, StorageOps, Kind, StoredRecord, WriteOptions, Clock } from './types.js';

/** Backends contributed outside this file (PostgreSQL), by storage type. */
const extraBackends = new Map<string, (config: Record<string, unknown>, now: Clock) => Promise<Storage>>();

export function registerStorageBackend(type: string, open: (config: Record<string, unknown>, now: Clock) => Promise<Storage>): void {
  extraBackends.set(type, open);
}

export async function openStorage(storage: Settings['storage'], now: Clock = Date.now): Promise<Storage> {
  switch (storage.type) {
    case 'memory':
      return new MemoryStorage(now);
    case 'sqlite3':
      return new SqliteStorage(String(storage.config.file), now);
    case 'postgres':
      return PostgresStorage.open(storage.config, now);
    default: {
      const open = extraBackends.get(storage.type);
      if (!open) throw new ConfigError([{ path: 'storage.type', message: `storage type "${storage.type}" is not available` }]);
      return open(storage.config, now);
    }
  }
}
