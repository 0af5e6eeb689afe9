/** In-process storage: for tests and single-instance demos. Lost on restart. */
import { Gate } from './gate.js';
import type { Clock, Kind, Storage, StorageOps, StoredRecord, WriteOptions } from './types.js';

interface Row {
  value: string;
  version: number;
  expiresAt: number | null;
  owner: string | null;
}

/** The rows a transaction changed, as they were before it, to put back on rollback. */
type Journal = Map<Map<string, Row>, Map<string, Row | undefined>>;

export class MemoryStorage implements Storage {
  readonly type = 'memory';
  private readonly kinds = new Map<Kind, Map<string, Row>>();
  private readonly now: Clock;
  private readonly gate = new Gate();
  private journal: Journal | undefined;
  /** The operations without the gate: what a transaction's callback gets. */
  private readonly ops: StorageOps;

  constructor(now: Clock = Date.now) {
    this.now = now;
    this.ops = {
      create: async (kind, id, value, options) => this.doCreate(kind, id, value, options),
      find: async (kind, id) => this.doFind(kind, id),
      upsert: async (kind, id, value, options) => this.doUpsert(kind, id, value, options),
      update: async (kind, id, version, value, options) => this.doUpdate(kind, id, version, value, options),
      consume: async (kind, id) => this.doConsume(kind, id),
      destroy: async (kind, id) => this.doDestroy(kind, id),
      destroyByOwner: async (kind, owner) => this.doDestroyByOwner(kind, owner),
      count: async (kind) => this.doCount(kind),
    };
  }

  private table(kind: Kind): Map<string, Row> {
    let t = this.kinds.get(kind);
    if (!t) this.kinds.set(kind, (t = new Map()));
    return t;
  }

  /** Every change goes through here, so a transaction can undo it. */
  private write(t: Map<string, Row>, id: string, row: Row | undefined): void {
    if (this.journal) {
      let before = this.journal.get(t);
      if (!before) this.journal.set(t, (before = new Map()));
      if (!before.has(id)) before.set(id, t.get(id));
    }
    if (row) t.set(id, row);
    else t.delete(id);
  }

  private live(kind: Kind, id: string): Row | undefined {
    const t = this.table(kind);
    const row = t.get(id);
    if (row && row.expiresAt !== null && row.expiresAt <= this.now()) {
      this.write(t, id, undefined);
      return undefined;
    }
    return row;
  }

  private doCreate<T>(kind: Kind, id: string, value: T, options: WriteOptions = {}): boolean {
    if (this.live(kind, id)) return false;
    this.write(this.table(kind), id, { value: JSON.stringify(value), version: 1, expiresAt: options.expiresAt ?? null, owner: options.owner ?? null });
    return true;
  }

  private doFind<T>(kind: Kind, id: string): StoredRecord<T> | undefined {
    const row = this.live(kind, id);
    return row && { value: JSON.parse(row.value) as T, version: row.version, expiresAt: row.expiresAt };
  }

  private doUpsert<T>(kind: Kind, id: string, value: T, options: WriteOptions = {}): void {
    const prev = this.live(kind, id);
    this.write(this.table(kind), id, {
      value: JSON.stringify(value),
      version: (prev?.version ?? 0) + 1,
      expiresAt: options.expiresAt ?? null,
      owner: options.owner ?? prev?.owner ?? null,
    });
  }

  private doUpdate<T>(kind: Kind, id: string, version: number, value: T, options: WriteOptions = {}): boolean {
    const prev = this.live(kind, id);
    if (!prev || prev.version !== version) return false;
    this.write(this.table(kind), id, {
      value: JSON.stringify(value),
      version: version + 1,
      expiresAt: options.expiresAt === undefined ? prev.expiresAt : options.expiresAt,
      owner: options.owner ?? prev.owner,
    });
    return true;
  }

  private doConsume<T>(kind: Kind, id: string): T | undefined {
    const row = this.live(kind, id);
    if (!row) return undefined;
    this.write(this.table(kind), id, undefined);
    return JSON.parse(row.value) as T;
  }

  private doDestroy(kind: Kind, id: string): boolean {
    const t = this.table(kind);
    if (!t.has(id)) return false;
    this.write(t, id, undefined);
    return true;
  }

  private doDestroyByOwner(kind: Kind, owner: string): number {
    const t = this.table(kind);
    const ids = [...t].filter(([, row]) => row.owner === owner).map(([id]) => id);
    for (const id of ids) this.write(t, id, undefined);
    return ids.length;
  }

  private doCount(kind: Kind): number {
    let n = 0;
    for (const id of [...this.table(kind).keys()]) if (this.live(kind, id)) n++;
    return n;
  }

  async create<T>(kind: Kind, id: string, value: T, options?: WriteOptions): Promise<boolean> {
    while (this.gate.pending) await this.gate.pending;
    return this.doCreate(kind, id, value, options);
  }

  async find<T>(kind: Kind, id: string): Promise<StoredRecord<T> | undefined> {
    while (this.gate.pending) await this.gate.pending;
    return this.doFind<T>(kind, id);
  }

  async upsert<T>(kind: Kind, id: string, value: T, options?: WriteOptions): Promise<void> {
    while (this.gate.pending) await this.gate.pending;
    this.doUpsert(kind, id, value, options);
  }

  async update<T>(kind: Kind, id: string, version: number, value: T, options?: WriteOptions): Promise<boolean> {
    while (this.gate.pending) await this.gate.pending;
    return this.doUpdate(kind, id, version, value, options);
  }

  async consume<T>(kind: Kind, id: string): Promise<T | undefined> {
    while (this.gate.pending) await this.gate.pending;
    return this.doConsume<T>(kind, id);
  }

  async destroy(kind: Kind, id: string): Promise<boolean> {
    while (this.gate.pending) await this.gate.pending;
    return this.doDestroy(kind, id);
  }

  async destroyByOwner(kind: Kind, owner: string): Promise<number> {
    while (this.gate.pending) await this.gate.pending;
    return this.doDestroyByOwner(kind, owner);
  }

  async count(kind: Kind): Promise<number> {
    while (this.gate.pending) await this.gate.pending;
    return this.doCount(kind);
  }

  async transaction<T>(fn: (tx: StorageOps) => Promise<T>): Promise<T> {
    return this.gate.exclusive(async () => {
      const journal: Journal = new Map();
      this.journal = journal;
      try {
        return await fn(this.ops);
      } catch (err) {
        this.journal = undefined;
        for (const [t, before] of journal) {
          for (const [id, row] of before) {
            if (row) t.set(id, row);
            else t.delete(id);
          }
        }
        throw err;
      } finally {
        this.journal = undefined;
      }
    });
  }

  async gc(): Promise<number> {
    while (this.gate.pending) await this.gate.pending;
    const now = this.now();
    let n = 0;
    for (const t of this.kinds.values()) {
      for (const [id, row] of t) {
        if (row.expiresAt !== null && row.expiresAt <= now) {
          t.delete(id);
          n++;
        }
      }
    }
    return n;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.kinds.clear();
  }
}
