/** In-process storage: for tests and single-instance demos. Lost on restart. */
import { InProcessStorage } from './in-process.js';
import { expiryMs } from './records.js';
import type { Clock, Kind, StoredRecord, WriteOptions } from './types.js';

interface Row {
  value: string;
  version: number;
  expiresAt: number | null;
  owner: string | null;
}

/** The rows a transaction changed, as they were before it, to put back on rollback. */
type Journal = Map<Map<string, Row>, Map<string, Row | undefined>>;

export class MemoryStorage extends InProcessStorage {
  readonly type = 'memory';
  private readonly kinds = new Map<Kind, Map<string, Row>>();
  private readonly now: Clock;
  private journal: Journal | undefined;

  constructor(now: Clock = Date.now) {
    super();
    this.now = now;
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

  protected override doCreate<T>(kind: Kind, id: string, value: T, options: WriteOptions = {}): boolean {
    if (this.live(kind, id)) return false;
    this.write(this.table(kind), id, { value: JSON.stringify(value), version: 1, expiresAt: expiryMs(options.expiresAt), owner: options.owner ?? null });
    return true;
  }

  protected override doFind<T>(kind: Kind, id: string): StoredRecord<T> | undefined {
    const row = this.live(kind, id);
    return row && { value: JSON.parse(row.value) as T, version: row.version, expiresAt: row.expiresAt };
  }

  protected override doUpsert<T>(kind: Kind, id: string, value: T, options: WriteOptions = {}): void {
    const prev = this.live(kind, id);
    this.write(this.table(kind), id, {
      value: JSON.stringify(value),
      version: (prev?.version ?? 0) + 1,
      expiresAt: expiryMs(options.expiresAt),
      owner: options.owner ?? prev?.owner ?? null,
    });
  }

  protected override doUpdate<T>(kind: Kind, id: string, version: number, value: T, options: WriteOptions = {}): boolean {
    const prev = this.live(kind, id);
    if (!prev || prev.version !== version) return false;
    this.write(this.table(kind), id, {
      value: JSON.stringify(value),
      version: version + 1,
      expiresAt: options.expiresAt === undefined ? prev.expiresAt : expiryMs(options.expiresAt),
      owner: options.owner ?? prev.owner,
    });
    return true;
  }

  protected override doConsume<T>(kind: Kind, id: string): T | undefined {
    const row = this.live(kind, id);
    if (!row) return undefined;
    this.write(this.table(kind), id, undefined);
    return JSON.parse(row.value) as T;
  }

  protected override doDestroy(kind: Kind, id: string): boolean {
    const t = this.table(kind);
    if (!t.has(id)) return false;
    this.write(t, id, undefined);
    return true;
  }

  protected override doIncrement(kind: Kind, id: string, by: number, expiresAt: number | null): number {
    const prev = this.live(kind, id);
    const n: unknown = prev && JSON.parse(prev.value);
    if (prev && Number.isSafeInteger(n)) {
      const next = Math.max(0, (n as number) + by);
      this.write(this.table(kind), id, { ...prev, value: JSON.stringify(next), version: prev.version + 1 });
      return next;
    }
    if (by <= 0) return 0;
    this.write(this.table(kind), id, { value: JSON.stringify(by), version: 1, expiresAt: expiryMs(expiresAt), owner: null });
    return by;
  }

  protected override doDestroyByOwner(kind: Kind, owner: string): number {
    const t = this.table(kind);
    const ids = [...t].filter(([, row]) => row.owner === owner).map(([id]) => id);
    for (const id of ids) this.write(t, id, undefined);
    return ids.length;
  }

  protected override doCount(kind: Kind): number {
    let n = 0;
    for (const id of [...this.table(kind).keys()]) if (this.live(kind, id)) n++;
    return n;
  }

  protected override async atomically<T>(fn: () => Promise<T>): Promise<T> {
    const journal: Journal = new Map();
    this.journal = journal;
    try {
      return await fn();
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
  }

  protected override doGc(): number {
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

  override async ping(): Promise<void> {}

  override async close(): Promise<void> {
    this.kinds.clear();
  }
}
