/**
 * The part the in-process backends (memory, SQLite) share: each implements its operations
 * synchronously (`do...`) and how to run a transaction; this class makes them the async
 * `Storage` interface, with the gate that keeps plain operations out of a running transaction.
 */
import { Gate } from './gate.js';
import { withKeyRule } from './records.js';
import type { Kind, Storage, StorageOps, StoredRecord, WriteOptions } from './types.js';

export abstract class InProcessStorage implements Storage {
  abstract readonly type: string;
  private readonly gate = new Gate();
  /** The operations without the gate (what a transaction's callback gets), under the key rule of every backend. */
  private readonly ops: StorageOps = withKeyRule({
    create: async (kind, id, value, options) => this.doCreate(kind, id, value, options),
    find: async (kind, id) => this.doFind(kind, id),
    upsert: async (kind, id, value, options) => this.doUpsert(kind, id, value, options),
    update: async (kind, id, version, value, options) => this.doUpdate(kind, id, version, value, options),
    consume: async (kind, id) => this.doConsume(kind, id),
    destroy: async (kind, id) => this.doDestroy(kind, id),
    increment: async (kind, id, by, expiresAt) => this.doIncrement(kind, id, by, expiresAt),
    destroyByOwner: async (kind, owner) => this.doDestroyByOwner(kind, owner),
    count: async (kind) => this.doCount(kind),
  });

  protected abstract doCreate<T>(kind: Kind, id: string, value: T, options?: WriteOptions): boolean;
  protected abstract doFind<T>(kind: Kind, id: string): StoredRecord<T> | undefined;
  protected abstract doUpsert<T>(kind: Kind, id: string, value: T, options?: WriteOptions): void;
  protected abstract doUpdate<T>(kind: Kind, id: string, version: number, value: T, options?: WriteOptions): boolean;
  protected abstract doConsume<T>(kind: Kind, id: string): T | undefined;
  protected abstract doDestroy(kind: Kind, id: string): boolean;
  protected abstract doIncrement(kind: Kind, id: string, by: number, expiresAt: number | null): number;
  protected abstract doDestroyByOwner(kind: Kind, owner: string): number;
  protected abstract doCount(kind: Kind): number;
  protected abstract doGc(): number;
  /** Runs `fn` as one transaction of the backend: all its writes, or none if it throws. */
  protected abstract atomically<T>(fn: () => Promise<T>): Promise<T>;
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;

  // Each operation waits only while a transaction runs; otherwise it runs without yielding
  // (`ops` and the key rule call the synchronous `do...` at once).
  async create<T>(kind: Kind, id: string, value: T, options?: WriteOptions): Promise<boolean> {
    while (this.gate.pending) await this.gate.pending;
    return this.ops.create(kind, id, value, options);
  }

  async find<T>(kind: Kind, id: string): Promise<StoredRecord<T> | undefined> {
    while (this.gate.pending) await this.gate.pending;
    return this.ops.find(kind, id);
  }

  async upsert<T>(kind: Kind, id: string, value: T, options?: WriteOptions): Promise<void> {
    while (this.gate.pending) await this.gate.pending;
    return this.ops.upsert(kind, id, value, options);
  }

  async update<T>(kind: Kind, id: string, version: number, value: T, options?: WriteOptions): Promise<boolean> {
    while (this.gate.pending) await this.gate.pending;
    return this.ops.update(kind, id, version, value, options);
  }

  async consume<T>(kind: Kind, id: string): Promise<T | undefined> {
    while (this.gate.pending) await this.gate.pending;
    return this.ops.consume(kind, id);
  }

  async destroy(kind: Kind, id: string): Promise<boolean> {
    while (this.gate.pending) await this.gate.pending;
    return this.ops.destroy(kind, id);
  }

  async increment(kind: Kind, id: string, by: number, expiresAt: number | null): Promise<number> {
    while (this.gate.pending) await this.gate.pending;
    return this.ops.increment(kind, id, by, expiresAt);
  }

  async destroyByOwner(kind: Kind, owner: string): Promise<number> {
    while (this.gate.pending) await this.gate.pending;
    return this.ops.destroyByOwner(kind, owner);
  }

  async count(kind: Kind): Promise<number> {
    while (this.gate.pending) await this.gate.pending;
    return this.ops.count(kind);
  }

  async gc(): Promise<number> {
    while (this.gate.pending) await this.gate.pending;
    return this.doGc();
  }

  async transaction<T>(fn: (tx: StorageOps) => Promise<T>): Promise<T> {
    return this.gate.exclusive(() => this.atomically(() => fn(this.ops)));
  }
}
