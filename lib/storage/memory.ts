/** In-process storage: for tests and single-instance demos. Lost on restart. */
import type { Clock, Kind, Storage, StoredRecord, WriteOptions } from './types.js';

interface Row {
  value: string;
  version: number;
  expiresAt: number | null;
  owner: string | null;
}

export class MemoryStorage implements Storage {
  readonly type = 'memory';
  private readonly kinds = new Map<Kind, Map<string, Row>>();
  private readonly now: Clock;

  constructor(now: Clock = Date.now) {
    this.now = now;
  }

  private table(kind: Kind): Map<string, Row> {
    let t = this.kinds.get(kind);
    if (!t) this.kinds.set(kind, (t = new Map()));
    return t;
  }

  private live(kind: Kind, id: string): Row | undefined {
    const row = this.table(kind).get(id);
    if (row && row.expiresAt !== null && row.expiresAt <= this.now()) {
      this.table(kind).delete(id);
      return undefined;
    }
    return row;
  }

  async create<T>(kind: Kind, id: string, value: T, options: WriteOptions = {}): Promise<boolean> {
    if (this.live(kind, id)) return false;
    this.table(kind).set(id, { value: JSON.stringify(value), version: 1, expiresAt: options.expiresAt ?? null, owner: options.owner ?? null });
    return true;
  }

  async find<T>(kind: Kind, id: string): Promise<StoredRecord<T> | undefined> {
    const row = this.live(kind, id);
    return row && { value: JSON.parse(row.value) as T, version: row.version, expiresAt: row.expiresAt };
  }

  async upsert<T>(kind: Kind, id: string, value: T, options: WriteOptions = {}): Promise<void> {
    const prev = this.live(kind, id);
    this.table(kind).set(id, {
      value: JSON.stringify(value),
      version: (prev?.version ?? 0) + 1,
      expiresAt: options.expiresAt ?? null,
      owner: options.owner ?? prev?.owner ?? null,
    });
  }

  async update<T>(kind: Kind, id: string, version: number, value: T, options: WriteOptions = {}): Promise<boolean> {
    const prev = this.live(kind, id);
    if (!prev || prev.version !== version) return false;
    this.table(kind).set(id, {
      value: JSON.stringify(value),
      version: version + 1,
      expiresAt: options.expiresAt === undefined ? prev.expiresAt : options.expiresAt,
      owner: options.owner ?? prev.owner,
    });
    return true;
  }

  async consume<T>(kind: Kind, id: string): Promise<T | undefined> {
    const row = this.live(kind, id);
    if (!row) return undefined;
    this.table(kind).delete(id);
    return JSON.parse(row.value) as T;
  }

  async destroy(kind: Kind, id: string): Promise<boolean> {
    return this.table(kind).delete(id);
  }

  async destroyByOwner(kind: Kind, owner: string): Promise<number> {
    let n = 0;
    for (const [id, row] of this.table(kind)) {
      if (row.owner === owner) {
        this.table(kind).delete(id);
        n++;
      }
    }
    return n;
  }

  async count(kind: Kind): Promise<number> {
    let n = 0;
    for (const id of this.table(kind).keys()) if (this.live(kind, id)) n++;
    return n;
  }

  async gc(): Promise<number> {
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
