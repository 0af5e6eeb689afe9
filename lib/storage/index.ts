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

/** Backends contributed outside this file, by storage type. */
const extraBackends = new Map<string, (config: Record<string, unknown>, now: Clock) => Promise<Storage>>();

export function registerStorageBackend(type: string, open: (config: Record<string, unknown>, now: Clock) => Promise<Storage>): void {
  extraBackends.set(type, open);
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
