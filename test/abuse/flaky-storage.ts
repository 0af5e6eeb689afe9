/**
 * A storage that fails on demand, around the memory backend: `down` (every operation fails, as
 * a database that went away) or `flapping` (a share of operations fail, as a database dropping
 * connections), with StorageUnavailableError as the real backends report an outage. Operations
 * inside a transaction fail too, so a transaction can break halfway and must roll back.
 */
import { StorageUnavailableError } from '../../lib/errors.js';
import { openStorage, type Clock, type Kind, type Storage, type StorageOps } from '../../lib/storage/index.js';

export type StorageMode = 'up' | 'down' | 'flapping';

const OPS = ['create', 'find', 'upsert', 'update', 'consume', 'destroy', 'increment', 'destroyByOwner', 'count'] as const;

export class FlakyStorage {
  mode: StorageMode = 'up';
  /** Share of operations that fail while `flapping`. */
  flapRate = 0.3;
  failures = 0;
  /** When set, only operations on these kinds fail. */
  onlyKinds: Set<Kind> | undefined;
  /** When set, only these operations fail (`destroy`, `update`...). */
  onlyOps: Set<string> | undefined;
  readonly storage: Storage;

  private constructor(private readonly inner: Storage) {
    const wrapOps = (ops: StorageOps): StorageOps => {
      const out = {} as Record<string, unknown>;
      for (const name of OPS) {
        const fn = ops[name].bind(ops) as (...args: unknown[]) => Promise<unknown>;
        out[name] = async (...args: unknown[]) => {
          this.check(args[0] as Kind, name);
          return fn(...args);
        };
      }
      return out as unknown as StorageOps;
    };
    this.storage = {
      ...wrapOps(inner),
      type: inner.type,
      transaction: async (fn) => {
        this.check();
        return inner.transaction((tx) => fn(wrapOps(tx)));
      },
      gc: () => inner.gc(),
      ping: async () => {
        this.check();
        await inner.ping();
      },
      close: () => inner.close(),
    };
  }

  static async open(now: Clock = Date.now): Promise<FlakyStorage> {
    return new FlakyStorage(await openStorage({ type: 'memory', config: {} }, now));
  }

  private check(kind?: Kind, op?: string): void {
    if (kind !== undefined && this.onlyKinds && !this.onlyKinds.has(kind)) return;
    if (op !== undefined && this.onlyOps && !this.onlyOps.has(op)) return;
    if (this.mode === 'down' || (this.mode === 'flapping' && Math.random() < this.flapRate)) {
      this.failures++;
      throw new StorageUnavailableError('the database is unavailable (test)');
    }
  }
}
